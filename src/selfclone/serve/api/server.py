"""The `serve api` frontend: `selfclone serve api [MODEL...] [--host 127.0.0.1] [--port 8000] [--api-key KEY]`.

It refuses a non-loopback address without a key and a port that is in use, then runs the app with uvicorn.

    SELFCLONE_API_KEY=sk-local selfclone serve api ft:smollm2-135m:maggie:RUN --port 8000
"""
from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import subprocess
import sys

import typer

from ...config import ServeSettings
from ...errors import ConfigError, SelfcloneError
from ...plugins import hookimpl
from ...terminal import console, workspace
from .. import generation_options as flags
from .app import create_app
from .model_pool import ModelPool


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, api_key: str | None) -> None:
    """Raise a clear error for an open bind without a key, or a port already taken."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"refusing to serve on {host} without an API key: anyone on the network could use it",
                          "pass --api-key KEY (or set SELFCLONE_API_KEY), or bind --host 127.0.0.1")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SelfcloneError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                 f"another server is using port {port}: stop it or pass --port N") from exc


def api(model: list[str] = typer.Argument(None, help="models to load at start (others load on first request)"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind (non-loopback needs --api-key)"),
        port: int = typer.Option(8000, "--port"),
        api_key: str = typer.Option(None, "--api-key", envvar="SELFCLONE_API_KEY",
                                    help="require Authorization: Bearer KEY"),
        backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """An OpenAI-compatible API under /v1 (models, chat, completions)."""
    import uvicorn

    check_bind(host, port, api_key)
    ws = workspace(required=False)
    settings = ws.config.serve if ws else ServeSettings()
    pool = ModelPool(settings, backend=backend, backend_options=option, workspace_runs=ws.runs_dir if ws else None,
                     served=tuple(model or ()), system=ws.config.system if ws else None)
    for name in model or ():
        with console.status(f"loading {name} ..."):
            pool.get(name)
    app = create_app(pool, generation=ws.config.generation if ws else None, api_key=api_key,
                     store_path=ws.store_path if ws else None)
    console.print(f"[green]serving[/] http://{host}:{port}/v1  models: {', '.join(model or ()) or 'on request'}")
    with job_worker(ws.root if ws else None):
        uvicorn.run(app, host=host, port=port, log_level="warning")


def start_worker(root) -> subprocess.Popen:
    """The job worker as a child process through the CLI: serve never imports train (docs/ARCHITECTURE.md). It is a
    supervisor that trains each job in a process of its own (`[jobs] concurrency`, docs/JOBS.md)."""
    return subprocess.Popen([sys.executable, "-m", "selfclone", "jobs", "worker"], cwd=root)


@contextlib.contextmanager
def job_worker(root):
    """The worker of the workspace at `root` (None: no workspace, no worker) while the block runs; `serve api` and
    `serve web` both run their server inside it."""
    worker = start_worker(root) if root else None
    try:
        yield worker
    finally:
        if worker is not None:      # Ctrl-C: the worker checkpoints the running job; the next start resumes it
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()


class APIFrontend:
    """An OpenAI-compatible API (chat, completions, models) on 127.0.0.1."""

    name = "api"
    command = staticmethod(api)


@hookimpl
def register_frontends(register):
    register(APIFrontend)
