"""The notes index at scale, for `selfclone bench recall --scale N`: indexing speed and retrieval latency per
message on an index of N passages, against same-run baselines.

The index is built once through the real path (`NotesIndex.add`: passages, binary codes, float vectors, FTS5) in
a folder kept between runs (`--scale-dir`, default /tmp/selfclone-recall-scale). Its texts are synthetic messages
of 4 to 24 English words drawn with Zipf frequencies (so BM25 meets common and rare words as in real chats). The
first `real` of them are embedded by MiniLM, timed: that is the indexing speed; the rest reuse those vectors with
small noise, renormalised (embedding all of them takes minutes on 2 cores and only latency is measured on them).

Per query (a synthetic message, its embedding included): the hybrid retrieval as a ChatSession gets it, its parts,
and the baselines over the same vectors: exact float KNN in a sqlite-vec `vec0` table (the index's earlier design),
numpy brute force (exact), and LanceDB (flat, exact; optional: skipped when `lancedb` is not installed).
recall@10 of the binary-code search with rescoring is measured against the exact neighbours.

    selfclone bench recall --scale 100000 --index-messages 2000
"""
from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path

from ..embedding import embed
from ..persona.index import NotesIndex, _connect
from ..persona.retrieval import Retriever

DEFAULT_DIR = Path("/tmp/selfclone-recall-scale")
VOCABULARY = 30_000


def synthetic_messages(n: int, seed: int = 0) -> list[str]:
    """Messages of 4 to 24 English words, Zipf-distributed (short words most frequent)."""
    from english_words import get_english_words_set

    words = sorted(w for w in get_english_words_set(["web2"], lower=True) if w.isalpha())
    words = sorted(random.Random(7).sample(words, VOCABULARY), key=len)
    weights = [1.0 / (rank + 10) for rank in range(len(words))]
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, weights, k=rng.randint(4, 24))).capitalize() + rng.choice(".?!")
            for _ in range(n)]


def build(folder: Path, total: int, real: int) -> dict:
    """The index of `total` passages in `folder` (reused when it is there with the same sizes); its build times."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    meta_path, path = folder / f"index-{total}-{real}.json", folder / f"notes-{total}-{real}.db"
    if meta_path.exists() and path.exists():
        return json.loads(meta_path.read_text()) | {"reused": True}
    path.unlink(missing_ok=True)
    texts = synthetic_messages(total)
    embed(["warm up: load the model"])
    start = time.perf_counter()
    vectors = embed(texts[:real], batch_size=128)
    embed_s = time.perf_counter() - start
    noise = np.random.default_rng(0).normal(0, 0.02, (total, vectors.shape[1])).astype("float32")
    pool = vectors[np.arange(total) % real] + noise
    pool[:real] = vectors
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    np.save(folder / f"vectors-{total}-{real}.npy", pool)
    done = [0]

    def vectors_of(batch):
        out = pool[done[0]:done[0] + len(batch)]
        done[0] += len(batch)
        return out

    with NotesIndex(path) as index:
        start = time.perf_counter()
        index.add("messages/synthetic/all", "messages", "1", 0, iter(texts), vectors_of)
        insert_s = time.perf_counter() - start
    baseline = _connect(folder / f"vec0-{total}-{real}.db")   # the earlier design: float vectors in vec0
    with baseline:
        baseline.execute("create virtual table if not exists v using vec0(embedding float[384])")
        baseline.executemany("insert into v(rowid, embedding) values (?, ?)",
                             ((i + 1, pool[i].tobytes()) for i in range(total)))
    baseline.close()
    meta = {"passages": total, "embedded_messages": real, "embed_s": embed_s, "insert_s": insert_s,
            "db": str(path)}
    meta_path.write_text(json.dumps(meta))
    return meta | {"reused": False}


def _median_ms(function, queries) -> float:
    laps = []
    for q in queries:
        start = time.perf_counter()
        function(q)
        laps.append(time.perf_counter() - start)
    return statistics.median(laps) * 1000


def _lancedb(folder: Path, pool, vectors, k: int) -> dict | None:
    try:
        import lancedb
    except ImportError:
        return None
    db = lancedb.connect(str(folder / "lance"))
    name = f"v{len(pool)}"
    if name in db.list_tables().tables:
        table = db.open_table(name)
    else:
        import pyarrow as pa

        ids = pa.array(range(1, len(pool) + 1), pa.int64())
        table = db.create_table(name, pa.table({"id": ids, "vector": pa.FixedSizeListArray.from_arrays(
            pa.array(pool.reshape(-1)), pool.shape[1])}))
    found = {}
    latency = _median_ms(lambda i: found.__setitem__(i, table.search(vectors[i]).metric("cosine").limit(k)
                                                     .to_arrow()["id"].to_pylist()),
                         range(len(vectors)))
    return {"latency_ms": latency, "found": found}


def scale(total: int, real: int, folder: Path = DEFAULT_DIR, queries: int = 30, k: int = 10) -> dict:
    """Indexing and latency figures at `total` passages (see the module docstring)."""
    import numpy as np

    meta = build(folder, total, real)
    pool = np.load(folder / f"vectors-{total}-{real}.npy")
    asks = synthetic_messages(queries, seed=2)
    retriever = Retriever(Path(meta["db"]), k=3, hybrid=True)
    retriever.passages_for(asks[0])                      # warm: open the index, load the codes and the model
    index = retriever._index
    vectors = embed(asks)
    timed = synthetic_messages(min(real, 500), seed=3)     # embedding speed in this run, the model warm
    start = time.perf_counter()
    embed(timed, batch_size=128)
    rate = len(timed) / (time.perf_counter() - start)
    result = {"passages": total, "embedded_messages": len(timed), "index_reused": meta["reused"],
              "embed_msgs_per_s": rate, "insert_rows_per_s": total / meta["insert_s"],
              "index_100k_min": (100_000 / rate + meta["insert_s"] * 100_000 / total) / 60}
    result["latency_ms_hybrid"] = _median_ms(retriever.passages_for, asks)
    result["latency_ms_embed"] = _median_ms(lambda q: embed([q]), asks)
    result["latency_ms_vectors"] = _median_ms(lambda i: index.nearest(vectors[i], 20), range(queries))
    result["latency_ms_bm25"] = _median_ms(lambda q: index.matching(q, 20), asks)
    baseline = _connect(folder / f"vec0-{total}-{real}.db")
    result["latency_ms_vec0_float"] = _median_ms(lambda i: baseline.execute(
        "select rowid from v where embedding match ? and k = 20", (vectors[i].tobytes(),)).fetchall(), range(queries))
    result["latency_ms_numpy_exact"] = _median_ms(lambda i: np.argsort(-(pool @ vectors[i]))[:20], range(queries))
    exact = [set((np.argsort(-(pool @ v))[:k] + 1).tolist()) for v in vectors]
    ours = [set(index.nearest(v, k)) for v in vectors]
    result[f"recall_at_{k}_binary_rescored"] = float(np.mean([len(a & b) / k for a, b in zip(exact, ours)]))
    lance = _lancedb(folder, pool, vectors, k)
    if lance:
        result["latency_ms_lancedb_flat"] = lance["latency_ms"]
        result[f"recall_at_{k}_lancedb_flat"] = float(np.mean([len(exact[i] & set(ids)) / k
                                                               for i, ids in lance["found"].items()]))
    result["lancedb"] = "measured" if lance else "skipped: pip install lancedb==0.40.0 to compare"
    return result
