"""The notes drill (persona/drill.py): invented facts in the talk-time notes frame, none of them the recall probe's,
and `selfclone train` adding them to the training split (never the validation split) when the workspace has notes,
with the person's own examples framed with their retrieved notes; on a tiny model, real steps."""
from __future__ import annotations

import json
import re

from selfclone.bench.recall import load_probe
from selfclone.dataset.chat import Example, read_examples, write_examples
from selfclone.persona.drill import CONTEXTS, POOLS, RELATIONS, drill
from selfclone.persona.frame import NOTES_HEADER
from selfclone.persona.index import NotesIndex
from selfclone.persona.retrieval import add_notes, notes_path


def passages(example) -> list[str]:
    notes = example.system.split(NOTES_HEADER + "\n", 1)[1]
    return [line[2:] for line in notes.splitlines()]


def test_every_answer_is_in_one_of_its_passages_in_the_talk_time_frame():
    examples = list(drill(60, context="You are Maggie.", seed=3))
    assert len(examples) == 60
    for e in examples:
        assert e.system.startswith("You are Maggie.\n\n" + NOTES_HEADER + "\n- ")
        assert [t.role for t in e.messages] == ["system", "user", "assistant"]
        fact = e.meta["fact"]
        assert fact in e.reply() and sum(fact in p for p in passages(e)) >= 1, e
    assert len({e.reply() for e in examples}) > 40        # not one fact over and over
    assert list(drill(5, seed=3)) == list(drill(5, seed=3)) != list(drill(5, seed=4))


def test_the_drill_shares_no_fact_or_question_with_the_recall_probe():
    probe = load_probe()
    answers = {a.casefold() for q in probe["questions"] for a in q["answers"]}
    questions = {q["q"].casefold() for q in probe["questions"]}
    asked = {q.casefold() for _, qs, _ in RELATIONS.values() for q in qs}
    assert not asked & questions
    words = [a for a in answers if not a.isdigit()]
    written = [t for templates in RELATIONS.values() for ts in templates for t in ts]
    written += [v for pool in POOLS.values() for v in pool] + list(CONTEXTS)
    for text in written + [" ".join(t.content for t in e.messages) for e in drill(400, seed=0)]:
        assert not [a for a in words if re.search(rf"\b{re.escape(a)}\b", text.casefold())], text
    assert len(RELATIONS) >= 20


def test_train_adds_the_drill_to_the_training_split_only(ws, tmp_path, cli, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(ws.root)
    data = tmp_path / "me.jsonl"
    write_examples(data, [Example.chat(("user", f"question {i}?"), ("assistant", f"answer {i}"), system="You are Maggie.")
                          for i in range(60)])
    code, out, err = cli("train", data, "--model", tiny_model_dir, "--max-steps", "1", "--report-to", "none",
                         "--out", tmp_path / "plain")
    assert code == 0, err
    assert "notes drill" not in out                  # auto: no notes in the workspace, no drill
    (tmp_path / "notes.md").write_text("My first hive came from my uncle Alf in 1994.\n")
    with NotesIndex(notes_path(ws.root)) as index:
        add_notes(index, [tmp_path / "notes.md"])
    assert "drill = 200" in ws.config_path.read_text()      # auto with notes: [notes] drill, 200 by default
    code, out, err = cli("train", data, "--model", tiny_model_dir, "--epochs", "1", "--batch-size", "64",
                         "--report-to", "none", "--out", tmp_path / "drilled")
    assert code == 0, err
    assert "notes drill: 200 examples" in " ".join(out.split())
    info = json.loads((tmp_path / "drilled" / "run.json").read_text())
    person = read_examples(tmp_path / "drilled" / "data" / "train.jsonl")
    drilled = read_examples(tmp_path / "drilled" / "data" / "drill.jsonl")
    valid = read_examples(tmp_path / "drilled" / "data" / "valid.jsonl")
    plain = read_examples(tmp_path / "plain" / "data" / "train.jsonl")
    assert info["notes_drill"] == len(drilled) == 200 and info["default_context"] == "You are Maggie."
    # the person's own examples (apart from the drill) carry their retrieved notes in the frame, as at talk time
    frame = "You are Maggie.\n\n" + NOTES_HEADER + "\n- "
    assert [e.messages[1:] for e in person] == [e.messages[1:] for e in plain] and info["notes_framed"]
    assert all(e.system.startswith(frame) and "uncle Alf" in e.system for e in person + valid)
    assert all(e.system.startswith(frame) and "uncle Alf" not in e.system for e in drilled)
    assert info["summary"]["steps"] == 4 and "+200 notes drill" in " ".join(out.split())    # (54 + 200) / 64
    code, out, err = cli("train", data, "--validation", data, "--model", tiny_model_dir, "--max-steps", "1",
                         "--report-to", "none", "--out", tmp_path / "given")
    assert code == 0, err        # a --validation file is framed with the notes too: validated as it is trained
    assert all(e.system.startswith(frame) for e in read_examples(tmp_path / "given" / "data" / "valid.jsonl"))
    code, out, err = cli("train", data, "--model", tiny_model_dir, "--max-steps", "1", "--report-to", "none",
                         "--notes-drill", "0", "--out", tmp_path / "off")
    assert code == 0 and "notes drill" not in out
    code, out, err = cli("train", data, "--notes-drill", "lots")
    assert code != 0 and "--notes-drill must be 'auto' or a whole number" in err


def test_notes_drill_command_writes_examples_in_the_workspace_prompt(ws, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(ws.root)
    code, out, err = cli("notes", "drill", tmp_path / "drill.jsonl", "--count", "7", "--context", "You are Ana.")
    assert code == 0, err
    examples = read_examples(tmp_path / "drill.jsonl")
    assert len(examples) == 7 and all(e.system.startswith("You are Ana.\n\n" + NOTES_HEADER) for e in examples)
