"""/v1/fine_tuning/jobs through the official SDK, over the real queue: create with `method` as the SDK sends it and
with legacy hyperparameters, pagination, cancel rules, a job on a broken file failing with its line, events."""
import json

import openai
import pytest

from selfclone import jobs
from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool
from selfclone.store import Store

GOOD = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                          {"role": "assistant", "content": f"a{i}"}]}) for i in range(3)) + "\n"
PAIRS = json.dumps({"prompt": [{"role": "user", "content": "tea?"}], "chosen": [{"role": "assistant", "content": "stewed"}],
                    "rejected": [{"role": "assistant", "content": "bagged"}]}) + "\n"


@pytest.fixture
def client(ws, serve_app):
    with serve_app(create_app(ModelPool(workspace_runs=ws.runs_dir), store_path=ws.store_path)) as url:
        yield openai.OpenAI(base_url=url, api_key="x", max_retries=0)


def test_jobs_create_list_cancel_events(client, ws):
    good = client.files.create(file=("me.jsonl", GOOD.encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        training_file=good.id, model="smollm2-135m", suffix="ana", seed=3,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": "auto"}}})
    assert job.status == "queued" and job.training_file == good.id and job.hyperparameters.n_epochs == 2
    with Store(ws.store_path) as store:
        assert jobs.get(store, job.id)["hyperparameters"] == {"n_epochs": 2}        # "auto" = the recipe's default
    legacy = client.fine_tuning.jobs.create(training_file=good.id, model="smollm2-135m",
                                            hyperparameters={"n_epochs": 1})
    pairs = client.files.create(file=("pairs.jsonl", PAIRS.encode()), purpose="fine-tune")
    dpo = client.fine_tuning.jobs.create(training_file=pairs.id, model="smollm2-135m",
                                         method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}})
    assert dpo.method.type == "dpo"
    first = client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == [dpo.id, legacy.id] and first.has_more
    assert [j.id for j in client.fine_tuning.jobs.list(after=legacy.id).data] == [job.id]
    assert client.fine_tuning.jobs.cancel(legacy.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.cancel(legacy.id)
    assert "it is cancelled" in info.value.body["message"]
    assert client.fine_tuning.jobs.pause(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    events = client.fine_tuning.jobs.list_events(job.id, limit=10).data
    assert [e.message for e in events][:1] == [f"created fine-tuning job {job.id}"]
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-nope")
    with pytest.raises(openai.NotFoundError) as info:
        client.fine_tuning.jobs.create(training_file=good.id, model="no-such-model")
    assert info.value.body["param"] == "model"


def test_a_job_on_a_broken_file_fails_with_its_line(client):
    broken = client.files.create(file=("b.jsonl", (GOOD + "{oops\n").encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(training_file=broken.id, model="smollm2-135m")
    assert job.status == "failed" and "line 4" in job.error.message


def test_a_file_that_is_not_a_fine_tune_file(client):
    text = client.files.create(file=("notes.txt", b"dear diary,\ntoday I trained a model\n"), purpose="fine-tune")
    assert text.status == "error" and "line 1" in text.status_details
    job = client.fine_tuning.jobs.create(training_file=text.id, model="smollm2-135m")
    assert job.status == "failed" and "line 1" in job.error.message and text.id in job.error.message
    good = client.files.create(file=("me.jsonl", GOOD.encode()), purpose="fine-tune")
    pairs = client.files.create(file=("pairs.jsonl", PAIRS.encode()), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as info:        # chat examples given to a DPO job
        client.fine_tuning.jobs.create(training_file=good.id, model="smollm2-135m", method={"type": "dpo"})
    assert info.value.body["param"] == "training_file" and "needs preference pairs" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:        # and pairs given as a supervised validation file
        client.fine_tuning.jobs.create(training_file=good.id, validation_file=pairs.id, model="smollm2-135m")
    assert info.value.body["param"] == "validation_file" and "use method dpo" in info.value.body["message"]
    with pytest.raises(openai.NotFoundError) as info:
        client.fine_tuning.jobs.create(training_file="file-nope", model="smollm2-135m")
    assert info.value.body["code"] == "file_not_found"
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [job.id]     # nothing queued by the refusals
