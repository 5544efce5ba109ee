"""Two real training processes on the CPU (gloo) through `accelerate launch`: the same data and seed reach the loss
one process reaches; a killed rank leaves a checkpoint and a clear message, and `--resume` finishes under two."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selfclone.dataset.chat import Example
from selfclone.train import sft
from selfclone.train.settings import SFTSettings

REPLIES = ["aye, the tide turns at six.", "stewed tea, milk after. over.", "biscuit is asleep by the stove.",
           "right then, the bees are fine, and so is the garden."]
pytestmark = pytest.mark.slow


def examples(n):
    return [Example.chat(("user", f"question {i}?"), ("assistant", REPLIES[i % 4] * (1 + i % 3)),
                         system="You are Maggie.") for i in range(n)]


def make_run(tmp_path, model_dir, name, epochs):
    # no dropout: then nothing random happens in a step, and 1 and 2 processes compute the same gradients
    settings = SFTSettings(model=str(model_dir), batch_size=4, epochs=epochs, report_to=("none",), precision="fp32",
                           learning_rate_multiplier=20.0, lora_dropout=0.0, eval_every=5, select="last",
                           device="cpu")
    return sft.prepare_run(examples(16), examples(4), settings, tmp_path / name, tmp_path, {"train_file": "mem"})


def train_losses(run):
    return [(r["step"], r["train_loss"]) for r in run.read_metrics() if "train_loss" in r]


def launch(run, *extra, env=None):
    cmd = [sys.executable, "-m", "selfclone", "train", "--resume", str(run.path), "--launcher", "accelerate",
           "--processes", "2", *extra]
    env = (env or os.environ) | {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    run = make_run(tmp_path_factory.mktemp("one"), tiny_model_dir, "one-process", epochs=10)
    sft.train(run)
    return train_losses(run)


def test_two_processes_reach_the_loss_of_one(tmp_path, tiny_model_dir, reference):
    run = make_run(tmp_path, tiny_model_dir, "two-processes", epochs=10)
    proc = launch(run)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    info = run.info()
    assert info["status"] == "finished" and info["processes"] == 2
    two = train_losses(run)
    assert [s for s, _ in two] == [s for s, _ in reference]         # rank 0 alone wrote each row, once
    assert two[0][1] == pytest.approx(reference[0][1], rel=1e-4)
    assert two[-1][1] == pytest.approx(reference[-1][1], rel=1e-4)  # measured: 1.3e-7 apart at most, over 40 steps
    assert reference[-1][1] < reference[0][1] - 0.1                 # and it did learn
    assert (run.adapter / "adapter_model.safetensors").exists()


def _rank_pid(marker: str, rank: str) -> int | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = dict(v.split("=", 1) for v in (proc / "environ").read_text().split("\0") if "=" in v)
        except OSError:
            continue
        if env.get("SELFCLONE_TEST_MARK") == marker and env.get("RANK") == rank:
            return int(proc.name)
    return None


def test_a_killed_rank_leaves_a_checkpoint_then_resume_finishes_under_two(tmp_path, tiny_model_dir, reference):
    run = make_run(tmp_path, tiny_model_dir, "killed", epochs=10)
    marker = str(tmp_path)
    proc = launch(run, env=os.environ | {"SELFCLONE_TEST_MARK": marker})
    deadline = time.time() + 600
    while time.time() < deadline and len(train_losses(run)) < 6 and proc.poll() is None:
        time.sleep(0.05)
    pid = _rank_pid(marker, "1")
    assert pid is not None and proc.poll() is None, proc.communicate()[0] if proc.poll() is not None else "no rank 1"
    os.kill(pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "stopped answering" in output and "checkpoint saved at step" in output, output
    assert "--resume" in output
    assert run.info()["status"] == "interrupted"
    stopped_at = run.latest_checkpoint()
    assert stopped_at is not None and len(train_losses(run)) < len(reference)

    proc = launch(run)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    rows = train_losses(run)
    assert [s for s, _ in rows] == [s for s, _ in reference]          # no gaps, no duplicates
    assert rows[-1][1] == pytest.approx(reference[-1][1], rel=2e-2)
    assert run.info()["status"] == "finished"


def test_accelerate_launch_by_hand_trains_one_run(tmp_path, tiny_model_dir):
    data = tmp_path / "data.jsonl"
    from selfclone.dataset.chat import write_examples

    write_examples(data, examples(8))
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "selfclone", "train", str(data), "--model", str(tiny_model_dir), "--out", str(tmp_path / "run"),
           "--epochs", "1", "--batch-size", "4", "--report-to", "none"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=os.environ | {"OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from selfclone.train.rundir import RunDir

    info = RunDir(tmp_path / "run").info()
    assert info["status"] == "finished" and info["processes"] == 2
    assert not (tmp_path / "runs").exists()                # rank 1 made no run of its own
    assert proc.stdout.count("run directory:") == 1        # rank 0 prepared it, once
