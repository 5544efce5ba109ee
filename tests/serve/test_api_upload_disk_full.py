"""A full disk during POST /v1/files, with real failing writes: the error body is OpenAI's shape with status 507 and
what to do, nothing half-written is left in the uploads folder, no file is listed; a good upload is written whole.
The route's test mounts a 64 KiB tmpfs as the uploads folder (needs root, as in CI); the mapping of a real ENOSPC
(a write to /dev/full) is tested everywhere."""
import json
from pathlib import Path

import openai
import pytest

from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool
from selfclone.serve.api.routes_files import write_error

LINE = json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a" * 200}]}) + "\n"


def test_a_real_enospc_maps_to_507():
    with pytest.raises(OSError) as info:
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 10)
    error = write_error(info.value, Path("/srv/ws/data/uploads/file-1.jsonl"), 10)
    assert error.status == 507 and error.code == "insufficient_storage" and error.type == "server_error"
    assert "disk is full" in error.message and "free some space" in error.message and "/srv/ws/data/uploads" in error.message


@pytest.fixture
def tiny_disk(ws, tiny_filesystem):
    with tiny_filesystem(ws.root / "data" / "uploads", 64 * 1024) as folder:
        yield folder


def test_upload_on_a_full_disk_is_507_and_leaves_nothing(ws, serve_app, tiny_disk):
    with serve_app(create_app(ModelPool(backend="echo"), store_path=ws.store_path)) as url:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        small = client.files.create(file=("small.jsonl", (LINE * 4).encode()), purpose="fine-tune")
        assert small.status == "processed" and client.files.content(small.id).content == (LINE * 4).encode()
        with pytest.raises(openai.InternalServerError) as info:
            client.files.create(file=("big.jsonl", (LINE * 2000).encode()), purpose="fine-tune")
        assert info.value.status_code == 507
        body = info.value.body
        assert body["code"] == "insufficient_storage" and "disk is full" in body["message"]
        assert [f.id for f in client.files.list()] == [small.id]
        assert sorted(p.name for p in tiny_disk.iterdir()) == [f"{small.id}.jsonl"]      # no temporary file left
