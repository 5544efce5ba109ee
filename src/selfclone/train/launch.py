"""`--launcher accelerate`: the `accelerate launch` command that runs a prepared run in several processes.

    cmd = accelerate_command(run_path, config=Path("fsdp.yaml"), processes=None)
    # ['python', '-m', 'accelerate.commands.launch', '--config_file', 'fsdp.yaml', '-m', 'selfclone', 'train',
    #  '--resume', 'runs/RUN']

The parent process checks the data and creates the run directory (so every rank trains the same run), then each
rank resumes it from step 0. The Accelerate config (YAML or JSON, as `accelerate config` writes it) is read here
first, so a file that does not parse is named with its parse error instead of a traceback from inside the
launcher, and its DeepSpeed or FSDP choice is checked against what is installed. docs/SCALE.md has example configs.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from ..errors import ConfigError

LAUNCHERS = ("none", "accelerate")


def read_accelerate_config(path: Path) -> dict:
    """The parsed config file, or ConfigError naming the file and what is wrong with it."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the Accelerate config {path}: {exc.strerror or exc}",
                          "pass the file `accelerate config --config_file FILE` wrote") from None
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"the Accelerate config {path} does not parse: {' '.join(str(exc).split())}",
                          "fix the line it names, or write a new one with `accelerate config --config_file FILE`") \
            from None
    if not isinstance(data, dict):
        raise ConfigError(f"the Accelerate config {path} is not a mapping of settings (got {type(data).__name__})",
                          "write it with `accelerate config --config_file FILE` (docs/SCALE.md has examples)")
    kind = str(data.get("distributed_type", "")).upper()
    if kind == "DEEPSPEED" and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(f"{path} asks for DeepSpeed, which is not installed",
                          "pip install deepspeed==0.19.0 on the training machines, or use an FSDP or DDP config")
    return data


def accelerate_command(run_path: Path, *, config: Path | None = None, processes: int | None = None) -> list[str]:
    """The command that trains `run_path` in several processes. Without a config file or --processes, Accelerate's
    own default config (`accelerate config`) decides; on a CPU machine, 2 processes talk over gloo."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config is not None:
        read_accelerate_config(config)
        cmd += ["--config_file", str(config)]
    if processes is not None:
        if processes < 1:
            raise ConfigError(f"--processes must be >= 1, got {processes}")
        cmd += ["--num_processes", str(processes)]
        if config is None and processes > 1:
            cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return cmd + ["-m", "selfclone", "train", "--resume", str(run_path)]
