"""The job worker under `selfclone serve api` as a real process, with `[jobs] concurrency = 2`: two jobs train at once,
each in its own process; pause stops a running job within seconds at a checkpoint and resume ends it at the same
final step; kill -9 of one job's process re-queues that job (jobs.retries) and then fails it with a clear message
while the supervisor and the other job go on; cancel stops a running job and keeps its partial run."""
import json
import os
import signal
import time
import tomllib
from pathlib import Path

import openai
import pytest
import tomli_w

from selfclone import jobs
from selfclone.store import Store
from selfclone.train.rundir import RunDir

pytestmark = pytest.mark.slow
DATA = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"question number {i}?"},
                                          {"role": "assistant", "content": f"answer number {i}, over."}]})
                 for i in range(16)) + "\n"


def row(ws, job_id):
    with Store(ws.store_path) as store:
        return jobs.get(store, job_id)


def wait(check, what, timeout=300.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def steps_done(client, job_id):
    events = client.fine_tuning.jobs.list_events(job_id, limit=1000).data
    return [e.data["step"] for e in events if e.type == "metrics" and e.data.get("train_loss") is not None]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_jobs_in_their_own_processes_pause_resume_kill_cancel(ws, tiny_model_dir, api_process):
    config = tomllib.loads(ws.config_path.read_text())
    config["jobs"] = {"concurrency": 2, "retries": 1}
    ws.config_path.write_text(tomli_w.dumps(config))
    server, client = api_process(ws)
    try:
        upload = client.files.create(file=("me.jsonl", DATA.encode()), purpose="fine-tune")

        def create(epochs):
            return client.fine_tuning.jobs.create(training_file=upload.id, model=str(tiny_model_dir), suffix="ana",
                                                  hyperparameters={"n_epochs": epochs, "batch_size": 4}).id

        paused, doomed = create(20), create(40)       # enough steps left to pause, on a quiet machine too
        pids = wait(lambda: [row(ws, j)["pid"] for j in (paused, doomed)] if all(
            row(ws, j)["pid"] for j in (paused, doomed)) else None, "two jobs training at once")
        assert pids[0] != pids[1] and all(alive(p) for p in pids) and os.getpgid(pids[0]) != os.getpgid(server.pid)

        # pause: the job's process checkpoints and exits within seconds; its last step is in the checkpoint
        wait(lambda: steps_done(client, paused), "a first step")
        asked = time.time()
        assert client.fine_tuning.jobs.pause(paused).status == "paused"
        wait(lambda: row(ws, paused)["pid"] is None, "the paused job's process to exit", timeout=60)
        stop_seconds = time.time() - asked
        print(f"pause took {stop_seconds:.1f} s (load {os.getloadavg()[0]:.1f})")
        assert stop_seconds < 15 and not alive(pids[0])
        run = RunDir(Path(row(ws, paused)["run_dir"]))
        at = max(steps_done(client, paused))
        total = run.info()["total_steps"]
        assert at < total and run.latest_checkpoint().name == f"step-{at:06d}"

        # kill -9 of one job's process: re-queued once (resumes), then failed; the supervisor survives
        os.kill(pids[1], signal.SIGKILL)
        second = wait(lambda: (p := row(ws, doomed)["pid"]) and p != pids[1] and p, "the killed job's retry")
        os.kill(second, signal.SIGKILL)
        failed = wait(lambda: (j := client.fine_tuning.jobs.retrieve(doomed)).status == "failed" and j, "failure")
        assert "killed by SIGKILL" in failed.error.message and "no retries left" in failed.error.message
        messages = [e.message for e in client.fine_tuning.jobs.list_events(doomed, limit=1000).data]
        assert any("retry 1 of 1" in m for m in messages)

        # resume: a new process continues from the pause's checkpoint to the same final step
        assert client.fine_tuning.jobs.resume(paused).status == "queued"
        done = wait(lambda: (j := client.fine_tuning.jobs.retrieve(paused)).status in jobs.FINISHED and j, "resume")
        assert done.status == "succeeded", done.error
        assert max(steps_done(client, paused)) == total == run.info()["total_steps"]
        starts = [e.message for e in client.fine_tuning.jobs.list_events(paused, limit=1000).data
                  if "training started" in e.message]
        assert starts[-1].endswith(f"resuming at {at}"), starts
        with pytest.raises(openai.BadRequestError) as info:
            client.fine_tuning.jobs.cancel(paused)
        assert "it is succeeded" in info.value.body["message"] and info.value.body["code"] == "invalid_job_state"

        # cancel a running job: its process stops, the job is cancelled, the partial run is kept
        cancelled = create(40)
        wait(lambda: row(ws, cancelled)["pid"] and steps_done(client, cancelled), "the third job's first step")
        assert client.fine_tuning.jobs.cancel(cancelled).status == "cancelled"
        wait(lambda: row(ws, cancelled)["pid"] is None, "the cancelled job's process to exit", timeout=60)
        kept = RunDir(Path(row(ws, cancelled)["run_dir"]))
        assert row(ws, cancelled)["status"] == "cancelled" and kept.latest_checkpoint() is not None
        assert server.poll() is None
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(90)
