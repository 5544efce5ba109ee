"""`selfclone eval` on a `train --continue` round: the previous round beside it, held-out loss per relationship
with and without who in the frame, and with and without retrieved notes (real tiny clones, real index)."""
from __future__ import annotations

import json
import math

from selfclone.cli import main
from selfclone.dataset.chat import Example, write_examples
from selfclone.persona.frame import system_frame
from selfclone.train import methods, sft
from selfclone.train.settings import SFTSettings


def chats(n, reply, who=None):
    system = system_frame("You are Maggie.", talking_to=who)
    return [Example.chat(("user", f"question {i}?"), ("assistant", reply), system=system) for i in range(n)]


def test_eval_compares_a_round_with_its_parent_per_relationship_and_with_notes(ws, tiny_model_dir, monkeypatch,
                                                                               capsys, tmp_path):
    settings = SFTSettings(model=str(tiny_model_dir), batch_size=4, report_to=("none",), precision="fp32",
                           learning_rate_multiplier=50.0, max_steps=2)
    first = sft.prepare_run(chats(8, "aye, the tide turns at six.", "family"), [], settings, None, ws.runs_dir,
                            {"train_file": "mem"})
    sft.train(first)
    parent = first.info()["name"]
    new = tmp_path / "review.jsonl"
    write_examples(new, chats(4, "stewed tea, milk after.", "colleague"))
    request = methods.TrainRequest(data=new, validation=new, continue_from=parent, batch_size=4, precision="fp32",
                                   learning_rate_multiplier=50.0, max_steps=2, report_to=("none",))
    prepared = methods.prepare(request, ws.runs_dir)
    prepared.train()
    child = prepared.run.info()["name"]
    heldout = tmp_path / "heldout.jsonl"
    write_examples(heldout, chats(2, "aye, the tide turns at six.", "family") +
                   chats(2, "stewed tea, milk after.", "colleague"))
    notes = tmp_path / "tide.md"
    notes.write_text("The tide turns at six at Skerry Point.\n")
    monkeypatch.chdir(ws.root)
    assert main(["notes", "add", str(notes), "--no-messages"]) == 0
    capsys.readouterr()
    code = main(["eval", child, "--heldout", str(heldout), "--json", "--baselines", "none", "--reference", "0",
                 "--max-tokens", "3", "--notes-loss"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["models"]) == [child, parent, f"{child}+notes", f"{parent}+notes"]      # side by side
    assert out["rounds"] == {child: parent}
    for name in (child, parent):
        rows = {r["relationship"]: r for r in out["relationships"][name]}
        assert set(rows) == {"colleague", "family"} and all(r["examples"] == 2 for r in rows.values())
        assert all(math.isfinite(r["loss_with"]) and r["loss_with"] != r["loss_without"] for r in rows.values())
        figures = out["notes"][name]
        assert figures["passages"] == 1 and figures["loss_with"] != figures["loss_without"]
        assert math.isclose(out["models"][f"{name}+notes"]["heldout_loss"], figures["loss_with"], rel_tol=1e-6)
        assert math.isclose(out["models"][name]["heldout_loss"], figures["loss_without"], rel_tol=1e-6)
    assert out["relationships"][child] != out["relationships"][parent]       # the rounds are different models
    code = main(["eval", child, "--heldout", str(heldout), "--baselines", "none", "--reference", "0",
                 "--max-tokens", "3", "--no-rounds", "--no-relationships"])
    text = capsys.readouterr().out
    assert code == 0 and parent not in text and "per relationship" not in text
