"""The notes index's binary-code search with exact rescoring (persona/index.py), through the real embedder."""
from __future__ import annotations

import numpy as np

from selfclone.embedding import embed
from selfclone.persona.index import NotesIndex, _connect, binary_codes

FACTS = ["The blue kettle is called Barnacle.", "My first hive came from my uncle Alf in 1994.",
         "The dinghy is moored at Skerry Point.", "I take my tea stewed for five minutes, milk after."]
FILLER = [f"Day {i}: the weather was {w} and the ferry ran {t}." for i, (w, t) in
          enumerate((w, t) for w in ("wet", "dry", "grey", "windy", "bright") for t in ("late", "early", "on time"))]


def test_codes_narrow_the_search_and_rescoring_keeps_it_exact(tmp_path):
    with NotesIndex(tmp_path / "notes.db", rescore=8) as index:     # 19 passages, 8 rescored: the codes choose
        index.add("filler.txt", "text", "1", 0, FILLER, embed)
        index.add("facts.md", "markdown", "1", 0, FACTS, embed)
        assert "Barnacle" in index.search("what is your kettle called?", 1, embed, hybrid=False)[0].text
        assert "uncle Alf" in index.search("where did the hive come from?", 1, embed, hybrid=False)[0].text
        vectors = embed(FILLER + FACTS)
        query = embed(["ferry timetable in bad weather"])[0]
        exact = (np.argsort(-(vectors @ query))[:3] + 1).tolist()
        assert index.nearest(query, 3)[0] == exact[0]               # the exact best survives the coarse step
        index.remove(["facts.md"])                                   # a change reloads the cached codes
        assert all("Barnacle" not in h.text for h in index.search("kettle Barnacle", 3, embed))
        index.add("kettle.md", "markdown", "2", 0, ["The kettle whistles like a gull."], embed)
        assert "gull" in index.search("what is your kettle like?", 1, embed, hybrid=False)[0].text
    codes = binary_codes(vectors)
    assert codes.shape == (len(vectors), 48) and codes.dtype == np.uint8


def test_an_index_with_vec0_vectors_is_upgraded(tmp_path):
    path = tmp_path / "notes.db"
    db = _connect(path)
    vector = embed(["The blue kettle is called Barnacle."])[0]
    with db:        # the layout written before binary codes: vectors in a sqlite-vec vec0 table
        db.execute("create table documents (id integer primary key, origin text not null unique, kind text not null, "
                   "digest text not null, bytes integer not null, passages integer not null, added_at text not null "
                   "default (datetime('now')));"
                   "create table passages (id integer primary key, document_id integer not null references "
                   "documents(id) on delete cascade, position integer not null, text text not null);"
                   "create virtual table passage_vectors using vec0(embedding float[384]);"
                   "create virtual table passage_words using fts5(text, tokenize='porter unicode61');"
                   "insert into documents values (1, 'kettle.md', 'markdown', 'd', 0, 1, datetime('now'));"
                   "insert into passages values (7, 1, 0, 'The blue kettle is called Barnacle.');"
                   "insert into passage_words(rowid, text) values (7, 'The blue kettle is called Barnacle.');")
        db.execute("insert into passage_vectors(rowid, embedding) values (7, ?)", (vector.tobytes(),))
    db.close()
    with NotesIndex(path) as index:
        sql = index.db.execute("select sql from sqlite_master where name = 'passage_vectors'").fetchone()[0]
        assert "vec0" not in sql
        [hit] = index.search("what is the kettle called?", 1, embed)
        assert hit.text.endswith("Barnacle.") and hit.origin == "kettle.md"


def test_bf16_embeddings_match_fp32_where_the_cpu_is_fast_at_bf16():
    """`embed` runs MiniLM under bf16 autocast on a bf16-fast CPU; its vectors stay within cosine 0.9999 of fp32's."""
    import pytest

    from selfclone import machine
    from selfclone.embedding import _model

    if not machine.fast_bf16():
        pytest.skip("this CPU is not fast at bf16: embed stays in fp32")
    texts = ["the bees are calm today", "Ferry's late again, bring the washing in", "aye", "What did the keeper write?"]
    fast = embed(texts)
    exact = _model().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    cosine = (fast * exact).sum(axis=1)
    assert cosine.min() > 0.9999 and not np.array_equal(fast, exact)     # bf16 really ran, and stayed close
