"""`selfclone review` through a real pseudo-terminal: an edit becomes a training example and a preference pair."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect

from selfclone.dataset.preferences import pairs_from_store
from selfclone.persona.conversations import save_conversation

SELFCLONE = str(Path(sys.executable).parent / "selfclone")


def test_a_review_session_turns_an_edit_into_a_training_example(ws):
    with ws.store() as store:
        save_conversation(store, "ft:smollm2-135m:maggie:r1", "chat", [
            {"role": "system", "content": "You are Maggie."},
            {"role": "user", "content": "how do you take your tea?"},
            {"role": "assistant", "content": "I prefer coffee, actually."},
            {"role": "user", "content": "and the bees?"},
            {"role": "assistant", "content": "calm today. — over."},
            {"role": "user", "content": "any fridge?"},
            {"role": "assistant", "content": "my big fridge hums all night."}])
    child = pexpect.spawn(SELFCLONE, ["review"], cwd=str(ws.root), encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    child.expect("I prefer coffee")
    child.expect(r"\(q\)uit>")
    child.sendline("e")
    child.expect("what you would say>")
    child.sendline("stewed five minutes, milk after. — over.")
    child.expect("calm today")
    child.expect(r"\(q\)uit>")
    child.sendline("k")
    child.expect("big fridge")
    child.expect(r"\(q\)uit>")
    child.sendline("r")
    child.expect("what you would have said")
    child.sendline("")
    child.expect("kept 1, edited 1, rejected 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with ws.store() as store:
        examples = [json.loads(r[0]) for r in store.db.execute(
            "select messages_json from examples where source = 'review' order by id")]
        assert examples[0] == [{"role": "system", "content": "You are Maggie."},
                               {"role": "user", "content": "how do you take your tea?"},
                               {"role": "assistant", "content": "stewed five minutes, milk after. — over."}]
        assert examples[1][-1]["content"] == "calm today. — over." and len(examples[1]) == 5
        assert len(examples) == 2                        # the rejected reply trains nothing
        [pair] = pairs_from_store(store)
        assert pair.chosen.startswith("stewed") and pair.rejected == "I prefer coffee, actually."
        verdicts = [r[0] for r in store.db.execute("select verdict from reviews order by turn")]
        assert verdicts == ["edit", "keep", "reject"]
    again = pexpect.spawn(SELFCLONE, ["review"], cwd=str(ws.root), encoding="utf-8", timeout=60)
    again.expect("kept 0, edited 0, rejected 0")         # nothing left to review
    again.expect(pexpect.EOF)
