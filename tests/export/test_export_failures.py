"""The export's failure paths, for real: a full disk (a tiny tmpfs, real ENOSPC at each stage of the export),
llama-cpp-python missing (a child process with the module blocked), llama.cpp's converter folder missing (a child
venv whose prefix has no share/llama.cpp). Each must leave no partial file and say what to do."""
import importlib.util
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import selfclone
from selfclone import models
from selfclone.export import gguf

needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="llama-cpp-python is not installed (make setup installs it)")
SRC = Path(selfclone.__file__).parents[1]
DEMO_HELDOUT = Path(selfclone.__file__).parent / "resources" / "demo" / "heldout.jsonl"
BLOCK_LLAMA = "import sys; sys.modules['llama_cpp'] = None  # as if llama-cpp-python were not installed\n"


def run_python(code: str, python: str = sys.executable, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
               COLUMNS="200", NO_COLOR="1")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def cli(*args: str) -> str:
    return f"import sys; from selfclone.cli import main; sys.exit(main({list(args)!r}))\n"


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """(ref, model, tokenizer) of the tiny model."""
    ref = models.resolve(str(tiny_model_dir))
    model, tokenizer = gguf.merged(ref)
    return ref, model, tokenizer


@pytest.fixture(scope="module")
def stage_sizes(tiny, tmp_path_factory) -> dict:
    """Bytes each stage of a real export writes: the HF folder, the f16 GGUF, the q8_0 GGUF."""
    ref, model, tokenizer = tiny
    work = tmp_path_factory.mktemp("sizes")
    gguf.write_hf_dir(model, tokenizer, work / "hf")
    f16 = gguf.export_gguf(ref, work / "f16.gguf", "f16", loaded=(model, tokenizer))
    q8 = gguf.export_gguf(ref, work / "q8.gguf", "q8_0", loaded=(model, tokenizer))
    hf = sum(p.stat().st_size for p in (work / "hf").rglob("*") if p.is_file())
    return {"hf": hf, "f16": f16.stat().st_size, "q8_0": q8.stat().st_size}


