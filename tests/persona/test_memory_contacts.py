"""Summary memory beyond the window, memory per contact, and the relationship frame in training and at talk time."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfclone.backends.transformers_backend import TransformersBackend
from selfclone.config import GenerationOptions
from selfclone.dataset.chat import read_examples
from selfclone.persona.memory import fold, summary_request
from selfclone.persona.session import ChatSession

WHATSAPP = str(Path(__file__).parent.parent / "fixtures" / "whatsapp" / "android_12h_us.txt")


class Parrot:
    """A Backend that answers with a fixed word (the conversation side)."""

    name = "parrot"

    def chat(self, messages, options):
        yield "aye."

    def candidates(self, messages, options):
        return ["aye."] * options.n


class Minutes:
    """An honest deterministic summariser: it keeps every line it is given (the summary so far, each turn)."""

    name = "minutes"

    def chat(self, messages, options):
        for line in messages[-1]["content"].splitlines():
            yield line.removeprefix("Summary so far: ") + " "

    def candidates(self, messages, options):
        return ["".join(self.chat(messages, options))] * options.n



def test_the_summary_keeps_a_fact_from_beyond_the_window():
    session = ChatSession(Parrot(), GenerationOptions(), context="You are Maggie.", memory=1, summariser=Minutes())
    for text in ("my cat is called Pimento", "it rained all day", "the ferry was late"):
        "".join(session.send(text))
    messages = session.messages_for("what is my cat called?")
    window = [m["content"] for m in messages[1:]]
    assert window == ["the ferry was late", "aye.", "what is my cat called?"]      # the cat left the window
    assert "Earlier in this conversation:" in messages[0]["content"] and "Pimento" in messages[0]["content"]
    session.reset()
    assert session.summary == "" and "Pimento" not in (session.messages_for("hi")[0]["content"])


def test_the_embedded_model_summarises_a_fact(embedded):
    backend = TransformersBackend("smollm2-135m", loaded=embedded)
    turns = [{"role": "user", "content": "My cat is called Pimento and she is ginger."},
             {"role": "assistant", "content": "What a lovely name."}]
    assert summary_request("", turns)[1]["content"].startswith("user: My cat")
    assert "Pimento" in fold(backend, "", turns)


def test_memories_per_contact_reach_the_frame(cli, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert cli("memory", "add", "Lowen", "has a ginger cat called Pimento")[0] == 0
    code, out, _ = cli("memory", "show", "Lowen")
    assert "Pimento" in out and "[manual]" in out
    code, out, _ = cli("ask", "echo", "hello", "--json", "--backend", "echo", "--context", "You are Maggie.",
                       "--with", "Lowen")
    system = json.loads(out)["messages"][0]["content"]
    assert system == ("You are Maggie.\n\nYou are talking to: Lowen.\n\n"
                      "What you remember about them: has a ginger cat called Pimento")
    assert cli("memory", "forget", "Lowen")[0] == 0
    code, _, err = cli("memory", "forget", "Lowen")
    assert code == 2 and "no memory 'Lowen'" in err


def test_the_relationship_frame_is_identical_in_training_and_at_talk_time(cli, ws, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ws.root)
    assert cli("import", "whatsapp", WHATSAPP, "--me", "Maggie")[0] == 0
    code, out, _ = cli("contacts", "list")
    assert code == 0 and "1 contacts" in out
    pseudonym = out.splitlines()[0].split("  ")[0].strip()
    with ws.store() as store:
        real = {r[0] for r in store.db.execute("select sender from messages where is_me = 0 and kind != 'system'")}
    assert pseudonym not in real
    assert cli("contacts", "label", pseudonym, "close friend")[0] == 0
    framed = tmp_path / "framed.jsonl"
    assert cli("contacts", "examples", str(framed))[0] == 0
    examples = read_examples(framed)
    assert examples and all(e.messages[0].role == "system" for e in examples)
    trained = examples[0].messages[0].content
    assert "You are talking to: close friend." in trained and not any(name in trained for name in real)
    context = trained.split("\n\nYou are talking to:")[0] if not trained.startswith("You are talking") else None
    args = ["ask", "echo", "hi", "--json", "--backend", "echo", "--with", pseudonym, "--no-retrieve"]
    code, out, _ = cli(*args, *(["--context", context] if context else []))
    assert json.loads(out)["messages"][0]["content"] == trained
    code, out, _ = cli(*[a if a != pseudonym else "close friend" for a in args],
                       *(["--context", context] if context else []))
    assert json.loads(out)["messages"][0]["content"] == trained
    real_name = sorted(real)[0]
    code, out, _ = cli(*[a if a != pseudonym else real_name for a in args],
                       *(["--context", context] if context else []))
    assert real_name not in json.loads(out)["messages"][0]["content"]


@pytest.mark.slow
def test_chat_with_someone_keeps_a_memory_of_them(ws):
    import sys

    import pexpect

    selfclone = str(Path(sys.executable).parent / "selfclone")
    child = pexpect.spawn(selfclone, ["chat", "smollm2-135m", "--max-tokens", "8", "--temperature", "0", "--seed", "1", "--memory", "1",
                                      "--with", "Lowen", "--context", "You are Maggie."],
                          cwd=str(ws.root), encoding="utf-8", timeout=120, dimensions=(40, 200))
    for text in ("my cat is called Pimento", "the ferry was late"):
        child.expect("you>")
        child.sendline(text)
        child.expect("clone>")
    child.expect("you>")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with ws.store() as store:
        rows = store.db.execute("select contact, source from memories").fetchall()
        [conversation] = store.db.execute("select messages_json from conversations").fetchall()
    assert [tuple(r) for r in rows] == [("Lowen", "summary")]      # the clone's own summary of the conversation
    assert json.loads(conversation[0])[0]["content"] == "You are Maggie.\n\nYou are talking to: Lowen."
