"""The web app's FastAPI factory: `create_web_app(people, model=...)` serves the chat page (vendored assets, no CDN)
and its JSON/streaming routes under /web. Conversations go through BotConversations (one ChatSession each, kept in
the store's chat_threads table, channel "web"), so a reload keeps them. With an API key, every route but /login
needs the sign-in cookie (or `Authorization: Bearer KEY`). The OpenAI-compatible API of `serve api`
(`api=create_app(pool)`) is served under /v1 in the same process; the cookie signs the browser in there too, so the
Train page can upload files and start jobs. Other pages (Rank, Review, Train, Models, Turing) plug in through the
`register_web_pages` hook and get a `Site`.

    app = create_web_app(people, model="smollm2-135m", api_key=None, workspace=ws)
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
from ...errors import ConfigError, SelfcloneError, WorkspaceError
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
    """What a web page (a `register_web_pages` plugin) gets: the served backend, options, store and model, and the
    workspace (None when the app runs outside one)."""

    backend: object
    options: GenerationOptions
    store: Callable | None
    model: str
    workspace: object | None = None

    def open_store(self, what: str = "this page"):
        """The workspace's store (`with site.open_store() as store:`); a clear error outside a workspace."""
        if self.store is None:
            raise WorkspaceError(f"{what} needs a workspace: its data lives in the workspace's store",
                                 "start `selfclone serve web` inside a workspace (`selfclone init DIR` makes one)")
        return self.store()


def create_web_app(people: BotConversations, *, model: str, api_key: str | None = None,
                   api: FastAPI | None = None, workspace=None) -> FastAPI:
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
        if request.url.path in ("/login", "/static/style.css"):
            return await call_next(request)
        if signed_in(request):
            if api_key and request.url.path.startswith("/v1/") and "authorization" not in request.headers:
                # the browser holds the cookie: the mounted API checks the header, so give it the key it proved
                request.scope["headers"] = [*request.scope["headers"], (b"authorization", f"Bearer {api_key}".encode())]
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

    @app.get("/web/conversations/{key}/last")
    def last_exchange(key: str):
        """The last exchange both ways: with --translate, what the user wrote and read beside what the clone read
        and wrote (the page shows the original next to the translation)."""
        last = people.sessions[key][0].last if key in people.sessions else None
        if last is None:
            return {"translated": False}
        translation = people.translation
        return {"translated": last.translated, "language": translation.language if translation else None,
                "clone_language": translation.clone_language if translation else None, "user": last.user,
                "user_for_clone": last.user_for_clone, "reply": last.reply, "reply_from_clone": last.reply_from_clone}

    @app.post("/web/reset")
    async def reset(request: Request):
        key = str((await request.json()).get("conversation") or "")
        people.reset(key)
        return {"id": key, "messages": []}

    pages = web_pages()

    @app.get("/web/pages")
    async def page_list():
        return {"pages": [{"name": "chat", "title": "Chat", "url": "/"}] +
                         [{"name": n, "title": p.title, "url": f"/{n}"} for n, p in
                          sorted(pages.items(), key=lambda item: (getattr(item[1], "position", 100), item[0]))]}

    site = Site(people.backend, people.options, people.store, model, workspace)
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
