"""kill -9 of the `serve api` process group (server and worker) during a running job, or Ctrl-C (SIGINT to the group);
the job's own process does not outlive them (kill -9: it sees its stdin close; Ctrl-C: it checkpoints the step it
was in), and the next start resumes the job from its last checkpoint to `succeeded` at the same final step."""
import json
import os
import signal
import time
from pathlib import Path

import openai
import pytest

from selfclone import jobs
from selfclone.store import Store
from selfclone.train.rundir import RunDir

pytestmark = pytest.mark.slow
DATA = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"question number {i}?"},
                                          {"role": "assistant", "content": f"answer number {i}, over."}]})
                 for i in range(16)) + "\n"


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_stop_then_restart_resumes_to_the_same_final_step(ws, tiny_model_dir, api_process, stop):
    server, client = api_process(ws)
    try:
        upload = client.files.create(file=("me.jsonl", DATA.encode()), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(training_file=upload.id, model=str(tiny_model_dir), suffix="ana",
                                             hyperparameters={"n_epochs": 8, "batch_size": 4})
        for _ in range(1200):
            with Store(ws.store_path) as store:
                run_dir = jobs.get(store, job.id)["run_dir"]
            if run_dir and RunDir(Path(run_dir)).latest_checkpoint() is not None:   # a complete checkpoint
                break
            time.sleep(0.05)
        assert run_dir, "the job never started"
        with Store(ws.store_path) as store:
            trainer = jobs.get(store, job.id)["pid"]
    finally:
        os.killpg(server.pid, stop)
        server.wait(90)
    for _ in range(200):
        if not alive(trainer):
            break
        time.sleep(0.05)
    assert not alive(trainer), "the job's process outlived the server"
    run_json = json.loads((Path(run_dir) / "run.json").read_text())
    with Store(ws.store_path) as store:
        assert jobs.get(store, job.id)["status"] == "running"
        events, _ = jobs.events(store, job.id, limit=1000)
    if stop == signal.SIGINT:      # asked once: it finished its step and saved it
        last = max(e["data"]["step"] for e in events if e["type"] == "metrics" and e["data"].get("train_loss"))
        assert any(e["message"].startswith(f"training stopped at step {last}") for e in events)
        assert RunDir(Path(run_dir)).latest_checkpoint().name == f"step-{last:06d}"
    server, client = api_process(ws)
    try:
        for _ in range(1200):
            job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert job.status == "succeeded", job.error
        final = json.loads((Path(run_dir) / "run.json").read_text())
        steps = [json.loads(line).get("step") for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
        assert final["total_steps"] == run_json["total_steps"] and max(steps) == final["total_steps"]
        starts = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data if "started" in e.message]
        assert len(starts) == 2 and "resuming at" in starts[1], starts
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(60)
