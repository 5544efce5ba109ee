"""/v1/files through the official SDK: a good chat file is processed, a broken one is kept with status error and a
status_details naming the line and the fix, a DPO preference file is recognised; content, list and delete."""
import json

import openai
import pytest

from selfclone.serve.api.app import create_app
from selfclone.serve.api.model_pool import ModelPool

GOOD = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                          {"role": "assistant", "content": f"a{i}"}]}) for i in range(3)) + "\n"
BROKEN = GOOD + "{not json\n"
DPO = json.dumps({"prompt": [{"role": "user", "content": "tea?"}], "chosen": [{"role": "assistant", "content": "stewed"}],
                  "rejected": [{"role": "assistant", "content": "bagged"}]}) + "\n"


@pytest.fixture
def client(ws, serve_app):
    with serve_app(create_app(ModelPool(backend="echo"), store_path=ws.store_path)) as url:
        yield openai.OpenAI(base_url=url, api_key="x", max_retries=0)


def test_upload_validate_list_content_delete(client, tmp_path):
    good = client.files.create(file=("me.jsonl", GOOD.encode()), purpose="fine-tune")
    assert good.status == "processed" and good.bytes == len(GOOD) and good.filename == "me.jsonl"
    broken = client.files.create(file=("broken.jsonl", BROKEN.encode()), purpose="fine-tune")
    assert broken.status == "error" and "line 4" in broken.status_details and "hint" in broken.status_details
    prefs = client.files.create(file=("prefs.jsonl", DPO.encode()), purpose="fine-tune")
    assert prefs.status == "processed"
    assert {f.id for f in client.files.list()} == {good.id, broken.id, prefs.id}
    assert client.files.retrieve(broken.id).status_details == broken.status_details
    assert client.files.content(good.id).content == GOOD.encode()
    assert client.files.delete(good.id).deleted
    with pytest.raises(openai.NotFoundError) as info:
        client.files.retrieve(good.id)
    assert info.value.body["code"] == "file_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("me.jsonl", GOOD.encode()), purpose="assistants")
    assert info.value.body["param"] == "purpose"
