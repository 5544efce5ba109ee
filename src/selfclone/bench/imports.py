"""`selfclone bench import`: import speed and peak memory on generated exports, against merely reading the file.

    selfclone bench import                    # 1,000,000 messages each: WhatsApp .txt and Telegram JSON
    selfclone bench import --messages 50000   # a quick run

For each export, three measurements run in fresh subprocesses (so each peak RSS is its own):
  read      open the file and split it into lines, nothing else (the floor any importer pays)
  parse     the importer's streaming read into Message objects
  import    the whole `selfclone import`: parse, owner, store insert with dedupe, pairs, privacy, examples
Speed is messages per second; the ratio is parse (or import) speed over read speed in the same run.
"""
from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import typer

from .. import machine
from ..terminal import console

_WORDS = ("hey so what are you doing tonight lol ok sure sounds good see you later maybe tomorrow "
          "I think that is a great idea honestly no way haha did you see the game call me when you get home "
          "the train was late again can't wait for the weekend").split()
_EXTRAS = ("mail me at ana.souza@example.com", "my number is +1 415 555 0132",
           "see https://example.com/r?token=a1b2c3d4e5", "I'm at 221 Baker Street", "")


def _lines(n: int, seed: int = 7) -> Iterator[tuple[datetime, str, str, str]]:
    """(time, sender, text, kind) for a two-person chat with sessions, multi-line text, media and PII."""
    rng = random.Random(seed)
    when = datetime(2019, 1, 1, 8, 0)
    for _ in range(n):
        when += timedelta(seconds=rng.choice((20, 45, 90, 240, 600)) if rng.random() > 0.02 else 5 * 3600)
        sender = "Maggie" if rng.random() < 0.5 else "Ana Souza"
        roll = rng.random()
        if roll < 0.03:
            yield when, sender, "", "media"
            continue
        text = " ".join(rng.choices(_WORDS, k=rng.randint(2, 14)))
        if roll < 0.06:
            text += "\n" + " ".join(rng.choices(_WORDS, k=rng.randint(2, 8)))
        elif roll < 0.08:
            text += " " + rng.choice(_EXTRAS)
        yield when, sender, text, "text"


