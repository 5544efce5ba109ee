"""The OpenAI API on a real uvicorn server, driven by the official `openai` SDK: models, chat (n, seed, stream,
stop, penalties), legacy completions, errors in OpenAI's shape, auth, the bind checks and clone deletion."""
from __future__ import annotations

import json
import shutil
import socket

import httpx
import openai
import pytest

from selfclone import models
from selfclone.config import GenerationOptions, ServeSettings
from selfclone.errors import ConfigError, SelfcloneError
from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool
from selfclone.serve.api.server import check_bind

HI = [{"role": "user", "content": "what's the best way to make tea?"}]


@pytest.fixture(scope="module")
def real_api(serve_app):
    """The embedded SmolLM2-135M behind the API, greedy-free defaults as a workspace would have."""
    pool = ModelPool(ServeSettings(), backend="transformers", served=("smollm2-135m",))
    pool.get("smollm2-135m")
    with serve_app(create_app(pool, generation=GenerationOptions(max_tokens=12))) as url:
        yield openai.OpenAI(base_url=url, api_key="unused", max_retries=0)


@pytest.fixture
def echo_api(serve_app):
    pool = ModelPool(backend="echo", served=("echo",))
    with serve_app(create_app(pool, api_key="sk-test")) as url:
        yield url


def test_models_list_and_retrieve(real_api):
    ids = [m.id for m in real_api.models.list()]
    assert "smollm2-135m" in ids
    assert real_api.models.retrieve("smollm2-135m").id == "smollm2-135m"
    with pytest.raises(openai.NotFoundError) as info:
        real_api.models.retrieve("no-such-model")
    assert info.value.body["code"] == "model_not_found"


def test_chat_seed_n_usage_and_length(real_api):
    kw = dict(model="smollm2-135m", messages=HI, max_tokens=8, temperature=0.9, seed=7)
    a = real_api.chat.completions.create(n=3, **kw)
    b = real_api.chat.completions.create(n=3, **kw)
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert len(a.choices) == 3 and len({c.message.content for c in a.choices}) > 1
    assert a.usage.prompt_tokens > 10 and 0 < a.usage.completion_tokens <= 24
    assert a.choices[0].finish_reason == "length"
    c = real_api.chat.completions.create(max_completion_tokens=200, model="smollm2-135m",
                                         messages=[{"role": "user", "content": "say hi"}], temperature=0)
    assert c.choices[0].finish_reason == "stop" and c.usage.completion_tokens < 200


def test_chat_stream_matches_and_ends_with_usage(real_api):
    kw = dict(model="smollm2-135m", messages=HI, max_tokens=10, temperature=0)
    whole = real_api.chat.completions.create(**kw).choices[0].message.content
    chunks = list(real_api.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stop_and_penalties_change_the_reply(real_api):
    kw = dict(model="smollm2-135m", messages=HI, max_tokens=12, temperature=0)
    plain = real_api.chat.completions.create(**kw).choices[0].message.content
    word = plain.split()[2]
    stopped = real_api.chat.completions.create(stop=[word], **kw).choices[0].message.content
    assert word not in stopped and plain.startswith(stopped)
    penalised = real_api.chat.completions.create(frequency_penalty=2.0, presence_penalty=2.0, **kw)
    assert penalised.choices[0].message.content != plain


def test_legacy_completion_with_the_seed_framing(real_api):
    out = real_api.completions.create(model="smollm2-135m", prompt="Q: how do you take your tea? ->",
                                      stop=["###"], max_tokens=10, temperature=0)
    assert out.object == "text_completion" and out.choices[0].text and "###" not in out.choices[0].text
    streamed = real_api.completions.create(model="smollm2-135m", prompt="Q: how do you take your tea? ->",
                                           stop=["###"], max_tokens=10, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == out.choices[0].text


def test_bad_requests_get_openai_errors(real_api):
    with pytest.raises(openai.NotFoundError) as info:
        real_api.chat.completions.create(model="nope", messages=HI)
    assert "unknown model 'nope'" in info.value.body["message"] and info.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as info:
        real_api.chat.completions.create(model="smollm2-135m", messages=[{"role": "system", "content": "x"}])
    assert info.value.body["param"] == "messages" and "no user turn" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        real_api.chat.completions.create(model="smollm2-135m", messages=HI, n=129)
    assert info.value.body["param"] == "n" and "128" in info.value.body["message"]
    with pytest.raises(openai.BadRequestError) as info:
        real_api.chat.completions.create(model="smollm2-135m", messages=HI, max_tokens=100_000)
    assert info.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as info:
        real_api.chat.completions.create(model="smollm2-135m", messages=HI, temperature=5)
    assert info.value.body["param"] == "temperature"


def test_api_key_is_required_when_set(echo_api):
    bad = openai.OpenAI(base_url=echo_api, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.body["code"] == "invalid_api_key"
    raw = httpx.get(echo_api + "/models")
    assert raw.status_code == 401 and set(raw.json()["error"]) == {"message", "type", "param", "code"}
    good = openai.OpenAI(base_url=echo_api, api_key="sk-test", max_retries=0)
    assert [m.id for m in good.models.list()] == ["echo"]
    reply = good.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hello"}], n=2)
    assert [c.message.content for c in reply.choices] == ["echo: hello #0", "echo: hello #1"]
    missing = httpx.get(echo_api + "/nothing-here", headers={"Authorization": "Bearer sk-test"})
    assert missing.status_code == 404 and "error" in missing.json()


def test_bind_checks():
    with pytest.raises(ConfigError, match="without an API key"):
        check_bind("0.0.0.0", 8000, None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SelfcloneError, match=f"another server is using port {port}"):
            check_bind("127.0.0.1", port, None)


def test_a_clone_answers_with_its_trained_prompt_and_can_be_deleted(tmp_path, tiny_model_dir, serve_app):
    runs = tmp_path / "runs"
    run = runs / "20261201-000000-abcd"
    shutil.copytree(tiny_model_dir, run / "model")
    shutil.copytree(tiny_model_dir, run / "tokenizer", ignore=shutil.ignore_patterns("*.safetensors"))
    name = "ft:smollm2-135m:maggie:20261201-000000-abcd"
    (run / "run.json").write_text(json.dumps({"name": name, "base_model": "smollm2-135m", "status": "finished",
                                              "created": "2026-12-01T00:00:00+00:00",
                                              "default_context": "You are Maggie."}))
    pool = ModelPool(workspace_runs=runs)
    assert pool.get(name).context == "You are Maggie."
    with serve_app(create_app(pool)) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        assert name in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(model=name, messages=HI, max_tokens=3, temperature=0)
        assert reply.usage.prompt_tokens > len(models.load_tokenizer(models.resolve("smollm2-135m"))(
            "what's the best way to make tea?")["input_ids"]) + 3      # the trained system prompt came first
        assert client.models.delete(name).deleted
        assert not run.exists() and name not in [m.id for m in client.models.list()]
        with pytest.raises(openai.BadRequestError):
            client.models.delete("smollm2-135m")
