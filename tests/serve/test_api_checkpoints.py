"""GET /v1/fine_tuning/jobs/{id}/checkpoints through the official SDK, for a job trained on a tiny model: OpenAI's shape,
newest first, paginated with after/limit, metrics from the run's log; each `fine_tuned_model_checkpoint` is a model
name that loads that checkpoint's own weights and answers chat."""
import json

import openai
import pytest
from safetensors.torch import load_file

from selfclone import jobs, models
from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool
from selfclone.store import Store
from selfclone.train.worker import run_one

DATA = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                          {"role": "assistant", "content": f"answer {i}, over."}]})
                 for i in range(12)) + "\n"


@pytest.fixture
def trained(ws, tiny_model_dir):
    data = ws.data_dir / "me.jsonl"
    data.write_text(DATA)
    valid = ws.data_dir / "valid.jsonl"
    valid.write_text("".join(DATA.splitlines(keepends=True)[:3]))
    with Store(ws.store_path) as store:
        job = jobs.create(store, model=str(tiny_model_dir), training_file=str(data), validation_file=str(valid),
                          suffix="ana",
                          hyperparameters={"n_epochs": 2, "batch_size": 4}, seed=1)
        jobs.claim_next(store)
    assert run_one(ws.store_path, ws.runs_dir, job["id"]) == "succeeded"
    return job["id"]


def test_checkpoints_list_paginate_and_chat(ws, serve_app, trained):
    with serve_app(create_app(ModelPool(workspace_runs=ws.runs_dir), store_path=ws.store_path)) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        job = client.fine_tuning.jobs.retrieve(trained)
        page = client.fine_tuning.jobs.checkpoints.list(trained)
        kept = page.data
        assert len(kept) == 2 and not page.has_more          # keep_checkpoints = 2
        steps = [c.step_number for c in kept]
        assert steps == sorted(steps, reverse=True)
        total = json.loads((ws.runs_dir / job.fine_tuned_model.rsplit(":", 1)[1] / "run.json").read_text())["total_steps"]
        newest = kept[0]
        assert newest.object == "fine_tuning.job.checkpoint" and newest.fine_tuning_job_id == trained
        assert newest.step_number == total and newest.metrics.step == total
        assert newest.metrics.train_loss > 0 and newest.metrics.valid_loss > 0
        assert 0 <= newest.metrics.train_mean_token_accuracy <= 1
        assert newest.fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-{total}"
        first = client.fine_tuning.jobs.checkpoints.list(trained, limit=1)
        assert [c.id for c in first.data] == [newest.id] and first.has_more
        rest = client.fine_tuning.jobs.checkpoints.list(trained, after=newest.id)
        assert [c.id for c in rest.data] == [kept[1].id] and not rest.has_more

        older = kept[1].fine_tuned_model_checkpoint
        reply = client.chat.completions.create(model=older, max_tokens=3, temperature=0,
                                               messages=[{"role": "user", "content": "question 1?"}])
        assert reply.model == older and reply.choices[0].message.content is not None
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model=f"{job.fine_tuned_model}:ckpt-step-999", max_tokens=3,
                                           messages=[{"role": "user", "content": "hi"}])
        assert "keeps no checkpoint at step 999" in info.value.body["message"]
        with pytest.raises(openai.NotFoundError):
            client.fine_tuning.jobs.checkpoints.list("ftjob-nope")

    # the checkpoint's model carries that checkpoint's own trained LoRA weights, not a later step's
    ref = models.resolve(older, ws.runs_dir)
    model, _ = models.load(ref)
    saved = load_file(ref.run_dir / "trainable.safetensors")
    later = load_file(models.resolve(newest.fine_tuned_model_checkpoint, ws.runs_dir).run_dir / "trainable.safetensors")
    params = dict(model.named_parameters())
    assert set(saved) <= set(params)
    name = next(k for k in saved if "lora_B" in k)
    assert saved[name].abs().sum() > 0 and (params[name] == saved[name]).all()
    assert not (later[name] == saved[name]).all()
