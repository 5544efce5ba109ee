"""`selfclone serve vllm`: the command line and adapter mapping built from real trained clones (vLLM itself needs a
GPU machine), and the system prompt applied on our side when talking to a server under a clone's name."""
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from selfclone import models
from selfclone.cli import main
from selfclone.dataset.chat import Example
from selfclone.errors import SelfcloneError
from selfclone.serve import vllm
from selfclone.train import sft
from selfclone.train.settings import SFTSettings


def trained_clone(tmp_path, model_dir, suffix, rank):
    data = [Example.chat(("user", f"q{i}?"), ("assistant", "aye."), system="You are Maggie.") for i in range(4)]
    settings = SFTSettings(model=str(model_dir), batch_size=4, max_steps=1, report_to=("none",), precision="fp32",
                           lora_rank=rank, suffix=suffix)
    run = sft.prepare_run(data, [], settings, tmp_path / suffix, tmp_path, {"train_file": "mem"})
    sft.train(run)
    return run.info()["name"], run


@pytest.fixture(scope="module")
def clones(tmp_path_factory, tiny_model_dir):
    where = tmp_path_factory.mktemp("clones")
    return [trained_clone(where, tiny_model_dir, "ana", 8), trained_clone(where, tiny_model_dir, "ana-formal", 32)]


def test_command_line_maps_each_clone_to_its_adapter(clones, tiny_model_dir, tmp_path):
    (first, run1), (second, run2) = clones
    built = vllm.plan([first, second], port=8123, template_dir=tmp_path)
    cmd = built.command
    assert cmd[:3] == ["vllm", "serve", str(tiny_model_dir)]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8123"
    assert "--enable-lora" in cmd
    assert cmd[cmd.index("--max-lora-rank") + 1] == "32"           # the larger of ranks 8 and 32
    assert cmd[cmd.index("--max-loras") + 1] == "2"
    modules = cmd[cmd.index("--lora-modules") + 1: cmd.index("--chat-template")]
    assert modules == [f"{first}={run1.adapter}", f"{second}={run2.adapter}"]
    assert cmd[cmd.index("--served-model-name") + 1] == str(tiny_model_dir)
    template = cmd[cmd.index("--chat-template") + 1]
    assert open(template).read() == models.load_tokenizer(models.resolve(first)).chat_template
    assert [a.context for a in built.adapters] == ["You are Maggie.", "You are Maggie."]
    assert built.base_url == "http://127.0.0.1:8123/v1"
    assert vllm.max_lora_rank([100]) == 128


def test_clones_of_different_bases_are_refused(clones, tiny_model_dir, tmp_path):
    other_base = tmp_path / "other-base"
    shutil.copytree(tiny_model_dir, other_base)
    other, _ = trained_clone(tmp_path, other_base, "bob", 8)
    with pytest.raises(SelfcloneError, match="different bases") as err:
        vllm.plan([clones[0][0], other])
    assert "--port" in err.value.hint
    with pytest.raises(SelfcloneError, match="not a clone"):
        vllm.plan([str(tiny_model_dir)])


def test_without_vllm_the_command_says_how_to_install_it(clones, capsys):
    assert main(["serve", "vllm", clones[0][0]]) == 2
    err = capsys.readouterr().err
    assert "vLLM is not installed" in err and "pip install vllm" in err
    assert main(["serve", "vllm", clones[0][0], "--dry-run", "--port", "8124"]) == 0
    out = capsys.readouterr().out
    assert "--enable-lora" in out and "--backend vllm" in out


class Recorder(BaseHTTPRequestHandler):
    """The chat-completions route of an OpenAI-compatible server (what vLLM serves), recording each request."""

    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.seen.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = {"id": "1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "delta": {"content": "aye."}, "finish_reason": None}]}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args):
        pass


def test_the_trained_system_prompt_is_applied_on_our_side(clones, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = main(["ask", clones[0][0], "how are the bees?", "--backend", "vllm",
                     "-o", f"base_url=http://127.0.0.1:{server.server_port}/v1"])
    finally:
        server.shutdown()
    assert code == 0, capsys.readouterr().err
    assert "aye." in capsys.readouterr().out
    request = Recorder.seen[-1]
    assert request["model"] == clones[0][0]                  # the LoRA module's served name
    assert request["messages"][0] == {"role": "system", "content": "You are Maggie."}
    assert request["messages"][-1]["content"] == "how are the bees?"
