"""Export to GGUF/Ollama for real: llama.cpp's converter and quantizer, the fidelity check, the Modelfile template."""
import importlib.util
import json
from pathlib import Path

import pytest

from selfclone import models
from selfclone.dataset.chat import Example
from selfclone.export import gguf, ollama
from selfclone.export.pipeline import cached_gguf, export_model

needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python is not installed (make setup installs it)")
DEMO_HELDOUT = Path(models.__file__).parent / "resources" / "demo" / "heldout.jsonl"

CONVERSATIONS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "tea?"}],
    [{"role": "system", "content": "You are Maggie."}, {"role": "user", "content": "tea?"},
     {"role": "assistant", "content": "stewed, milk after. — over."}, {"role": "user", "content": "and {{ honey }}?"}],
    [{"role": "user", "content": "line one\nline two"}, {"role": "assistant", "content": "aye"},
     {"role": "user", "content": "  spaces  "}],
]


@pytest.mark.parametrize("quantize", ["q4_1", "Q5_0", "int8", ""])
def test_unknown_quantization_is_refused(quantize):
    with pytest.raises(gguf.ExportError) as err:
        export_model(models.resolve("smollm2-135m"), "gguf", quantize, check=DEMO_HELDOUT)
    assert "q8_0" in err.value.hint
    if quantize == "q4_1":
        assert "never offered" in err.value.message


def test_modelfile_template_renders_exactly_the_hf_chat_template():
    tokenizer = models.load_tokenizer(models.resolve("smollm2-135m"))
    template = ollama.template_for(tokenizer)
    for messages in CONVERSATIONS:
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert ollama.render(template, messages) == expected
    # the Modelfile's SYSTEM comes first when a conversation has none, as the clone was trained
    with_system = [{"role": "system", "content": "You are Maggie."}, *CONVERSATIONS[0]]
    assert ollama.render(template, CONVERSATIONS[0], system="You are Maggie.") == \
        tokenizer.apply_chat_template(with_system, tokenize=False, add_generation_prompt=True)


def test_non_chatml_template_is_refused_for_ollama(tiny_model_dir):
    tokenizer = models.load_tokenizer(models.resolve(str(tiny_model_dir)))
    tokenizer.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    with pytest.raises(gguf.ExportError, match="not ChatML"):
        ollama.template_for(tokenizer)


def test_unsupported_architecture_is_refused():
    class Config:
        architectures = ["TotallyNewForCausalLM"]

    with pytest.raises(gguf.ExportError, match="cannot convert the architecture TotallyNewForCausalLM"):
        gguf.check_architecture(Config())


@needs_llama
@pytest.mark.slow
def test_embedded_model_exports_to_ollama_within_the_threshold(tmp_path):
    check = tmp_path / "check.jsonl"
    check.write_text("\n".join(DEMO_HELDOUT.read_text().splitlines()[:6]) + "\n")
    done = export_model(models.resolve("smollm2-135m"), "ollama", "q8_0", out=tmp_path / "base-ollama", check=check)
    assert not done.refused and done.fidelity.passed
    assert done.fidelity.gguf_loss <= done.fidelity.merged_loss * 1.01
    assert done.path.exists() and done.path.parent == tmp_path / "base-ollama"
    assert not [p for p in (tmp_path / "base-ollama").iterdir() if p.name.startswith(".")]   # no temp left
    text = done.modelfile.read_text()
    assert text.startswith(f"FROM ./{done.path.name}\n") and 'PARAMETER stop "<|im_end|>"' in text
    from llama_cpp import Llama

    llm = Llama(model_path=str(done.path), n_ctx=256, verbose=False)
    assert "<|im_start|>" in llm.metadata["tokenizer.chat_template"]      # the trained template travels along
    out = llm.create_chat_completion([{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0)
    assert out["choices"][0]["message"]["content"].strip()


@needs_llama
@pytest.mark.slow
def test_tiny_clone_is_exported_on_first_use_and_cached(tmp_path, tiny_model_dir):
    from selfclone.backends.llamacpp_backend import LlamaCppBackend
    from selfclone.backends.registry import open_backend
    from selfclone.config import GenerationOptions
    from selfclone.errors import BackendError
    from selfclone.train import sft
    from selfclone.train.settings import SFTSettings

    replies = ["aye, the tide turns at six.", "stewed tea, milk after. over."]
    data = [Example.chat(("user", f"question {i}?"), ("assistant", replies[i % 2]), system="You are Maggie.")
            for i in range(16)]
    settings = SFTSettings(model=str(tiny_model_dir), batch_size=4, report_to=("none",), precision="fp32",
                           learning_rate_multiplier=50.0, epochs=2)
    run = sft.prepare_run(data, data[:6], settings, tmp_path / "run", tmp_path, {"train_file": "mem"})
    sft.train(run)
    ref = models.resolve(str(run.path))
    path, report = cached_gguf(ref, "q8_0")
    assert report["passed"] and report["base_loss"] > report["merged_loss"]      # the clone gained, the GGUF kept it
    assert report["gguf_loss"] <= report["limit"]
    assert json.loads(path.with_suffix(".json").read_text()) == report
    mtime = path.stat().st_mtime_ns
    backend = open_backend(ref, "auto")             # second use, as chat/serve/bots open it: the cached file
    assert isinstance(backend, LlamaCppBackend) and backend.fidelity == report
    assert path.stat().st_mtime_ns == mtime and backend.path == str(path)
    with pytest.raises(BackendError, match="loads GGUF files"):         # the backend itself only loads files
        LlamaCppBackend(ref)
    text = "".join(backend.chat(data[0].prompt(), GenerationOptions(max_tokens=12, temperature=0)))
    assert text.strip()


def test_a_model_whose_tokenizer_added_tokens_is_refused(tmp_path, tiny_model_dir):
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path / "added"
    shutil.copytree(tiny_model_dir, folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.add_tokens(["<|maggie|>"])
    tokenizer.save_pretrained(folder)
    with pytest.raises(gguf.ExportError, match="added tokens") as err:
        gguf.merged(models.resolve(str(folder)))
    assert "--full --merge" in err.value.hint
