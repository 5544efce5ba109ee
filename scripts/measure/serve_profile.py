"""Where the time goes when N official-SDK clients stream from the API (docs/BENCHMARKS.md, issue #10): the
durations of llama_decode and the gaps between them, the CPU of the server's threads and of the client processes,
first the engine alone (bench serve's engine_ceiling), then 1 and N clients through HTTP:
`GOMP_SPINCOUNT=5000 .venv/bin/python scripts/measure/serve_profile.py 8 64 16` (clients, tokens, requests)."""
import os, sys, time, resource, statistics, glob
import llama_cpp
from selfclone.bench import serve as bs
from selfclone.config import GenerationOptions, ServeSettings
from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool

N = int(sys.argv[1]) if len(sys.argv) > 1 else 8
TOK = int(sys.argv[2]) if len(sys.argv) > 2 else 64
REQ = int(sys.argv[3]) if len(sys.argv) > 3 else 16
opts = sys.argv[4].split(",") if len(sys.argv) > 4 else ["slots=16", "n_ctx=512", "threads=2"]
log = []
real = llama_cpp.llama_decode
def timed(ctx, batch):
    t = time.perf_counter(); r = real(ctx, batch); log.append((t, time.perf_counter(), batch.n_tokens)); return r
llama_cpp.llama_decode = timed

def threads():
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    for p in glob.glob(f"/proc/{os.getpid()}/task/*/stat"):
        s = open(p).read(); name = s[s.index("(")+1:s.rindex(")")]; f = s[s.rindex(")")+2:].split()
        out[p.split("/")[4]] = (name, (int(f[11]) + int(f[12])) / tck)
    return out

def proc_cpu(pids):
    tck = os.sysconf("SC_CLK_TCK"); tot = 0
    for p in pids:
        f = open(f"/proc/{p}/stat").read(); f = f[f.rindex(")")+2:].split(); tot += (int(f[11]) + int(f[12])) / tck
    return tot

def run(url, model, clients, requests, max_tokens):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(clients, mp_context=multiprocessing.get_context("spawn"), initializer=bs._connect,
                             initargs=(url,)) as pool:
        started = set()
        while len(started) < clients:
            started |= set(pool.map(bs._ready, [0.2] * clients))
        pids = list(pool._processes)
        before = threads(); c0 = proc_cpu(pids)
        start = time.perf_counter()
        rows = list(pool.map(bs._remote_one, [model] * requests, range(requests), [max_tokens] * requests))
        end = time.perf_counter()
        after = threads(); c1 = proc_cpu(pids)
    wall = end - start
    print(f"  {clients} clients: {sum(r['tokens'] for r in rows)/wall:.1f} tok/s, wall {wall:.2f}s, ttft p95 {bs._pct([r['ttft'] for r in rows], .95):.2f}")
    summary(f"  API {clients}", start, end)
    agg = sum(cpu - before.get(tid, (n, 0))[1] for tid, (n, cpu) in after.items())
    import threading, collections
    names = {str(t.native_id): t.name.split("-")[0] if "(" not in t.name else t.name.split(" ")[0] for t in threading.enumerate()}
    per = collections.Counter()
    for tid, (n, cpu) in after.items():
        per[names.get(tid, "native:" + tid)] += cpu - before.get(tid, (n, 0))[1]
    print("  per thread:", {k: f"{v/wall:.0%}" for k, v in per.most_common(12) if v/wall > 0.005})
    print(f"  server process CPU {agg/wall:.0%} of wall; client processes CPU {(c1-c0)/wall:.0%}")

def summary(tag, t0, t1):
    rows = [r for r in log if r[0] >= t0 and r[1] <= t1]
    d = [b - a for a, b, _ in rows]; gaps = [rows[i+1][0] - rows[i][1] for i in range(len(rows)-1)]
    toks = [n for *_, n in rows]
    print(f"{tag}: {len(rows)} decodes in {t1-t0:.2f}s; decode ms median {statistics.median(d)*1e3:.1f} mean {statistics.mean(d)*1e3:.1f}; "
          f"gap ms median {statistics.median(gaps)*1e3:.2f} mean {statistics.mean(gaps)*1e3:.2f} p95 {sorted(gaps)[int(.95*len(gaps))]*1e3:.2f}; "
          f"busy {sum(d)/(t1-t0):.0%}; tokens/decode mean {statistics.mean(toks):.1f}")

def main():
    pool = ModelPool(ServeSettings(), backend="llamacpp", backend_options=opts, served=("smollm2-135m",))
    loaded = pool.get("smollm2-135m")
    print(loaded.backend.options)
    t0 = time.perf_counter(); c = bs.engine_ceiling(loaded.backend, sizes=(1, N), tokens=TOK); t1 = time.perf_counter()
    print("engine alone", c)
    summary("engine alone (1 then N)", t0, t1)
    import openai
    with bs._server(create_app(pool, generation=GenerationOptions(max_tokens=TOK))) as url:
        client = openai.OpenAI(base_url=url, api_key="b", max_retries=0)
        bs._one(client, "smollm2-135m", 0, 4)
        for clients in (1, N):
            run(url, "smollm2-135m", clients, REQ, TOK)

if __name__ == '__main__':
    main()
