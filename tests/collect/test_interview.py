"""The interview: banks, the session rules, the export framing, and the real command driven through a pty.

    /work/main/.venv/bin/pytest -q tests/collect/test_interview.py
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from selfclone.config import GenerationOptions
from selfclone.persona.session import ChatSession
from selfclone.backends.registry import open_backend
from selfclone.collect.interview import (OPINION, SCENARIO, Interview, InterviewLog, Question, load_bank, merge,
                                         shipped_bank, shuffled)
from selfclone.errors import DataError
from selfclone.workspace import Workspace

SELFCLONE = str(Path(sys.executable).with_name("selfclone"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def chat_framing(context: str | None, user: str) -> list[dict]:
    """What `selfclone chat --context` sends for a first message: the reference the export must match."""
    return ChatSession(open_backend("echo", "echo"), GenerationOptions(), context=context).messages_for(user)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


# -- banks ---------------------------------------------------------------------------------------------------

def test_shipped_bank_is_large_varied_and_without_duplicates():
    bank = shipped_bank()
    opinions = [q for q in bank if q.kind == OPINION]
    scenarios = [q for q in bank if q.kind == SCENARIO]
    assert len(opinions) >= 320 and len(scenarios) >= 120
    assert len({q.id for q in bank}) == len(bank)
    assert len({q.text.lower() for q in opinions}) == len(opinions)
    assert all(q.text.strip() and (q.context or "").strip() == (q.context or "") for q in bank)
    assert "What did you want to be when you were ten?" in {q.text for q in opinions}
    assert any(q.context == "At the doctor's office." and q.text == "So, what brings you in today?"
               for q in scenarios)


def test_custom_banks_merge_without_duplicates_and_keep_the_order(tmp_path):
    opinions = write(tmp_path / "mine.csv", "\ufeffQuestion,notes,,\n"
                     '"Tea, coffee, or neither?",from a friend,,\n'
                     "What did you want to be when you were ten?,dup of a shipped one,,\n"
                     "\n"
                     '"What\'s a word that sounds\n  like its meaning?",,,\n')
    scenes = write(tmp_path / "scenes.csv", "utterance,context\nWhat'll it be?,At a bar in Lisbon.\n")
    shipped = shipped_bank()
    mine = load_bank(opinions)
    assert [(q.text, q.context, q.source) for q in mine] == [
        ("Tea, coffee, or neither?", None, "mine.csv"),
        ("What did you want to be when you were ten?", None, "mine.csv"),
        ("What's a word that sounds like its meaning?", None, "mine.csv")]
    merged = merge(shipped, mine, load_bank(scenes))
    assert len(merged) == len(shipped) + 3           # the duplicate is dropped, the shipped copy kept
    assert Question("What'll it be?", "At a bar in Lisbon.").id in {q.id for q in merged}
    # a bank added later interleaves its questions but does not reorder the others
    assert [q for q in shuffled(merged, 7) if q.source == "shipped"] == shuffled(shipped, 7)
    assert shuffled(shipped, 7) != shuffled(shipped, 8)
    assert {q.kind for q in merge(shipped, mine, kinds=[SCENARIO])} == {SCENARIO}


@pytest.mark.parametrize("text, line, field, words", [
    ("question\nfine\nWell, what now?\n", 3, None, "2 field(s) but the header has 1"),
    ('question\n"never closed\nnext\n', 2, None, "never closes"),
    ("prompt,reply\nhi,there\n", 1, "header", "no 'question' column"),
    ("context,utterance\nAt the bank.,Next!\n  ,Hello?\n", 3, "context", "'context' cell is empty"),
    ("question\n", None, None, "no questions"),
    ("", None, None, "empty"),
])
def test_a_broken_bank_names_the_file_and_line(tmp_path, text, line, field, words):
    path = write(tmp_path / "broken.csv", text)
    with pytest.raises(DataError) as err:
        load_bank(path)
    assert (err.value.path, err.value.line, err.value.field) == (path, line, field)
    assert words in err.value.message and str(path) in err.value.message and err.value.hint


def test_a_bank_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("question\nfine\nCafé or bar?\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.csv, line 3: not UTF-8"):
        load_bank(path)


# -- the session rules ---------------------------------------------------------------------------------------

SMALL = [Question("One?"), Question("Two?"), Question("Hi, how can I help?", "At the bank."), Question("Four?")]


def test_answer_skip_back_and_redo_are_saved_at_once(ws):
    with ws.store() as store:
        session = Interview(InterviewLog(store), SMALL, target=10)
        order = shuffled(SMALL, InterviewLog(store).seed())
        assert session.respond("back").kind == "no-back"
        assert session.respond("   ").kind == "empty"
        assert session.respond("first answer").question == order[0]
        assert session.respond("SKIP").question == order[1]
        assert session.respond("third answer").question == order[2]
        # back, back: the answer before the last; skip keeps it; back then an answer replaces the last one
        assert session.respond("back").question == order[2]
        assert session.current().previous == "third answer"
        assert session.respond("/back").question == order[0]
        assert session.respond("skip").kind == "kept"
        assert session.current().question == order[3]
        assert session.respond("back").question == order[2]
        assert session.respond("third, redone").kind == "redone"
        assert session.current().question == order[3]
        rows = store.db.execute("select question_id, answer from interview_answers order by id").fetchall()
    assert [tuple(r) for r in rows] == [(order[0].id, "first answer"), (order[1].id, None),
                                        (order[2].id, "third, redone")]


def test_skipped_questions_return_only_when_the_bank_runs_out(ws):
    with ws.store() as store:
        session = Interview(InterviewLog(store), SMALL, target=10)
        for word in ("a", "skip", "skip", "b"):
            session.respond(word)
        assert session.current() is None                      # skipped in this session: not asked again now
    with ws.store() as store:
        session = Interview(InterviewLog(store), SMALL, target=10)
        order = shuffled(SMALL, InterviewLog(store).seed())
        assert session.current().question == order[1]       # a new session asks them again, in order
        session.respond("late answer")
        assert session.respond("back").question == order[1]  # answered last, so `back` finds it
        session.respond("skip")
        assert session.current().question == order[2]
        assert [a.answer for a in InterviewLog(store).answers()] == ["a", "b", "late answer"]


def test_the_session_stops_at_the_target(ws):
    with ws.store() as store:
        session = Interview(InterviewLog(store), SMALL, target=2)
        session.respond("x")
        session.respond("y")
        assert session.reached_target and session.current() is None
        assert session.respond("back").kind == "back"       # the last answer can still be redone
        with pytest.raises(DataError, match="target"):
            Interview(InterviewLog(store), SMALL, target=0)


def test_export_uses_the_chat_framing(tmp_path):
    ws = Workspace.init(tmp_path / "ws", person="Ana", system="You are Ana. Reply as Ana would.")
    with ws.store() as store:
        log = InterviewLog(store)
        log.save(SMALL[0], "opinion answer")
        log.save(SMALL[2], "scenario answer")
        log.save(SMALL[1], None)
        examples = log.examples(system=ws.config.system)
    assert [e.prompt() for e in examples] == [chat_framing("You are Ana. Reply as Ana would.", "One?"),
                                              chat_framing("At the bank.", "Hi, how can I help?")]
    assert [e.reply() for e in examples] == ["opinion answer", "scenario answer"]
    assert Question("One?").prompt(None) == chat_framing(None, "One?") == [{"role": "user", "content": "One?"}]


# -- the real command through a pseudo-terminal ----------------------------------------------------------------

def spawn(ws: Workspace, *args: str) -> pexpect.spawn:
    return pexpect.spawn(SELFCLONE, ["interview", *args], cwd=str(ws.root), env=dict(os.environ, COLUMNS="200"),
                         encoding="utf-8", dimensions=(50, 200), timeout=60)


def shown(child: pexpect.spawn) -> tuple[Question, str]:
    """Wait for the answer prompt; return the question on screen and the screen text since the last prompt."""
    child.expect(r"\n> ")
    screen = ANSI.sub("", child.before).replace("\r", "")
    lines = screen.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("They say: "):
            return Question(lines[i][len("They say: "):], lines[i - 1][len("Scene: "):]), screen
        if lines[i].startswith("Q: "):
            return Question(lines[i][len("Q: "):]), screen
    raise AssertionError(f"no question on screen:\n{screen}")


def store_rows(ws: Workspace) -> dict[str, str | None]:
    with ws.store() as store:
        return {r[0]: r[1] for r in store.db.execute("select question_id, answer from interview_answers")}


def export(ws: Workspace, out: Path) -> list[dict]:
    done = subprocess.run([SELFCLONE, "interview", "export", "--out", str(out)], cwd=ws.root,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_pty_session_survives_kill_and_resumes(ws, tmp_path):
    child = spawn(ws)
    q1, screen = shown(child)
    assert "0/500 answers" in screen and "skip · back · quit" in screen
    assert f"{len(shipped_bank())} not asked yet" in screen
    child.sendline("alpha answer")
    q2, _ = shown(child)
    child.sendline("skip")
    q3, screen = shown(child)
    assert "skipped" in screen
    child.sendline("bravo answer")
    q4, screen = shown(child)
    assert "2/500 answers" in screen
    child.sendline("back")
    again, screen = shown(child)
    assert again == q3 and "Your answer was: bravo answer" in screen
    child.sendline("bravo redone")
    again, screen = shown(child)
    assert again == q4 and "answer replaced" in screen
    child.sendline("back")
    shown(child)
    child.sendline("back")
    again, screen = shown(child)
    assert again == q1 and "Your answer was: alpha answer" in screen
    child.sendline("skip")
    again, screen = shown(child)
    assert again == q4 and "kept your earlier answer" in screen
    child.sendline("charlie answer")
    q5, _ = shown(child)
    child.send("half an answ")                                 # typed, not sent: then the process dies
    child.kill(signal.SIGKILL)
    child.close()
    assert child.signalstatus == signal.SIGKILL
    expected = {q1.id: "alpha answer", q2.id: None, q3.id: "bravo redone", q4.id: "charlie answer"}
    assert store_rows(ws) == expected

    child = spawn(ws)
    resumed, screen = shown(child)
    assert resumed == q5 and "3/500 answers" in screen and "3 answered so far" in screen
    child.sendline("delta answer")
    q6, _ = shown(child)
    child.sendeof()                                              # Ctrl-D quits safely
    child.expect("Saved: 4 answers")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert store_rows(ws) == expected | {q5.id: "delta answer"}

    with ws.store() as store:                                    # the workspace's seeded order, no repeats
        assert [q1, q2, q3, q4, q5, q6] == shuffled(shipped_bank(), InterviewLog(store).seed())[:6]
    assert len({q.id for q in (q1, q2, q3, q4, q5, q6)}) == 6
    rows = export(ws, tmp_path / "out.jsonl")
    assert [r["messages"] for r in rows] == [chat_framing(q.context, q.text) + [{"role": "assistant", "content": a}]
                                             for q, a in ((q1, "alpha answer"), (q3, "bravo redone"),
                                                          (q4, "charlie answer"), (q5, "delta answer"))]


def test_pty_custom_bank_ctrl_c_and_target(ws, tmp_path):
    bank = write(tmp_path / "mine.csv", "question\nRed or blue?\nCats or dogs?\nSea or hills?\n")
    child = spawn(ws, "--no-shipped", "--bank", str(bank), "--target", "2")
    first, screen = shown(child)
    assert "3 questions in the bank (3 from --bank)" in screen
    child.sendline("skip")
    second, _ = shown(child)
    child.sendintr()                                             # Ctrl-C quits safely
    child.expect("Saved: 0 answers")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    child = spawn(ws, "--no-shipped", "--bank", str(bank), "--target", "2")
    assert shown(child)[0] == second
    child.sendline("answer two")
    third, _ = shown(child)
    assert third not in (first, second)
    child.sendline("answer three")
    child.expect("Target reached")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert [r["messages"][-1]["content"] for r in export(ws, tmp_path / "o.jsonl")] == ["answer two", "answer three"]


def test_cli_reports_a_broken_bank_with_its_line(ws, tmp_path):
    bank = write(tmp_path / "broken.csv", "question\nfine\nWell, what now?\n")
    done = subprocess.run([SELFCLONE, "interview", "--bank", str(bank)], cwd=ws.root, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, COLUMNS="200"))
    assert done.returncode == 2
    assert "broken.csv, line 3" in done.stderr and "double quotes" in done.stderr
    with ws.store() as store:
        assert store.db.execute("select count(*) from interview_answers").fetchone()[0] == 0
