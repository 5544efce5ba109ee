"""One process trains a run at a time: a second `--resume` of a run in training is refused, and a run whose
process was killed shows "interrupted (resume with ...)" rather than "running" forever (issue 14)."""
import json
import os
import signal
import subprocess
import sys
import time

from test_sft import make_run

from selfclone.cli import main
from selfclone.train.rundir import RunDir


def test_two_resumes_one_refused_and_a_killed_run_shows_interrupted(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "ws", "--person", "Maggie"]) == 0
    runs = tmp_path / "ws" / "runs"
    run = make_run(runs, tiny_model_dir, "run", epochs=200, eval_every=1000)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([sys.executable, "-m", "selfclone.cli", "train", "--resume", str(run.path)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not [r for r in run.read_metrics() if "train_loss" in r]:
            time.sleep(0.05)
        assert run.info()["status"] == "running"
        steps_before = len(run.read_metrics())

        capsys.readouterr()
        code = main(["train", "--resume", str(run.path)])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2 and f"is being trained by process {first.pid}" in err

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
        first.communicate()
    assert len(run.read_metrics()) >= steps_before          # the refused one wrote nothing over it
    assert run.info()["status"] == "running"                 # what run.json says after kill -9 ...
    assert RunDir(run.path).status() == "interrupted"        # ... and what it means
    monkeypatch.chdir(tmp_path / "ws")
    assert main(["models", "--json"]) == 0
    clone = json.loads(capsys.readouterr().out)["clones"][0]
    assert clone["status"].startswith("interrupted (resume with `selfclone train --resume")


def test_resume_refuses_other_settings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--resume", str(tmp_path / "runs" / "x"), "--epochs", "5", "--learning-rate-multiplier", "2"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "these were given too: --epochs, --learning-rate-multiplier" in err


def test_a_too_long_example_names_the_users_file_and_leaves_no_run_folder(tmp_path, tiny_model_dir, capsys,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "long.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
                    + "\n" + json.dumps({"messages": [{"role": "user", "content": "word " * 600},
                                                      {"role": "assistant", "content": "yo"}]}) + "\n")
    code = main(["train", str(data), "--model", str(tiny_model_dir)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and f"{data}, line 2" in err and "longer than the limit of 512" in err
    assert not (tmp_path / "runs").exists()
    code = main(["train", str(data), "--model", str(tiny_model_dir), "--max-length", "100000"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "--max-length 100000 is longer than the model's context of 512 tokens" in err
    assert not (tmp_path / "runs").exists()
