"""The job queue on a real SQLite store: create, pagination, claim order (a crashed running job first), status
rules with clear errors, and events read from where a follower stopped."""
import pytest

from selfclone import jobs
from selfclone.store import Store


def test_queue_lifecycle(ws):
    with Store(ws.store_path) as store:
        made = [jobs.create(store, model="smollm2-135m", training_file=f"d{i}.jsonl", suffix="ana") for i in range(5)]
        first, more = jobs.page(store, limit=2)
        rest, last_more = jobs.page(store, after=first[-1]["id"], limit=10)
        assert more and not last_more and len(first) + len(rest) == 5
        assert {j["id"] for j in first + rest} == {j["id"] for j in made}
        claimed = jobs.claim_next(store)
        assert claimed["status"] == "running" and claimed["id"] == made[0]["id"]
        assert jobs.claim_next(store)["id"] == made[0]["id"]           # left running (a crash): resumed first
        jobs.set_status(store, claimed["id"], "succeeded", fine_tuned_model="ft:smollm2-135m:ana:RUN")
        with pytest.raises(jobs.JobError, match="cannot cancel job .* it is succeeded"):
            jobs.cancel(store, claimed["id"])
        assert jobs.pause(store, made[1]["id"])["status"] == "paused"
        assert jobs.claim_next(store)["id"] == made[2]["id"]
        assert jobs.resume(store, made[1]["id"])["status"] == "queued"
        assert jobs.cancel(store, made[3]["id"])["status"] == "cancelled"
        jobs.add_event(store, made[2]["id"], "step 1", type="metrics", data={"step": 1, "train_loss": 2.5})
        seen, more = jobs.events(store, made[2]["id"], limit=1)
        after, _ = jobs.events(store, made[2]["id"], after=seen[-1]["id"])
        assert more and after[0]["type"] == "metrics" and after[0]["data"]["train_loss"] == 2.5
        with pytest.raises(jobs.JobError, match="no job with id"):
            jobs.get(store, "ftjob-nope")
        with pytest.raises(jobs.JobError, match="unknown method"):
            jobs.create(store, model="m", training_file="d", method="ppo")


def test_claim_skips_the_workers_own_jobs_and_finishing_respects_a_cancel(ws):
    with Store(ws.store_path) as store:
        a, b = (jobs.create(store, model="m", training_file=f"d{i}.jsonl") for i in range(2))
        assert jobs.claim_next(store)["id"] == a["id"]
        assert jobs.claim_next(store, exclude=(a["id"],))["id"] == b["id"]      # a is its own child's: not an orphan
        assert jobs.claim_next(store, exclude=(a["id"], b["id"])) is None
        jobs.cancel(store, b["id"])
        done = jobs.set_status(store, b["id"], "succeeded", only_from=("running", "paused", "queued"))
        assert done["status"] == "cancelled" and done["finished_at"]
        jobs.record(store, a["id"], pid=1234, attempts=1)
        assert jobs.get(store, a["id"])["pid"] == 1234 and jobs.get(store, a["id"])["status"] == "running"


def test_jobs_settings_in_selfclone_toml(ws):
    from selfclone import config
    from selfclone.errors import ConfigError

    assert ws.config.jobs.concurrency == 1 and ws.config.jobs.retries == 2
    assert config.load(ws.config_path, {"jobs.concurrency": 3}).jobs.concurrency == 3
    for bad in ({"jobs.concurrency": 0}, {"jobs.retries": -1}, {"jobs.concurrency": "2"}):
        with pytest.raises(ConfigError, match=r"jobs\.(concurrency|retries) must be a whole number"):
            config.load(ws.config_path, bad)
    with pytest.raises(ConfigError, match="unknown setting"):
        config.load(ws.config_path, {"jobs.parallel": 2})
