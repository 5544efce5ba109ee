"""The web app's FastAPI factory: `create_web_app(people, model=...)` serves the chat page (vendored assets, no CDN)
and its JSON/streaming routes under /web. Conversations go through BotConversations (one ChatSession each, kept in
the store's chat_threads table, channel "web"), so a reload keeps them. With an API key, every route but /login
needs the sign-in cookie (or `Authorization: Bearer KEY`). The OpenAI-compatible API of `serve api`
(`api=create_app(pool)`) is served under /v1 in the same process.

    app = create_web_app(people, model="smollm2-135m", api_key=None)
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ...config import GenerationOptions
from ...errors import ConfigError, SelfcloneError
from ...plugins import web_pages
from ...persona.conversations import list_threads, load_thread
from ..bot_conversations import BotConversations

STATIC = Path(__file__).parent / "static"
COOKIE = "selfclone_key"
LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>selfclone: sign in</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main class="login"><h1>selfclone</h1>
<form method="post" action="/login"><label for="key">Key</label> <input id="key" name="key" type="password" autofocus>
<button>Sign in</button></form>{error}</main></body></html>"""

@dataclass(frozen=True)
class Site:
    """What a web page (a `register_web_pages` plugin) gets: the served backend, options, store and model."""

    backend: object
    options: GenerationOptions
    store: Callable | None
    model: str


def create_web_app(people: BotConversations, *, model: str, api_key: str | None = None,
                   api: FastAPI | None = None) -> FastAPI:
    """The pages and their routes; `api` (serve/api's create_app) is served in the same process under /v1."""
    app = FastAPI(title="selfclone", docs_url=None, redoc_url=None)
    app.state.people = people

    def signed_in(request) -> bool:
        if not api_key:
            return True
        given = request.cookies.get(COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), api_key.encode())

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        if request.url.path in ("/login", "/static/style.css") or signed_in(request):
            return await call_next(request)
        if request.url.path.startswith(("/web/", "/v1/")):
            return JSONResponse({"error": {"message": "sign in first: the key is missing or wrong",
                                           "type": "authentication_error"}}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(SelfcloneError)
    async def library_error(request, exc: SelfcloneError):
        return JSONResponse({"error": {"message": exc.message, "hint": exc.hint}}, status_code=400)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page():
        return LOGIN_PAGE.format(error="")

    @app.post("/login")
    async def login(request: Request):
        form = (await request.body()).decode()
        key = (parse_qs(form).get("key") or [""])[0]
        if not api_key or not hmac.compare_digest(key.encode(), api_key.encode()):
            return HTMLResponse(LOGIN_PAGE.format(error='<p class="error">Wrong key.</p>'), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
        return response

    @app.get("/", response_class=HTMLResponse)
    async def chat_page():
        return (STATIC / "chat.html").read_text(encoding="utf-8")

    @app.get("/web/info")
    async def info():
        return {"model": model, "models": [model], "context": people.context, "memory": people.memory,
                "temperature": people.options.temperature, "max_tokens": people.options.max_tokens}

    @app.get("/web/conversations")
    def conversations():
        if not people.store:
            return {"conversations": []}
        with people.store() as store:
            return {"conversations": list_threads(store, people.channel)}

    @app.get("/web/conversations/{key}")
    def conversation(key: str):
        kept = None
        if people.store:
            with people.store() as store:
                kept = load_thread(store, people.channel, key)
        history = kept[0] if kept else (people.sessions[key][0].history if key in people.sessions else [])
        return {"id": key, "messages": history}

    @app.post("/web/conversations")
    async def new_conversation():
        return {"id": secrets.token_hex(8)}

    @app.post("/web/chat")
    async def chat(request: Request):
        body = await request.json()
        text = str(body.get("text") or "").strip()
        key = str(body.get("conversation") or "")
        if not text or not key:
            raise ConfigError("a chat message needs text and a conversation id", "type a message first")
        options = people.options.with_(temperature=_number(body, "temperature", float),
                                       max_tokens=_number(body, "max_tokens", int))
        memory = _number(body, "memory", int)
        context = body.get("context")
        pieces = people.stream(key, text, options=options, context=context if context else None, memory=memory)
        return StreamingResponse(pieces, media_type="text/plain; charset=utf-8",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    @app.post("/web/reset")
    async def reset(request: Request):
        key = str((await request.json()).get("conversation") or "")
        people.reset(key)
        return {"id": key, "messages": []}

    pages = web_pages()

    @app.get("/web/pages")
    async def page_list():
        return {"pages": [{"name": "chat", "title": "Chat", "url": "/"}] +
                         [{"name": n, "title": p.title, "url": f"/{n}"} for n, p in sorted(pages.items())]}

    site = Site(people.backend, people.options, people.store, model)
    for page in pages.values():
        app.include_router(page().router(site))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if api is not None:
        app.mount("/", api)          # last: whatever the pages do not answer (/v1/...) goes to the API
    return app


def _number(body: dict, name: str, kind):
    value = body.get(name)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}") from exc
