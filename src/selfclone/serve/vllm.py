"""`selfclone serve vllm CLONE... [--port 8000]`: vLLM's OpenAI-compatible server on the clones' shared base, with
each clone's LoRA adapter as a served model of its own name.

    selfclone serve vllm ft:qwen2.5-7b:ana:RUN1 ft:qwen2.5-7b:ana-formal:RUN2 --port 8000
    selfclone chat ft:qwen2.5-7b:ana:RUN1 --backend vllm                      # or web, the bots, serve api
    selfclone serve vllm CLONE --dry-run                                       # print the command only

The command line carries `--enable-lora --lora-modules NAME=ADAPTER ...`, `--max-lora-rank` (the largest adapter
rank, rounded up to one vLLM accepts), `--chat-template` (the template the clones were trained with, written to a
file), the served names and 127.0.0.1 unless --host says otherwise. vLLM's LoRA modules cannot carry a system
prompt, so the prompt each clone was trained with is applied on our side: a conversation through the `vllm` (or
`openai`) backend under a clone's name gets its run's default context (models.trained_context).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from .. import config as config_mod
from .. import models
from ..errors import SelfcloneError
from ..plugins import hookimpl
from ..terminal import console, workspace

LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)     # the --max-lora-rank values vLLM accepts


@dataclass(frozen=True)
class Adapter:
    name: str            # the served model name: the clone's name
    path: Path           # its adapter folder (adapter_config.json, adapter_model.safetensors)
    rank: int
    context: str | None  # the system prompt it was trained with (applied by our ChatSession)


@dataclass(frozen=True)
class Plan:
    base: str            # what vLLM loads: a local folder or a hub id
    base_name: str       # the base's own served name
    adapters: tuple[Adapter, ...]
    chat_template: Path | None
    command: list[str]

    @property
    def base_url(self) -> str:
        host, port = self.command[self.command.index("--host") + 1], self.command[self.command.index("--port") + 1]
        return f"http://{host}:{port}/v1"


def adapter_of(ref: models.ModelRef) -> Adapter:
    """A LoRA clone's adapter as vLLM loads it; a clone with merged weights or no adapter is refused."""
    if ref.kind != "clone":
        raise SelfcloneError(f"'{ref.name}' is a {ref.kind} model, not a clone", "pass clones (see `selfclone models`); "
                             "a base alone is served by `vllm serve MODEL` itself")
    adapter_dir = Path(ref.run_dir) / "adapter"
    config = adapter_dir / "adapter_config.json"
    if not config.exists():
        raise SelfcloneError(f"clone '{ref.name}' has no LoRA adapter (it was trained with every weight, or has not "
                             f"finished): vLLM adds adapters to one shared base",
                             f"serve its model folder on its own: `vllm serve {Path(ref.run_dir) / 'model'}`")
    rank = int(json.loads(config.read_text()).get("r", 16))
    return Adapter(ref.name, adapter_dir, rank, models.trained_context(ref))


def max_lora_rank(ranks) -> int:
    top = max(ranks)
    for allowed in LORA_RANKS:
        if top <= allowed:
            return allowed
    raise SelfcloneError(f"a LoRA rank of {top} is more than vLLM serves (at most {LORA_RANKS[-1]})",
                         "retrain the clone with a smaller --lora-rank")


def trained_template(ref: models.ModelRef) -> str | None:
    """The chat template a clone was trained with: its run's saved tokenizer's."""
    tokenizer = models.load_tokenizer(ref)
    template = getattr(tokenizer, "chat_template", None)
    return template if isinstance(template, str) else None


def write_template(template: str, where: Path) -> Path:
    from ..fileio import atomic_open

    path = where / f"chat-template-{hashlib.sha1(template.encode()).hexdigest()[:12]}.jinja"
    where.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        fh.write(template)
    return path


