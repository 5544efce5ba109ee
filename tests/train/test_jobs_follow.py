"""`selfclone jobs follow ID` as a real process over a job's events (written by the worker's own JobEvents): plain
lines when its output is not a terminal; Ctrl-C stops the following, not the job; run again in a terminal (a pty) it
shows the progress bar (step/total, loss, valid loss) and ends with the job's status."""
import os
import pty
import select
import signal
import subprocess
import sys
import time

from selfclone import jobs
from selfclone.store import Store
from selfclone.train.worker import JobEvents


def steps(events, first, last):
    for step in range(first, last + 1):
        events.on_step({"step": step, "train_loss": 3.0 - step / 10, "train_token_accuracy": 0.25})
        if step % 4 == 0:
            events.on_eval({"step": step, "valid_loss": 2.9 - step / 10, "valid_token_accuracy": 0.2})


def read_until(fd, needle, timeout=60.0) -> str:
    out, deadline = b"", time.time() + timeout
    while needle.encode() not in out and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:          # the pty closes when the process ends
                break
            if not chunk:
                break
            out += chunk
    return out.decode(errors="replace")


def test_follow_stops_on_ctrl_c_and_resumes_with_a_bar(ws):
    with Store(ws.store_path) as store:
        job = jobs.create(store, model="smollm2-135m", training_file="me.jsonl")
        jobs.claim_next(store)
    events = JobEvents(ws.store_path, job["id"])
    events.on_start(40, 0, {"name": "ft:smollm2-135m:clone:RUN"})
    steps(events, 1, 12)
    command = [sys.executable, "-m", "selfclone", "jobs", "follow", job["id"], "--poll", "0.2"]

    plain = subprocess.Popen(command, cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = read_until(plain.stdout.fileno(), "step 12: valid loss")
    plain.send_signal(signal.SIGINT)
    rest, _ = plain.communicate(timeout=60)
    seen += rest.decode()
    assert plain.returncode == 0, seen
    assert "training started: 40 steps" in seen and "step 12: train loss" in seen and "stopped following" in seen
    with Store(ws.store_path) as store:
        assert jobs.get(store, job["id"])["status"] == "running"           # the job goes on

    steps(events, 13, 20)
    with Store(ws.store_path) as store:
        jobs.set_status(store, job["id"], "succeeded", fine_tuned_model="ft:smollm2-135m:clone:RUN")
        jobs.add_event(store, job["id"], "job succeeded: ft:smollm2-135m:clone:RUN")
    leader, follower = pty.openpty()
    shown = subprocess.Popen(command, cwd=ws.root, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, COLUMNS="160", TERM="xterm"))
    os.close(follower)
    screen = read_until(leader, f"{job['id']}: succeeded")
    assert shown.wait(60) == 0, screen
    os.close(leader)
    assert "20/40" in screen and "loss 1.000" in screen and "valid 1.300" in screen, screen
    assert "job succeeded" in screen and "step 13: train loss" not in screen      # metrics are on the bar
