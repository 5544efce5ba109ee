"""`selfclone synth`: the template grid, a teacher Backend, rows saved as they arrive, and stopped runs resumed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selfclone.config import GenerationOptions
from selfclone.backends.registry import open_backend
from selfclone.collect import synth
from selfclone.dataset.chat import read_examples
from selfclone.errors import ConfigError, DataError

TEMPLATE = """
repeats = 2

[variables]
topic = ["tea", "bees", "the ferry"]
mood = ["glad", "tired"]

[teacher]
system = "You write short text messages."
instruction = "Maggie keeps bees on an island. She is {mood}. Write her text about {topic}."
max_tokens = 8
temperature = 1.0
seed = 3

[example]
system = "You are Maggie."
prompt = "what about {topic}?"
"""


@pytest.fixture
def template(tmp_path) -> synth.Template:
    path = tmp_path / "maggie.toml"
    path.write_text(TEMPLATE)
    return synth.Template.load(path)


def keys(path: Path) -> list[str]:
    if path.suffix == ".csv":
        import csv

        return [r["synth_key"] for r in csv.DictReader(path.open(encoding="utf-8"))]
    return [json.loads(line)["synth_key"] for line in path.read_text().splitlines()]


def test_grid_messages_and_stored_example(template, tmp_path):
    cells = list(template.cells())
    assert template.size() == len(cells) == 12 and len({c.key for c in cells}) == 12
    assert cells[0].key == "mood=glad|topic=tea#1" and cells[1].repeat == 2
    assert template.messages(cells[0]) == [
        {"role": "system", "content": "You write short text messages."},
        {"role": "user", "content": "Maggie keeps bees on an island. She is glad. Write her text about tea."}]
    a, b = (template.options(GenerationOptions(), c) for c in cells[:2])
    assert a.max_tokens == 8 and a.temperature == 1.0 and a.seed != b.seed
    assert template.options(GenerationOptions(), cells[0], {"max_tokens": 20}).max_tokens == 20
    echo = open_backend("echo", "echo")
    out = tmp_path / "rows.jsonl"
    synth.run(template, echo, out, limit=1)
    row = json.loads(out.read_text())
    assert row["messages"] == [{"role": "system", "content": "You are Maggie."},
                               {"role": "user", "content": "what about tea?"},
                               {"role": "assistant", "content": "echo: Maggie keeps bees on an island. She is glad. "
                                                                "Write her text about tea. #0"}]


@pytest.mark.parametrize("text,message", [
    ("[teacher]\ninstruction='x {who}'\n[example]\nprompt='y'\n", "uses {who}, which is not a variable"),
    ("[variables]\na=[]\n[teacher]\ninstruction='x'\n[example]\nprompt='y'\n", "variables.a must be a non-empty list"),
    ("[teacher]\ninstruction='x'\n", "[example] needs a `prompt`"),
    ("[teacher]\ninstruction='x'\ntemp=1\n[example]\nprompt='y'\n", "unknown [teacher] setting(s) temp"),
    ("repeats = 0\n[teacher]\ninstruction='x'\n[example]\nprompt='y'\n", "repeats must be a whole number"),
])
def test_bad_templates(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        synth.Template.load(path)
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_example_template_loads():
    from selfclone.collect.synth_commands import _template_path

    template = synth.Template.load(_template_path("example"))
    assert template.size() == 4 * 5 * 2 * 2 and "Ravi" in template.instruction


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_interrupted_run_resumes_without_duplicates(template, tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    echo = open_backend("echo", "echo")

    def stop_after_three(cell, answer, result):
        if result.written == 3:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        synth.run(template, echo, out, on_row=stop_after_three)
    assert len(keys(out)) == 3
    result = synth.run(template, echo, out)
    assert (result.done_before, result.written) == (3, 9)
    assert keys(out) == [c.key for c in template.cells()]
    assert synth.run(template, echo, out).written == 0


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_half_written_last_row_is_dropped(template, tmp_path, suffix):
    out = tmp_path / f"rows{suffix}"
    echo = open_backend("echo", "echo")
    synth.run(template, echo, out, limit=2)
    with out.open("a") as fh:
        fh.write('{"messages": [{"role": "user", "cont' if suffix == ".jsonl" else '"what about bees?","half an ans')
    assert synth.RowFile(out, template).keys == set(keys(out)) and len(keys(out)) == 2
    synth.run(template, echo, out)
    assert keys(out) == [c.key for c in template.cells()]


def test_outputs_are_ready_for_prepare(template, tmp_path):
    from selfclone.dataset.validate import PrepareSettings, accept_lossless, prepare

    echo = open_backend("echo", "echo")          # it ignores the seed: both repeats of a cell are equal
    for name in ("rows.jsonl", "rows.csv"):
        synth.run(template, echo, tmp_path / name)
        prep = prepare(tmp_path / name, PrepareSettings(throughput_file=tmp_path / "none.json"),
                       decide=accept_lossless)
        assert prep.complete and not prep.blocking
        assert len(prep.train) == 12 and prep.train[0].messages[-2].content == "what about tea?"
        assert [f.rows for f in prep.findings if f.check == "exact_duplicates"][0] == \
            [3, 5, 7, 9, 11, 13] if name.endswith(".csv") else [2, 4, 6, 8, 10, 12]


def test_foreign_output_file_is_refused(template, tmp_path):
    out = tmp_path / "mine.jsonl"
    out.write_text('{"messages": []}\n')
    with pytest.raises(DataError, match="not a synth row"):
        synth.run(template, open_backend("echo", "echo"), out)
    with pytest.raises(DataError, match=r"\.jsonl \(chat format\) or \.csv"):
        synth.RowFile(tmp_path / "x.txt", template)


def test_real_model_teacher_stopped_with_ctrl_c_and_resumed(template, tiny_model_dir, tmp_path):
    """A live transformers Backend (a tiny Llama with the real tokenizer), interrupted by SIGINT mid-run."""
    big = tmp_path / "big.toml"
    big.write_text(TEMPLATE.replace('mood = ["glad", "tired"]', 'mood = ["glad", "tired", "calm", "busy", "wet"]'))
    out = tmp_path / "rows.jsonl"
    cmd = [sys.executable, "-m", "selfclone.cli", "synth", str(big), "--out", str(out), "--model", str(tiny_model_dir)]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 1):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    done = keys(out)
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output
    assert 1 <= len(done) < 30
    resumed = synth.run(synth.Template.load(big), open_backend(str(tiny_model_dir)), out, limit=2)
    assert (resumed.done_before, resumed.written) == (len(done), 2)
    cells = [c.key for c in synth.Template.load(big).cells()]
    assert keys(out) == cells[:len(done) + 2]                     # no duplicate, no gap
    assert all(e.reply().strip() for e in read_examples(out))


@pytest.mark.slow
def test_embedded_model_as_teacher(template, tmp_path):
    teacher = open_backend("smollm2-135m")
    out = tmp_path / "rows.jsonl"

    def stop(cell, answer, result):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        synth.run(template, teacher, out, on_row=stop)
    result = synth.run(template, teacher, out, limit=2)
    assert (result.done_before, result.written) == (1, 2)
    rows = read_examples(out)
    assert keys(out) == [c.key for c in template.cells()][:3]
    assert all(e.reply() and e.reply() != "what about tea?" for e in rows)


def test_empty_answers_are_asked_again_with_another_seed(template, tmp_path):
    class Shy:
        """A Backend whose first answer for a cell is empty."""

        name = "shy"

        def __init__(self):
            self.seeds = []

        def chat(self, messages, options):
            yield from self.candidates(messages, options)

        def candidates(self, messages, options):
            self.seeds.append(options.seed)
            return ["  " if len(self.seeds) % 2 else "second try"]

    shy = Shy()
    result = synth.run(template, shy, tmp_path / "rows.jsonl", limit=2)
    assert (result.written, result.empty) == (2, 0)
    assert shy.seeds[0] != shy.seeds[1] and len(shy.seeds) == 4
    assert [e.reply() for e in read_examples(tmp_path / "rows.jsonl")] == ["second try", "second try"]


def test_synth_command_resumes(template, tmp_path, capsys):
    from selfclone.cli import main

    out = tmp_path / "rows.csv"
    args = ["synth", str(template.path), "--out", str(out), "--backend", "echo", "--model", "echo"]
    assert main(args + ["--limit", "5"]) == 0
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "5 already in" in printed and "wrote 7 rows" in printed
    assert keys(out) == [c.key for c in template.cells()]
    assert main(args) == 0 and "nothing to do" in capsys.readouterr().out
