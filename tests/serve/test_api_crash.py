"""kill -9 of the `serve api` process group (server and worker) during a running job; the next start resumes the job
from its last checkpoint and it reaches `succeeded` at the same final step."""
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


def test_kill_9_then_restart_resumes_to_the_same_final_step(ws, tiny_model_dir, api_process):
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
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
    run_json = json.loads((Path(run_dir) / "run.json").read_text())
    with Store(ws.store_path) as store:
        assert jobs.get(store, job.id)["status"] == "running"
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
