"""One job's training (what each job's own process runs) on a tiny model: a job queued through the API's queue trains
to `succeeded` in a few real steps, writes metrics events, names its clone, and the queue is then empty."""
import json

from selfclone import jobs, models
from selfclone.store import Store
from selfclone.train.worker import run_one


def test_worker_trains_a_queued_job(ws, tiny_model_dir):
    data = ws.data_dir / "me.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                                       {"role": "assistant", "content": f"answer {i}, over."}]})
                              for i in range(12)) + "\n")
    with Store(ws.store_path) as store:
        job = jobs.create(store, model=str(tiny_model_dir), training_file=str(data), suffix="ana",
                          hyperparameters={"n_epochs": 1, "batch_size": 4}, seed=1)
        assert jobs.claim_next(store)["id"] == job["id"]
    assert run_one(ws.store_path, ws.runs_dir, job["id"]) == "succeeded"
    with Store(ws.store_path) as store:
        done = jobs.get(store, job["id"])
        events, _ = jobs.events(store, job["id"], limit=100)
    assert done["status"] == "succeeded", done["error"]
    assert done["fine_tuned_model"].startswith("ft:") and done["fine_tuned_model"].endswith(":ana:" + done["run_dir"].rsplit("/", 1)[1])
    metrics = [e["data"] for e in events if e["type"] == "metrics" and e["data"].get("train_loss") is not None]
    assert metrics and all(m["train_loss"] > 0 for m in metrics)
    assert models.resolve(done["fine_tuned_model"], ws.runs_dir).kind == "clone"
    with Store(ws.store_path) as store:
        assert jobs.claim_next(store) is None
    assert metrics[-1]["total_steps"] == metrics[-1]["step"]


def test_one_supervisor_per_workspace(ws):
    import subprocess
    import sys

    from selfclone.train.worker import Supervisor

    with Supervisor(ws.root, ws.store_path) as supervisor:
        assert supervisor.tick() == []                       # an empty queue: nothing started
        second = subprocess.run([sys.executable, "-m", "selfclone", "jobs", "worker", "--once"], cwd=ws.root,
                                capture_output=True, text=True, timeout=120)
    assert second.returncode != 0 and "already runs this workspace's queue" in second.stderr + second.stdout
    again = subprocess.run([sys.executable, "-m", "selfclone", "jobs", "worker", "--once"], cwd=ws.root,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr                # the lock went with the first supervisor