def write_whatsapp(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("01/01/19, 08:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even "
                 "WhatsApp, can read or listen to them. Tap to learn more.\n")
        for when, sender, text, kind in _lines(n - 1):
            body = "<Media omitted>" if kind == "media" else text
            fh.write(f"{when:%d/%m/%y, %H:%M} - {sender}: {body}\n")


_TG_MESSAGE = """  {{
   "id": {id},
   "type": "message",
   "date": "{date}",
   "date_unixtime": "{stamp}",
   "from": "{sender}",
   "from_id": "{sender_id}",{media}
   "text": {text},
   "text_entities": [
    {{
     "type": "plain",
     "text": {plain}
    }}
   ]
  }}"""
_TG_MEDIA = """
   "photo": "photos/photo_{id}.jpg",
   "width": 800,
   "height": 600,"""
_EPOCH = datetime(1970, 1, 1)


def write_telegram(path: Path, n: int) -> None:
    """One chat laid out as Telegram Desktop writes it (one-space indents, one key per line)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{\n "name": "Ana Souza",\n "type": "personal_chat",\n "id": 4242,\n "messages": [\n')
        for i, (when, sender, text, kind) in enumerate(_lines(n)):
            plain = json.dumps(text, ensure_ascii=False)
            if kind == "media":
                body = '""'
            elif i % 10 == 0:                  # text as a list of strings and entities
                body = f'[\n    {json.dumps(text + " ", ensure_ascii=False)},\n    {{\n     "type": "bold",\n' \
                       f'     "text": "really"\n    }}\n   ]'
            else:
                body = plain
            fh.write(("," if i else "") + "\n" * bool(i) + _TG_MESSAGE.format(
                id=i + 1, date=when.isoformat(), stamp=int((when - _EPOCH).total_seconds()), sender=sender,
                sender_id="user1" if sender == "Maggie" else "user2",
                media=_TG_MEDIA.format(id=i + 1) if kind == "media" else "", text=body, plain=plain))
        fh.write("\n ]\n}\n")


def measure(mode: str, fmt: str, path: Path) -> dict:
    """Run one measurement in this process (the benchmark calls it in a fresh subprocess)."""
    from ..config import CollectSettings
    from ..collect.importers import BUILTIN
    from ..collect.ingest import ImportJob, ingest
    from ..collect.owner import Owner

    importer = next(cls for cls in BUILTIN if cls.name == fmt)()
    start, cpu = time.perf_counter(), time.process_time()
    result: dict = {}
    if mode == "read":
        count = 0
        with open(path, encoding="utf-8") as fh:
            for _ in fh:
                count += 1
        result["lines"] = count
    elif mode == "parse":
        count = sum(1 for _ in importer.read(path, importer.Options()))
    else:
        from ..store import Store

        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            report = ingest(store, [ImportJob(importer, path, importer.Options())], CollectSettings(),
                            Owner(["Maggie"]))
        count = report.messages
        result["examples"] = report.examples
    result.update(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu, count=count,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def _subprocess(mode: str, fmt: str, path: Path) -> dict:
    code = ("import json, sys; from pathlib import Path; from selfclone.bench.imports import measure; "
            "print(json.dumps(measure(sys.argv[1], sys.argv[2], Path(sys.argv[3]))))")
    done = subprocess.run([sys.executable, "-c", code, mode, fmt, str(path)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark step {mode} {fmt} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])




def run_benchmark(n: int, keep: Path | None = None) -> Iterator[str]:
    """Generate, measure, and yield report lines (a Markdown table at the end)."""
    yield f"machine: {machine.describe()}"
    with tempfile.TemporaryDirectory(prefix="selfclone-bench-") as tmp:
        folder = Path(keep) if keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for fmt, writer, name in (("whatsapp", write_whatsapp, "WhatsApp Chat with Ana Souza.txt"),
                                  ("telegram", write_telegram, "result.json")):
            path = folder / name
            started = time.perf_counter()
            writer(path, n)
            size = path.stat().st_size / 1e6
            yield f"{fmt}: generated {n:,} messages, {size:,.1f} MB in {time.perf_counter() - started:.1f} s"
            read = _subprocess("read", fmt, path)
            for mode in ("parse", "import"):
                got = _subprocess(mode, fmt, path)
                rate = got["count"] / got["seconds"]
                ratio = read["seconds"] / got["seconds"]
                extra = f", {got['examples']:,} examples" if "examples" in got else ""
                yield (f"{fmt} {mode}: {got['count']:,} messages in {got['seconds']:.2f} s "
                       f"(CPU {got['cpu_seconds']:.2f} s) = {rate:,.0f} msg/s "
                       f"({ratio:.1%} of read+split speed, {read['seconds']:.2f} s); "
                       f"peak RSS {got['peak_rss_mb']:.0f} MB (read: {read['peak_rss_mb']:.0f} MB){extra}")
                rows.append((fmt, mode, got["count"], size, read["seconds"], got["seconds"], got["cpu_seconds"], rate,
                             ratio, got["peak_rss_mb"], read["peak_rss_mb"]))
    yield ""
    yield ("| export | step | messages | MB | read+split s | step s (CPU s) | msg/s | speed vs read "
           "| peak RSS MB (read) |")
    yield "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for fmt, mode, count, size, read_s, step_s, cpu_s, rate, ratio, rss, read_rss in rows:
        yield (f"| {fmt} | {mode} | {count:,} | {size:,.0f} | {read_s:.2f} | {step_s:.2f} ({cpu_s:.2f}) | {rate:,.0f} "
               f"| {ratio:.1%} | {rss:.0f} ({read_rss:.0f}) |")
    keys = ("export", "step", "messages", "mb", "read_s", "step_s", "cpu_s", "msg_per_s", "speed_vs_read",
            "peak_rss_mb", "read_peak_rss_mb")
    yield json.dumps({"benchmark": "import", "machine": machine.describe(), "rows": [dict(zip(keys, row)) for row in rows]})


def bench_import_cmd(messages: int = typer.Option(1_000_000, "--messages", help="messages per generated export"),
                     keep: Path = typer.Option(None, "--keep", help="generate the exports here and keep them")):
    """Import speed and peak memory on generated WhatsApp and Telegram exports, against reading the same file."""
    for line in run_benchmark(messages, keep):
        console.print(line, soft_wrap=True)        # table rows stay whole, for pasting into docs