@needs_llama
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["weights", "converter", "quantizer"])
def test_a_full_disk_leaves_nothing_and_says_where_and_what_to_do(stage, tiny, stage_sizes, tmp_path,
                                                                    tiny_filesystem):
    ref, model, tokenizer = tiny
    room = {"weights": 256 * 1024,                                      # the HF weights do not fit
            "converter": stage_sizes["hf"] + stage_sizes["f16"] // 2,   # the f16 GGUF does not
            "quantizer": stage_sizes["hf"] + stage_sizes["f16"] + stage_sizes["q8_0"] // 2}[stage]
    with tiny_filesystem(tmp_path / "disk", room) as disk:
        out = disk / "clone.gguf"
        with pytest.raises(gguf.ExportError) as err:
            gguf.export_gguf(ref, out, "q8_0", loaded=(model, tokenizer))
        assert sorted(p.name for p in disk.iterdir()) == []         # no partial GGUF, no temporary folder
    assert "disk is full" in err.value.message and str(out) in err.value.message
    assert "free some space" in err.value.hint and "--out" in err.value.hint


@needs_llama
@pytest.mark.slow
def test_the_cli_reports_a_full_disk_as_one_clean_message(tiny_model_dir, tmp_path, tiny_filesystem):
    with tiny_filesystem(tmp_path / "disk", 256 * 1024) as disk:
        done = run_python(cli("export", str(tiny_model_dir), "--check", str(DEMO_HELDOUT),
                              "--out", str(disk / "tiny.gguf")))
        left = list(disk.iterdir())
    assert done.returncode != 0 and not left
    text = done.stdout + done.stderr
    assert "disk is full" in text and "tiny.gguf" in text and "Traceback" not in text


def test_without_llama_cpp_auto_talks_through_transformers_and_says_how_to_get_the_fast_path():
    code = BLOCK_LLAMA + textwrap.dedent("""
        from selfclone import models
        from selfclone.backends.registry import choose_backend, server_note
        backend, note = choose_backend("auto", models.resolve("smollm2-135m"))
        print(backend); print(note); print(server_note("auto"))
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    backend, note, server = done.stdout.strip().splitlines()
    assert backend == "transformers"
    assert "transformers" in note and "make setup" in note and "llama-cpp-python==0.3.36" in note
    assert server == note


def test_without_llama_cpp_the_llamacpp_backend_and_export_refuse_clearly(tmp_path):
    code = BLOCK_LLAMA + textwrap.dedent(f"""
        from selfclone import models
        from selfclone.backends.registry import open_backend
        from selfclone.errors import SelfcloneError
        from selfclone.export.pipeline import export_model
        for attempt in (lambda: open_backend("smollm2-135m", "llamacpp"),
                        lambda: export_model(models.resolve("smollm2-135m"), "gguf", "q8_0",
                                             out={str(tmp_path / 'x.gguf')!r}, check={str(DEMO_HELDOUT)!r})):
            try:
                attempt()
            except SelfcloneError as exc:
                print(exc.message, "|", exc.hint)
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    backend, export = done.stdout.strip().splitlines()
    assert "llamacpp backend needs llama-cpp-python" in backend and "make setup" in backend
    assert "needs llama-cpp-python" in export and "make setup" in export
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_without_llama_cpp_ask_answers_through_transformers_with_the_note(tmp_path):
    done = run_python(BLOCK_LLAMA + cli("ask", "smollm2-135m", "Say hi.", "--max-tokens", "4", "--temperature", "0"),
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    assert "talking through transformers" in text and "make setup" in text
    reply = text.split("llama-cpp-python==0.3.36", 1)[1].strip()
    assert reply                                                    # and it still answered


@pytest.fixture(scope="module")
def venv_without_converter(tmp_path_factory) -> str:
    """A venv that sees this environment's packages but whose prefix has no share/llama.cpp."""
    folder = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "selfclone-parent.pth").write_text("\n".join(ours) + "\n")
    assert not (folder / "share" / "llama.cpp").exists()
    return str(python)


def test_a_missing_converter_folder_says_make_setup(venv_without_converter, tmp_path):
    out = tmp_path / "x.gguf"
    done = run_python(cli("export", "smollm2-135m", "--check", str(DEMO_HELDOUT), "--out", str(out)),
                      python=venv_without_converter)
    text = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in text
    if importlib.util.find_spec("llama_cpp") is None:
        assert "needs llama-cpp-python" in text                # the first missing prerequisite is named first
    else:
        assert "converter is missing" in text and "share/llama.cpp/convert_hf_to_gguf.py" in text
        assert "make setup" in text
    assert not out.exists()


@needs_llama
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["weights", "converter", "check"])
def test_ctrl_c_during_an_export_leaves_no_half_written_gguf(stage, tiny_model_dir, tmp_path):
    """A real SIGINT to the export's process group (what Ctrl-C in a terminal sends), while it writes the merged
    weights, while llama.cpp's converter runs, or during the fidelity check of the written file: exit 130, and
    nothing at --out (no half-written and no unchecked GGUF), no temporary folder."""
    import signal
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "clone.gguf"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]), NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-c", cli("export", str(tiny_model_dir), "--check", str(DEMO_HELDOUT),
                                                       "--out", str(out), "--quantize", "q8_0")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    ready = {"weights": lambda work: any(work.glob("hf/*")), "converter": lambda work: (work / "hf").exists()
             and any((work / "hf").glob("*.safetensors")), "check": None}[stage]
    deadline = time.time() + 300
    work = None
    if stage == "check":        # the GGUF is in place: the fidelity check is running
        while time.time() < deadline and proc.poll() is None and not out.exists():
            time.sleep(0.01)
        work = out
    while stage != "check" and time.time() < deadline and proc.poll() is None:
        work = next((p for p in out_dir.iterdir() if p.name.startswith(".clone.gguf.")), None)
        if work is not None and ready(work):
            break
        time.sleep(0.01 if stage == "weights" else 0.05)
    assert work is not None and proc.poll() is None, "the export finished before it could be interrupted"
    if stage == "converter":     # the HF folder is written: wait until the converter process is running
        while time.time() < deadline and proc.poll() is None and not _has_child(proc.pid):
            time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr            # the CLI's exit code for an interrupt, no traceback
    assert "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []            # no GGUF, no half-written file, no temporary folder


def _has_child(pid: int) -> bool:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return children.exists() and bool(children.read_text().split())


def test_a_ctrl_c_while_the_work_folder_is_removed_still_removes_all_of_it(tmp_path):
    """The race CI once hit: the GGUF was in place and Ctrl-C came while the export removed its work folder.
    A real SIGINT is sent once the removal of 8,000 files has begun: the interrupt still comes out, and so does
    the whole folder."""
    import signal
    import threading

    folder = tmp_path / ".clone.gguf.work"
    for i in range(80):
        sub = folder / f"d{i:02d}"
        sub.mkdir(parents=True)
        for j in range(100):
            (sub / f"f{j}").write_bytes(b"x")
    first = folder / "d00" / "f0"
    sent_mid_removal = []

    def interrupt_once_begun():
        while first.exists():
            time.sleep(0)
        sent_mid_removal.append(folder.exists() and any(folder.iterdir()))
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    helper = threading.Thread(target=interrupt_once_begun)
    try:
        with pytest.raises(KeyboardInterrupt):
            helper.start()
            gguf.remove_tree(folder)
            time.sleep(5)           # the removal was faster than the helper: the interrupt lands here
        helper.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sent_mid_removal == [True], "the interrupt came after the removal: the test did not test it"
    assert not folder.exists()
