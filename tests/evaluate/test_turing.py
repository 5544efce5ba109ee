"""Turing sessions: Wilson intervals, answers saved as given, a real session through a pty, killed and resumed.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_turing.py
"""
from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pexpect
import pytest

from selfclone.cli import main
from selfclone.dataset.chat import write_examples
from selfclone.errors import ConfigError, DataError
from selfclone.evaluate.judgements import Estimate, Judgements, wilson
from selfclone.evaluate.turing import TuringGame, summary

SELFCLONE = str(Path(sys.executable).with_name("selfclone"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
ENV = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")


def test_wilson_interval_matches_known_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert str(Estimate(7, 20)) == "35% (7/20; 95% CI 18%-57%)"


def test_judgements_are_saved_per_kind_session_and_item(ws):
    with ws.store() as store:
        book = Judgements(store, "turing", "s")
        book.put("x", {"pick": None})
        book.put("x", {"pick": "a"})                   # an answer replaces the item's row, never duplicates it
        Judgements(store, "probe", "s").put("x", {"pick": "b"})
        assert book.items() == {"x": {"pick": "a"}}
        assert store.db.execute("select count(*) from judgements").fetchone()[0] == 2


def test_a_game_saves_items_first_then_each_answer_and_resumes(ws, demo_heldout, tiny_backend):
    from selfclone.config import GenerationOptions

    with ws.store() as store:
        game = TuringGame.open(store, "s1", model="tiny", judge_kind="stranger", heldout=demo_heldout, n=4)
        assert len(game.items()) == 4 and len(game.missing_replies()) == 4 and game.pending() == []
        game.generate(tiny_backend, GenerationOptions(max_tokens=4, seed=0))
        assert game.missing_replies() == [] and len(game.pending()) == 4
        key, item = game.pending()[0]
        assert set(game.sides(key).values()) == {item["real"], item["clone"]}
        assert game.answer(key, item["real_side"]) is True
        other = game.pending()[0][0]
        wrong = "b" if game.items()[other]["real_side"] == "a" else "a"
        assert game.answer(other, wrong) is False
    with ws.store() as store:                      # a new process: the same session, as it was left
        again = TuringGame.open(store, "s1", model="tiny", judge_kind="stranger", heldout=demo_heldout, n=4)
        assert len(again.pending()) == 2
        assert again.score() == Estimate(1, 2)
        sides = {again.items()[k]["real_side"] for k in again.items()}
        assert sides <= {"a", "b"}
        with pytest.raises(ConfigError, match="started with judge_kind 'stranger'"):
            TuringGame.open(store, "s1", model="tiny", judge_kind="acquaintance", heldout=demo_heldout, n=4)
        with pytest.raises(DataError, match="needs 9 held-out examples, but there are only 3"):
            TuringGame.open(store, "s2", model="tiny", judge_kind="stranger", heldout=demo_heldout[:3], n=9)
        rows = summary(store)
        assert rows[0]["session"] == "s1" and rows[0]["accuracy"] == Estimate(1, 2)


def test_turing_command_errors_are_clear(ws, demo_heldout, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.chdir(ws.root)
    write_examples(ws.data_dir / "heldout.jsonl", demo_heldout[:3])

    def error() -> str:
        return " ".join(capsys.readouterr().err.split())

    assert main(["turing", "--model", str(tiny_model_dir), "--n", "5"]) == 2
    err = error()
    assert "a Turing session of 5 items needs 5 held-out examples, but there are only 3" in err
    assert f"{ws.data_dir / 'heldout.jsonl'}:" in err     # named whole: errors are never hard-wrapped
    assert "pass --n 3 or fewer" in err
    assert main(["turing", "--model", "no-such-model"]) == 3
    assert "unknown model 'no-such-model'" in error()
    assert main(["turing", "--model", str(tiny_model_dir), "--judge-kind", "friend"]) == 2
    assert "stranger, acquaintance" in error()
    assert main(["turing", "--model", str(tiny_model_dir), "--heldout", "missing.jsonl"]) == 2
    assert "missing.jsonl: held-out file not found" in error()


def _spawn(ws, *args):
    return pexpect.spawn(SELFCLONE, ["turing", *args], cwd=str(ws.root), env=ENV, encoding="utf-8",
                         dimensions=(50, 200), timeout=120)


def _answered(ws, session):
    with ws.store() as store:
        return {k: v for k, v in Judgements(store, "turing", session).items().items() if v["pick"]}


@pytest.mark.slow
def test_a_session_through_a_terminal_survives_a_kill_and_resumes(ws, demo_heldout, tiny_model_dir):
    write_examples(ws.data_dir / "heldout.jsonl", demo_heldout[:5])
    args = ["--model", str(tiny_model_dir), "--n", "3", "--max-tokens", "4", "--session", "judge-1"]
    child = _spawn(ws, *args)
    child.expect("Hand the keyboard to the judge: someone who is not Maggie")
    child.expect(r"item 1 of 3")
    child.expect(r"Which reply is Maggie's real one\? \[a/b/q\]")
    shown = ANSI.sub("", child.before)
    with ws.store() as store:
        items = Judgements(store, "turing", "judge-1").items()
    first = next(iter(items.values()))
    assert first["context"][-1]["content"] in shown and first["real"] in shown      # the conversation, both replies
    child.sendline("maybe")
    child.expect("type one of: a, b, q")
    child.sendline("a")
    child.expect(r"item 2 of 3")
    child.expect(r"\[a/b/q\]")
    child.kill(signal.SIGKILL)                    # the judge's machine dies mid-session
    child.wait()
    assert list(_answered(ws, "judge-1").values())[0]["pick"] == "a"

    child = _spawn(ws, *args)
    child.expect("1 of 3 answered")
    child.expect(r"item 2 of 3")
    child.expect(r"\[a/b/q\]")
    child.sendline("b")
    child.expect(r"item 3 of 3")
    child.expect(r"\[a/b/q\]")
    child.sendline("a")
    child.expect(r"judge found the real reply:(?:\x1b\[[0-9;]*m)*\s+(\d+)% \((\d)/3")
    right = int(child.match.group(2))
    child.expect(pexpect.EOF)
    answered = _answered(ws, "judge-1")
    assert [v["pick"] for v in answered.values()] == ["a", "b", "a"]
    assert right == sum(v["pick"] == v["real_side"] for v in answered.values())
    # nothing left: running it again only prints the score
    child = _spawn(ws, *args)
    child.expect(r"judge found the real reply:")
    child.expect(pexpect.EOF)
