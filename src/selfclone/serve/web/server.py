"""`selfclone serve web [MODEL] [--host] [--port] [--api-key] [--open]` and `selfclone app` (the same, opening
the browser): the pages and the OpenAI-compatible API under /v1 in one process, on 127.0.0.1 by default; any other
address needs --api-key. The pages and /v1 share one model pool (the chat page talks through the pool's copy of the
served model), and inside a workspace the job worker runs as a child process, as with `serve api`, so the Train
page's jobs train.

    selfclone app ft:smollm2-135m:maggie:RUN
    selfclone serve web smollm2-135m --host 0.0.0.0 --api-key s3cret
"""
from __future__ import annotations

import threading
import webbrowser

import typer

from ...plugins import hookimpl
from .. import generation_options as flags
from ..bot_conversations import open_bot


def web(model: str = typer.Argument(None, help="model or clone name (default: the workspace's model)"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind; beyond loopback needs --api-key"),
        port: int = typer.Option(8000, "--port"),
        api_key: str = typer.Option(None, "--api-key", envvar="SELFCLONE_API_KEY", help="key the browser signs in with"),
        open_browser: bool = typer.Option(False, "--open", help="open the chat page in the browser"),
        translate: str = flags.TRANSLATE, context: str = flags.CONTEXT, memory: int = flags.MEMORY,
        max_tokens: int = flags.MAX_TOKENS, temperature: float = flags.TEMPERATURE,
        backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """The web app: chat with the clone in the browser."""
    import uvicorn

    from ...terminal import workspace
    from ..api.server import check_bind, job_worker

    check_bind(host, port, api_key)
    app, _, _ = build_web(model, backend=backend, option=option, api_key=api_key, translate=translate,
                          context=context, memory=memory, max_tokens=max_tokens, temperature=temperature)
    ws = workspace(required=False)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, (f"http://{host}:{port}/",)).start()
    with job_worker(ws.root if ws else None):      # the Train page's jobs run here, as with `serve api`
        uvicorn.run(app, host=host, port=port, log_level="info")


def build_web(model: str | None, *, backend: str, option, api_key: str | None, translate: str | None, **talk_values):
    """(app, pool, people) of `serve web`: one model pool for the pages and /v1, so the chat page talks through the
    pool's copy of the served model rather than loading a second one."""
    from ...config import DEFAULT_MODEL, ServeSettings
    from ...terminal import console, workspace
    from ..api.app import create_app
    from ..api.model_pool import ModelPool
    from .app import create_web_app

    ws = workspace(required=False)
    model = model or (ws.config.model if ws else DEFAULT_MODEL)
    pool = ModelPool(ws.config.serve if ws else ServeSettings(), backend=backend, backend_options=option,
                     workspace_runs=ws.runs_dir if ws else None, served=(model,), system=ws.config.system if ws else None)
    with console.status(f"loading {model} ..."):
        engine = pool.get(model).backend
    people, _ = open_bot("web", model, [], translate, backend, option, engine=engine, **talk_values)
    people.idle_seconds = 0           # a web conversation lasts until it is reset
    api = create_app(pool, generation=ws.config.generation if ws else None, api_key=api_key,
                     store_path=ws.store_path if ws else None)
    return create_web_app(people, model=model, api_key=api_key, api=api, workspace=ws), pool, people


def desktop_app(model: str = typer.Argument(None, help="model or clone name"),
                port: int = typer.Option(8000, "--port")):
    """The desktop app: the web app on 127.0.0.1, opened in the browser."""
    web(model=model, host="127.0.0.1", port=port, api_key=None, open_browser=True, translate=None, context=None,
        memory=None, max_tokens=None, temperature=None, backend="transformers", option=None)


class WebFrontend:
    """The web app: chat in the browser (127.0.0.1 unless --api-key)."""

    name = "web"
    command = staticmethod(web)


@hookimpl
def register_frontends(register):
    register(WebFrontend)
