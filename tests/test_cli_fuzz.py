"""Every command fed what a newcomer types by mistake: no traceback, a non-zero exit and a message, in-process.

The commands are walked from the Typer app itself, so a new command is fuzzed without editing this file. Nothing
here loads a model: every case fails while parsing or validating, before anything long starts.
"""
from __future__ import annotations

import json

import pytest
import typer

from selfclone.cli import app, main

ROOT = typer.main.get_command(app)


def leaf_commands(group=ROOT, path=()):
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command


LEAVES = list(leaf_commands())
IDS = [" ".join(p) for p, _ in LEAVES]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def assert_clean_failure(code, output, *expected):
    assert "Traceback" not in output, output
    assert code != 0 and output.strip(), output
    flat = " ".join(output.split())
    for text in expected:
        assert text in flat, flat


def required_placeholders(command) -> list[str]:
    """Values for the required arguments, so that a later option is what the parser trips on."""
    return ["x" for p in command.params if p.param_type_name == "argument" and p.required
            for _ in range(max(p.nargs, 1))]


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_unknown_flag_gets_usage_and_exit_2(path, command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = run(capsys, *path, "--no-such-flag")
    assert_clean_failure(code, output, "No such option: --no-such-flag", "Usage:")
    assert code == 2


@pytest.mark.parametrize(("path", "command"), [(p, c) for p, c in LEAVES
                                                if any(x.required for x in c.params)],
                         ids=[i for i, (_, c) in zip(IDS, LEAVES) if any(x.required for x in c.params)])
def test_missing_required_argument_gets_usage_and_exit_2(path, command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = run(capsys, *path)
    assert_clean_failure(code, output, "Usage:")
    assert code == 2


NUMERIC = [(path, command, p.opts[0]) for path, command in LEAVES for p in command.params
           if p.param_type_name == "option" and p.type_descriptor.annotation in (int, float)]


@pytest.mark.parametrize(("path", "command", "flag"), NUMERIC, ids=[f"{' '.join(p)} {f}" for p, _, f in NUMERIC])
def test_wrong_type_gets_usage_and_exit_2(path, command, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = run(capsys, *path, *required_placeholders(command), flag, "abc")
    assert_clean_failure(code, output, "Usage:")
    assert code == 2


def chat_file(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello there"}]}) + "\n")
    return data


TRAIN_NUMBERS = [("--learning-rate-multiplier", "nan", "learning_rate_multiplier must be a finite number"),
                 ("--learning-rate-multiplier", "inf", "learning_rate_multiplier must be a finite number"),
                 ("--learning-rate-multiplier", "-1", "--learning-rate-multiplier must be > 0"),
                 ("--max-steps", "0", "max_steps must be >= 1"),
                 ("--max-steps", "-1", "max_steps must be >= 1"),
                 ("--epochs", "-1", "--epochs must be > 0"),
                 ("--batch-size", "0", "--batch-size must be > 0")]


@pytest.mark.parametrize(("flag", "value", "message"), TRAIN_NUMBERS)
def test_train_numbers_out_of_range_fail_before_a_run_folder(flag, value, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = run(capsys, "train", chat_file(tmp_path), flag, value)
    assert_clean_failure(code, output, message)
    assert not (tmp_path / "runs").exists()


def test_train_unknown_model_leaves_no_run_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, output = run(capsys, "train", chat_file(tmp_path), "--model", "no-such-model")
    assert_clean_failure(code, output, "unknown model 'no-such-model'")
    assert not (tmp_path / "runs").exists()


TALK_NUMBERS = [("--temperature", "5", "temperature must be in [0, 2]"),
                ("--temperature", "nan", "temperature must be a finite number"),
                ("--top-p", "inf", "top_p must be a finite number"),
                ("--max-tokens", "10000000", "max_tokens must be between 1 and"),
                ("--max-tokens", "0", "max_tokens must be between 1 and"),
                ("--memory", "-1", "memory must be a whole number >= 0"),
                ("--no-repeat-ngram-size", "-1", "no_repeat_ngram_size must be >= 0"),
                ("--n", "1000", "n must be between 1 and 128")]


@pytest.mark.parametrize("command", ["ask", "chat"])
@pytest.mark.parametrize(("flag", "value", "message"), TALK_NUMBERS)
def test_talk_numbers_out_of_range(command, flag, value, message, capsys, tmp_path, monkeypatch):
    if command == "chat" and flag == "--n":
        pytest.skip("chat has no --n")
    monkeypatch.chdir(tmp_path)
    text = ["hi"] if command == "ask" else []
    code, output = run(capsys, command, "smollm2-135m", *text, flag, value)
    assert_clean_failure(code, output, message)


def test_directories_where_files_belong(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    for argv in (["train", folder], ["prepare", folder], ["train", chat_file(tmp_path), "--validation", folder]):
        code, output = run(capsys, *argv)
        assert_clean_failure(code, output, str(folder))
        assert "file not found" not in output


def test_init_on_bad_paths(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "a-file"
    existing.write_text("x")
    for target in (existing, "/proc/nope"):
        code, output = run(capsys, "init", target)
        assert_clean_failure(code, output, str(target))


def test_unwritable_outputs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("# a note\n\nsome words of mine, long enough to count as a post of my own.\n")
    code, output = run(capsys, "import", "markdown", notes, "--out", "/proc/x.jsonl")
    assert_clean_failure(code, output, "/proc/x.jsonl")
    code, output = run(capsys, "prepare", chat_file(tmp_path), "--out", "/proc/nope/x.jsonl", "--quiet")
    assert_clean_failure(code, output, "/proc/nope")
