"""scripts/gpu-check.sh on a tiny model on the CPU: the script the GPU machine runs is known to work before it gets
there (LoRA and full steps through sft.train, a Ctrl-C at step 3 and a resume to the same final step and loss)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the GPU machine lacks: importing any of them there fails, so here too (sitecustomize runs first in Python).
MISSING_THERE = ("trl", "bitsandbytes", "vllm", "typer", "rich", "pydantic", "pluggy", "matplotlib", "tomli_w",
                 "tensorboard", "fastapi", "openai", "datasets", "sentence_transformers")
BLOCKER = f"""
import sys
class _Hidden:
    # each finder answers "not here" for the packages the GPU machine lacks: import fails, find_spec says None
    def __init__(self, inner):
        self.inner = inner
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {MISSING_THERE!r}:
            return None
        return self.inner.find_spec(name, path, target) if hasattr(self.inner, "find_spec") else None
    def __getattr__(self, attr):
        return getattr(self.inner, attr)
sys.meta_path[:] = [_Hidden(f) for f in sys.meta_path]
"""


@pytest.mark.slow
def test_the_gpu_check_script_runs_tiny_on_the_cpu_without_what_the_gpu_machine_lacks(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = os.environ | {"GPU_CHECK_TINY": "1", "GPU_CHECK_INSTALL": "0", "PYTHON": sys.executable,
                        "OUT": str(tmp_path), "GPU_CHECK_TIMEOUT": "900", "PYTHONPATH": str(blocker)}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh")], env=env, capture_output=True, text=True,
                          timeout=1000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu-check.json").read_text())
    assert [r["method"] for r in result["runs"]] == ["lora", "full", "lora"]
    for run in result["runs"]:
        assert run["steps"] == 6 and run["status"] == "finished" and run["tokens_per_second"] > 0
        assert run["final_train_loss"] < run["first_train_loss"]
    assert result["resume"]["ok"] and result["resume"]["interrupted_at"] in (3, 4)
    table = (tmp_path / "gpu-check.md").read_text()
    assert "| lora | lora |" in table and "resume: stopped at step" in table
    assert "trl: no" in (tmp_path / "environment.txt").read_text()      # the blocker was in force
