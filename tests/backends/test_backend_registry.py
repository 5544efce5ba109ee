"""open_backend: one place resolves the model and picks the backend; a backend that loads GGUF files is handed a clone
as its GGUF, which comes from the `clone_gguf` hook (the export area implements it), never as the clone itself."""
from pathlib import Path

import pydantic
import pytest

from selfclone import models
from selfclone.backends.registry import DEFAULT, LOCAL_BACKENDS, open_backend
from selfclone.errors import BackendError
from selfclone.plugins import hookimpl, load_plugins


class FileBackend:
    """A real (if silent) Backend that loads GGUF files: it keeps what it was handed."""

    name = "file-test"
    loads = "gguf"

    class Options(pydantic.BaseModel):
        quantize: str = "q8_0"

    def __init__(self, model, options=None, **_):
        self.ref, self.options = model, options

    def chat(self, messages, options):
        yield from ()

    def candidates(self, messages, options):
        return [""] * options.n


class Exporter:
    def __init__(self, folder: Path):
        self.folder, self.asked = folder, []

    @hookimpl
    def register_backends(self, register):
        register(FileBackend)

    @hookimpl
    def clone_gguf(self, ref, quantize):
        self.asked.append((ref.name, quantize))
        path = self.folder / f"{quantize}.gguf"
        path.write_bytes(b"GGUF")
        return path, {"passed": True}


class OnlyTheBackend:
    @hookimpl
    def register_backends(self, register):
        register(FileBackend)


@pytest.fixture
def exporter(tmp_path):
    plugin = Exporter(tmp_path)
    load_plugins().register(plugin, "test-exporter")
    yield plugin
    load_plugins().unregister(name="test-exporter")


def clone(tmp_path) -> models.ModelRef:
    return models.ModelRef("ft:smollm2-135m:maggie:RUN", "clone", str(tmp_path / "run" / "adapter"),
                           base="smollm2-135m", run_dir=tmp_path / "run", info={"default_context": "You are Maggie."})


def test_a_gguf_backend_gets_the_clone_as_its_exported_file(exporter, tmp_path):
    backend = open_backend(clone(tmp_path), "file-test", ["quantize=q4_k_m"])
    assert exporter.asked == [("ft:smollm2-135m:maggie:RUN", "q4_k_m")]       # the backend's own quantize option
    ref = backend.ref
    assert (ref.kind, ref.path, ref.name) == ("gguf", str(tmp_path / "q4_k_m.gguf"), "ft:smollm2-135m:maggie:RUN")
    assert ref.info == {"default_context": "You are Maggie.", "fidelity": {"passed": True}}


def test_other_backends_get_the_clone_itself_and_nothing_is_exported(exporter, tmp_path):
    backend = open_backend(clone(tmp_path), "echo")
    assert exporter.asked == [] and backend.model_name.kind == "clone"


def test_a_gguf_backend_without_an_exporter_says_what_to_do(tmp_path):
    pm = load_plugins()
    blocked = pm.get_plugin("selfclone.export.first_use")
    pm.unregister(blocked)
    pm.register(OnlyTheBackend(), "test-only-backend")
    try:
        with pytest.raises(BackendError, match="nothing here exports the clone") as err:
            open_backend(clone(tmp_path), "file-test")
        assert "selfclone export" in err.value.hint and "--backend transformers" in err.value.hint
    finally:
        pm.unregister(name="test-only-backend")
        pm.register(blocked, "selfclone.export.first_use")


def test_every_talking_command_defaults_to_auto():
    import inspect

    from selfclone.bench.recall import bench_recall
    from selfclone.evaluate.commands import probe_cmd, turing_cmd
    from selfclone.serve.generation_options import BACKEND

    assert DEFAULT == "auto" and DEFAULT in LOCAL_BACKENDS and BACKEND.default == DEFAULT
    for command in (turing_cmd, probe_cmd, bench_recall):
        assert inspect.signature(command).parameters["backend"].default.default == DEFAULT


def test_a_terminal_keeps_one_slot_unless_slots_are_given():
    """`users`: chat and ask hold one conversation, so llama.cpp keeps one KV slot (memory), unless -o slots=N."""
    pytest.importorskip("llama_cpp")
    one = open_backend("smollm2-135m", "llamacpp", ["n_ctx=256", "threads=2"], users=1)
    assert one.options.slots == 1 and one.engine.slots == 1
    three = open_backend("smollm2-135m", "llamacpp", ["n_ctx=256", "threads=2", "slots=3"], users=1)
    assert three.options.slots == 3 and three.engine.slots == 3
    assert open_backend("smollm2-135m", "llamacpp", ["n_ctx=256", "threads=2"]).options.slots == 4
