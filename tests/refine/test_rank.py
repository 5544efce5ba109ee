"""`selfclone rank` through a real pseudo-terminal: order, edit, skip, bad input, SIGKILL, resume, export."""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from selfclone.dataset.preferences import parse_preference

SELFCLONE = str(Path(sys.executable).with_name("selfclone"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
QUESTIONS = ["What is your dog called?", "Tea or coffee?", "Where do you live?", "Do you sing?"]


def spawn(ws, model_dir, prompts):
    return pexpect.spawn(SELFCLONE, ["rank", str(model_dir), "--prompts", str(prompts), "--n", "3",
                                     "--max-tokens", "8"], cwd=str(ws.root), env=dict(os.environ, COLUMNS="200"),
                         encoding="utf-8", dimensions=(50, 200), timeout=90)


def screen(child) -> str:
    """Wait for the ranking prompt; return what was shown since the last one."""
    child.expect(r"rank> ")
    return ANSI.sub("", child.before).replace("\r", "")


def items(ws):
    with ws.store() as store:
        return [dict(r) for r in store.db.execute("select id, prompt_json, candidates_json, status from rank_items "
                                                  "order by id")]


def rankings(ws):
    with ws.store() as store:
        return [dict(r) for r in store.db.execute("select item_id, kind, order_json, edited, candidates_json "
                                                  "from rankings order by id")]


@pytest.mark.slow
def test_rank_session_killed_and_resumed_loses_nothing(ws, tiny_model_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(QUESTIONS) + "\n")
    child = spawn(ws, tiny_model_dir, prompts)
    shown = screen(child)
    assert "user: What is your dog called?" in shown and "[1]" in shown and "[3]" in shown
    child.sendline("1 1 2")                                         # a tie: refused, asked again
    assert "a ranking cannot have ties" in screen(child)
    child.sendline("2 1 3")
    shown = screen(child)
    assert "saved" in shown and "user: Tea or coffee?" in shown
    child.sendline("e2")
    child.expect("you> ")
    candidate_2 = json.loads(items(ws)[1]["candidates_json"])[1]
    child.send("\x15")                                              # Ctrl-U clears the pre-filled candidate
    child.sendline("milk after, always. over.")
    shown = screen(child)
    assert "your edit is the best reply" in shown and "user: Where do you live?" in shown
    child.sendline("s")
    shown = screen(child)
    assert "skipped" in shown and "user: Do you sing?" in shown
    child.send("b1")                                                # typed, not sent: then the process dies
    child.kill(signal.SIGKILL)
    child.close()
    assert child.signalstatus == signal.SIGKILL

    before = items(ws)
    assert [i["status"] for i in before] == ["ranked", "ranked", "skipped", "pending"]
    saved = rankings(ws)
    assert [(r["kind"], json.loads(r["order_json"]), r["edited"]) for r in saved] == [
        ("order", [1, 0, 2], None), ("edit", [1], "milk after, always. over.")]
    with ws.store() as store:
        example = json.loads(store.db.execute("select messages_json from examples where source = 'rank'").fetchone()[0])
    assert example[-2:] == [{"role": "user", "content": "Tea or coffee?"},
                            {"role": "assistant", "content": "milk after, always. over."}]
    assert candidate_2 != "milk after, always. over."

    child = spawn(ws, tiny_model_dir, prompts)                      # resume: the same item, no new candidates
    shown = screen(child)
    assert "user: Do you sing?" in shown and "writing 3 candidates" not in shown and "2 ranked before" in shown
    child.sendline("b3 w1")
    child.expect("1 ranked in this session, 3 in all")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    after = items(ws)
    assert [(i["id"], i["candidates_json"]) for i in after] == [(i["id"], i["candidates_json"]) for i in before]
    last = rankings(ws)[-1]
    assert (last["item_id"], last["kind"], json.loads(last["order_json"])) == (before[3]["id"], "best_worst", [2, 0])
    assert last["candidates_json"] == before[3]["candidates_json"]

    out = tmp_path / "prefs.jsonl"
    done = subprocess.run([SELFCLONE, "preferences", "export", "--out", str(out), "--format", "dpo"], cwd=ws.root,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 + 3 + 3                                   # order of 3, edit over 3, best/worst of 3
    for line, row in enumerate(rows, 1):
        assert set(row) == {"input", "preferred_output", "non_preferred_output"}
        parse_preference(row, path=out, line=line)                  # validates roles, sides and ties
    edits = [r for r in rows if r["preferred_output"][0]["content"] == "milk after, always. over."]
    assert len(edits) == 3 and edits[0]["input"]["messages"][-1] == {"role": "user", "content": "Tea or coffee?"}