def plan(names: list[str], *, port: int = 8000, host: str = "127.0.0.1", workspace_runs: Path | None = None,
         template_dir: Path | None = None, extra: list[str] | None = None) -> Plan:
    """Resolve the clones, check they share a base, write the chat template, and build vLLM's command line."""
    if not names:
        raise SelfcloneError("no clones to serve", "pass one or more clone names: `selfclone serve vllm CLONE...`")
    refs = [models.resolve(name, workspace_runs) for name in names]
    adapters = [adapter_of(ref) for ref in refs]
    bases = {ref.base for ref in refs}
    if len(bases) > 1:
        which = "; ".join(f"{ref.name}: {ref.base}" for ref in refs)
        raise SelfcloneError(f"these clones have different bases ({which}), and one vLLM server serves one base",
                             "start one `selfclone serve vllm` per base, each on its own --port")
    if len({a.name for a in adapters}) < len(adapters):
        raise SelfcloneError("the same clone is named twice", "pass each clone once")
    base_ref = models.resolve(refs[0].base)
    base = base_ref.path if base_ref.kind == "hub" else models.local_dir(base_ref)
    templates = {t for t in (trained_template(ref) for ref in refs) if t}
    if len(templates) > 1:
        raise SelfcloneError("the clones were trained with different chat templates, and vLLM applies one per server",
                             "serve them from separate `selfclone serve vllm` commands")
    template_path = write_template(templates.pop(), template_dir or config_mod.cache_dir() / "vllm") \
        if templates else None
    command = ["vllm", "serve", str(base), "--host", host, "--port", str(port),
               "--served-model-name", refs[0].base, "--enable-lora",
               "--max-lora-rank", str(max_lora_rank(a.rank for a in adapters)), "--max-loras", str(len(adapters)),
               "--lora-modules", *[f"{a.name}={a.path}" for a in adapters]]
    if template_path is not None:
        command += ["--chat-template", str(template_path)]
    return Plan(str(base), refs[0].base, tuple(adapters), template_path, command + list(extra or []))


def vllm_command(plan_: Plan) -> list[str]:
    """The plan's command with the `vllm` executable found, or a clear error where vLLM is not installed."""
    exe = shutil.which("vllm") or (str(Path(sys.executable).parent / "vllm")
                                   if importlib.util.find_spec("vllm") is not None else None)
    if exe is None:
        raise SelfcloneError("vLLM is not installed in this environment",
                             "on a machine with an NVIDIA GPU: pip install vllm==0.33.0, then run this again "
                             "(--dry-run prints the command without vLLM)")
    return [exe, *plan_.command[1:]]


def serve_vllm(clones: list[str] = typer.Argument(..., help="LoRA clones of one base (see `selfclone models`)"),
               port: int = typer.Option(8000, help="port of the OpenAI-compatible server"),
               host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 opens it to the network)"),
               dry_run: bool = typer.Option(False, "--dry-run", help="print the vLLM command and stop"),
               vllm_arg: list[str] = typer.Option(None, "--vllm-arg", help="one more argument for vLLM (repeatable), "
                                                  "e.g. --vllm-arg=--gpu-memory-utilization=0.8")):
    """Serve LoRA clones of one base through vLLM's OpenAI-compatible server (GPU machines)."""
    ws = workspace(required=False)
    built = plan(clones, port=port, host=host, workspace_runs=ws.runs_dir if ws else None, extra=vllm_arg)
    for adapter in built.adapters:
        context = f"  (system prompt applied by selfclone: {adapter.context[:60]!r})" if adapter.context else ""
        console.print(f"  {adapter.name} <- {adapter.path}{context}", highlight=False)
    console.print(f"talk to them: selfclone chat {built.adapters[0].name} --backend vllm -o base_url={built.base_url}",
                  highlight=False, markup=False)
    if dry_run:
        console.print(" ".join(built.command), highlight=False, markup=False)
        return
    command = vllm_command(built)
    try:
        code = subprocess.call(command)
    except KeyboardInterrupt:
        code = 0
    if code:
        raise SelfcloneError(f"vLLM stopped with exit code {code} (its output is above)",
                             "check the GPU's memory (--vllm-arg=--gpu-memory-utilization=0.8) and the adapters")


class VLLMFrontend:
    """Serve LoRA clones of one base through vLLM's OpenAI-compatible server (GPU machines)."""

    name = "vllm"
    command = staticmethod(serve_vllm)


@hookimpl
def register_frontends(register):
    register(VLLMFrontend)
