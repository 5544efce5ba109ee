"""The prepare reports (HTML and terminal) and the `selfclone prepare` command: -q, no terminal, and a real pty."""
from __future__ import annotations

import base64
import json
import random
import re
import subprocess
import sys

import pytest
from rich.console import Console

from selfclone.dataset import report
from selfclone.dataset.chat import read_examples
from selfclone.dataset.validate import PrepareSettings, accept_all, prepare


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


WORDS = "tide bread kettle harbour window ferry garden letter river candle market pocket ladder orange".split()


def rows_with_problems():
    rng = random.Random(5)

    def words(n):
        return " ".join(rng.choice(WORDS) for _ in range(n))
    rows = [{"prompt": f"{words(6)}?", "completion": words(9)} for _ in range(60)]
    rows[1]["prompt"] = "what about the <sea> & tides?"
    rows.append(dict(rows[0]))                           # a duplicate
    rows.append({"prompt": "x", "completion": "k"})      # a short reply
    return rows


@pytest.fixture
def prepared(counter, tmp_path):
    path = write_rows(tmp_path / "pairs.jsonl", rows_with_problems())
    return prepare(path, PrepareSettings(throughput_file=tmp_path / "none.json"), decide=accept_all, counter=counter)


def test_html_report_is_self_contained_and_lists_every_finding(prepared, tmp_path):
    out = report.write_html(prepared, tmp_path / "report.html", [tmp_path / "pairs_prepared_train.jsonl"])
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    assert "<script" not in page and not re.search(r'(src|href)="https?://', page)
    for finding in prepared.findings:
        assert f'<span class="check">{finding.check}</span>' in page
    assert page.count('class="finding ') == len(prepared.findings)
    assert "<sea>" not in page
    stats = prepared.stats["tokens"]
    assert f"<td>{stats['p50']:.0f}</td>" in page and f"<td>{stats['p95']:.0f}</td>" in page
    assert "pairs_prepared_train.jsonl" in page


def test_terminal_report(prepared, tmp_path):
    console = Console(record=True, width=140)
    for finding in prepared.findings:
        console.print(report.finding_line(finding))
    report.print_summary(prepared, console, [tmp_path / "x_prepared_train.jsonl"])
    text = console.export_text()
    assert "wrote" in text and "next: selfclone train" in text
    assert "There are 1 duplicated examples" in text and "[Applied] Remove 1 duplicate examples" in text
    assert "p50" in text and "tokens per example" in text
    assert f"{prepared.n_read} rows read" in text


def test_html_report_of_a_refused_file(counter, tmp_path):
    path = write_rows(tmp_path / "bad.jsonl", [{"prompt": "a", "completion": ["x"]}])
    prep = prepare(path, PrepareSettings(), decide=lambda f: False, counter=counter)
    page = report.render_html(prep)
    assert "Nothing was written" in page and "value_types" in page and "data:image/png" not in page


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "selfclone.cli", *args], capture_output=True, text=True,
                          timeout=180, **kw)


def test_prepare_cli_quiet_writes_files_and_html(tmp_path):
    path = write_rows(tmp_path / "pairs.jsonl", rows_with_problems())
    result = cli("prepare", str(path), "-q", "--out", str(tmp_path / "out"), "--html", str(tmp_path / "r.html"),
                 "--seed", "3", stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "[Recommended] Remove 1 duplicate examples applied" in result.stdout
    train = read_examples(tmp_path / "out_prepared_train.jsonl")
    valid = read_examples(tmp_path / "out_prepared_valid.jsonl")
    assert len(train) + len(valid) == 60 and len(valid) == 6          # duplicate and short reply removed
    assert (tmp_path / "r.html").exists()


def test_prepare_cli_without_a_terminal_applies_lossless_fixes_only(tmp_path):
    path = write_rows(tmp_path / "pairs.jsonl", rows_with_problems())
    result = cli("prepare", str(path), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "no terminal to ask on" in result.stdout
    assert "Remove 1 duplicate examples not applied (pass -q to accept)" in result.stdout
    kept = read_examples(tmp_path / "pairs_prepared_train.jsonl") + read_examples(tmp_path / "pairs_prepared_valid.jsonl")
    assert len(kept) == 62


def test_prepare_cli_refuses_bad_input_and_writes_nothing(tmp_path):
    path = tmp_path / "chats.xlsx"
    path.write_text("prompt,completion\nhi,ho\n")
    result = cli("prepare", str(path), "-q", stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "named .xlsx but its content looks like plain text" in result.stderr and "hint" in result.stderr
    bad = write_rows(tmp_path / "bad.jsonl", [{"prompt": "a", "completion": {"x": 1}}, {"prompt": "b", "completion": "c"}])
    result = cli("prepare", str(bad), stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "nothing written" in result.stderr and "line 1" not in result.stderr
    assert "rows 1" in result.stderr
    assert not list(tmp_path.glob("*prepared*"))


def test_prepare_cli_asks_on_a_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    path = write_rows(tmp_path / "pairs.jsonl", rows_with_problems())
    child = pexpect.spawn(sys.executable, ["-m", "selfclone.cli", "prepare", str(path)], cwd=str(tmp_path),
                          timeout=120, encoding="utf-8", dimensions=(50, 200))
    child.expect(r"Remove 1 duplicate examples.*\[y/n\]")
    child.sendline("n")                                  # keep the duplicate
    child.expect(r"Remove 1 examples with very short replies.*\[y/n\]")
    child.sendline("y")
    child.expect(r"hold out 6 of 61.*\[y/n\]")
    child.sendline("")                                   # the default: yes
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    kept = read_examples(tmp_path / "pairs_prepared_train.jsonl") + read_examples(tmp_path / "pairs_prepared_valid.jsonl")
    replies = [e.reply() for e in kept]
    assert len(kept) == 61 and "k" not in replies and replies.count(rows_with_problems()[0]["completion"].strip()) == 2
