"""`selfclone chat` driven through a real pseudo-terminal: streaming replies, /context, /save, /reset, /quit."""
import json
import sys
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.slow
SELFCLONE = str(Path(sys.executable).parent / "selfclone")


def test_chat_commands_in_a_pty(tmp_path, tiny_model_dir):
    child = pexpect.spawn(SELFCLONE, ["chat", str(tiny_model_dir), "--max-tokens", "4", "--seed", "1",
                                      "--context", "You are Maggie.", "--memory", "1"],
                          cwd=str(tmp_path), encoding="utf-8", timeout=120, dimensions=(40, 200))
    child.expect("context: You are Maggie.")
    child.expect("you>")
    child.sendline("hello there")
    child.expect("clone>")
    child.expect("you>")
    child.sendline("/context You are Ana.")
    child.expect("context: You are Ana.")
    child.expect("you>")
    child.sendline("second question")
    child.expect("you>")
    saved = tmp_path / "talk.jsonl"
    child.sendline(f"/save {saved}")
    child.expect("saved 2 exchanges")
    child.expect("you>")
    child.sendline("/reset")
    child.expect("memory cleared")
    child.expect("you>")
    child.sendline("/bogus")
    child.expect("unknown command /bogus")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    [row] = [json.loads(line) for line in saved.read_text().splitlines()]
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert row["messages"][0]["content"] == "You are Ana."
    assert [m["content"] for m in row["messages"] if m["role"] == "user"] == ["hello there", "second question"]
