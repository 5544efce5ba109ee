"""Shared fixtures: the real embedded model, a tiny model built in-process, an echo Backend, workspaces.

Every test runs offline on CPU. The clone index goes to a temporary SELFCLONE_HOME; the converted-model
cache (SELFCLONE_CACHE, default ~/.cache/selfclone) is shared so the GGUF is dequantized once per machine.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

# The Ctrl-C tests send SIGINT to real child processes. A shell that starts the suite in the background (`make test &`
# without job control, nohup) leaves SIGINT ignored, which every child would inherit, so those tests would fail for
# the shell's sake: a caught SIGINT here is reset to the default in each child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _private_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("selfclone-home")
    os.environ["SELFCLONE_HOME"] = str(home)
    yield home


@pytest.fixture(scope="session")
def embedded():
    """(model, tokenizer) of the real embedded SmolLM2-135M-Instruct."""
    from selfclone import models

    return models.load(models.resolve("smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama with the real SmolLM2 tokenizer, random weights, saved as a Hugging Face folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from selfclone import models

    tokenizer = models.load_tokenizer(models.resolve("smollm2-135m"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


class EchoBackend:
    """A real Backend that repeats the last user message: for testing servers and loops, not generation."""

    name = "echo"

    import pydantic as _pd

    class Options(_pd.BaseModel):
        prefix: str = "echo: "

    def __init__(self, model: str = "echo", options=None, **_):
        self.options = options or self.Options()
        self.model_name = model

    def chat(self, messages: Sequence[dict], options) -> Iterator[str]:
        text = self.options.prefix + messages[-1]["content"]
        for word in text.split(" "):
            yield word + " "

    def candidates(self, messages, options) -> list[str]:
        return [f"{self.options.prefix}{messages[-1]['content']} #{i}" for i in range(options.n)]


@pytest.fixture(scope="session", autouse=True)
def _register_echo_backend():
    from selfclone.plugins import hookimpl, load_plugins

    class EchoPlugin:
        @hookimpl
        def register_backends(self, register):
            register(EchoBackend)

    pm = load_plugins()
    pm.register(EchoPlugin(), "test-echo")
    yield
    pm.unregister(name="test-echo")


@pytest.fixture
def ws(tmp_path):
    from selfclone.workspace import Workspace

    return Workspace.init(tmp_path / "ws", person="Maggie")


@pytest.fixture
def cli(capsys):
    """`code, out, err = cli("notes", "list")`: the real CLI in-process; err with Rich's line wrapping undone."""
    from selfclone.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, " ".join(out.err.split())

    return run


@pytest.fixture
def tiny_filesystem():
    """`with tiny_filesystem(folder, size) as folder:` a tmpfs of `size` bytes mounted there, so writes past it fail
    with a real ENOSPC; the test is skipped where mounting is not allowed (it needs root; CI runs as root)."""
    import contextlib
    import subprocess

    @contextlib.contextmanager
    def mounted(where, size: int):
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
        try:
            yield where
        finally:
            subprocess.run(["umount", str(where)], check=True)

    return mounted
