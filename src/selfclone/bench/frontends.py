"""`selfclone bench frontends`: what the Telegram and web paths add per message over a direct Backend call (goal:
under 50 ms), and the time to the first streamed token in the browser against the Backend's own, in the same run.

    selfclone bench frontends --messages 20

The overhead runs use a Backend that answers instantly with fixed words (so only the frontend is measured): the
baseline is that Backend called directly; the Telegram path is the real python-telegram-bot client polling a
stand-in Bot API on 127.0.0.1 (update in -> sendMessage out), the web path a real uvicorn server and httpx reading
the whole stream. The browser figure uses the embedded model in headless Chromium (skipped without chromium).
"""
from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import typer

from .. import machine
from ..config import GenerationOptions
from ..serve.background import background_server
from ..terminal import console

TOKEN = "1:bench"


class FixedWords:
    """A Backend that streams 20 fixed words at once: the frontends' cost without a model's."""

    name = "fixed"

    def chat(self, messages, options):
        for i in range(20):
            yield f"word{i} "

    def candidates(self, messages, options):
        return ["".join(self.chat(messages, options))] * options.n


def _people(backend, store=None, channel="telegram"):
    from ..serve.bot_conversations import BotConversations

    return BotConversations(backend, GenerationOptions(max_tokens=20), channel=channel, model="bench", store=store,
                            idle_seconds=0, context="You are Maggie.")


def _direct(backend, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        "".join(backend.chat([{"role": "user", "content": f"message {i}"}], GenerationOptions()))
        times.append(time.perf_counter() - start)
    return times


def _telegram(people, n: int) -> list[float]:
    from ..serve.bot_conversations import Allowlist
    from ..serve.telegram import build_application
    from .telegram_api import BotApiStandIn

    api = BotApiStandIn(TOKEN)
    app = build_application(TOKEN, people, Allowlist.of(["42"]), api_url=api.url)
    times = []

    def scenario():
        for i in range(n):
            start = time.perf_counter()
            api.user_says(f"message {i}")
            api.wait_sent(i + 1)
            times.append(time.perf_counter() - start)

    async def main():
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=1, poll_interval=0)
            try:
                await asyncio.to_thread(scenario)
            finally:
                await app.updater.stop()
                await app.stop()

    asyncio.run(main())
    api.close()
    return times


def _web(people, n: int) -> list[float]:
    import httpx

    from ..serve.web.app import create_web_app

    times = []
    with background_server(create_web_app(people, model="bench")) as url, httpx.Client() as client:
        for i in range(n):
            start = time.perf_counter()
            with client.stream("POST", url + "/web/chat", json={"conversation": "bench", "text": f"message {i}"}) as r:
                "".join(r.iter_text())
            times.append(time.perf_counter() - start)
    return times


def _browser_first_token(people, n: int) -> list[float] | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    from ..serve.web.app import create_web_app

    times = []
    with background_server(create_web_app(people, model="bench")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        box = page.get_by_role("textbox", name="Message")
        for i in range(n):
            box.fill(f"how are the bees, question {i}?")
            count = page.locator("#log li.assistant").count()
            start = time.perf_counter()
            box.press("Enter")
            page.wait_for_function(f"(() => {{ const r = document.querySelectorAll('#log li.assistant'); "
                                   f"return r.length > {count} && r[{count}].textContent.length > 0; }})()",
                                   polling=5)
            times.append(time.perf_counter() - start)
            page.wait_for_function(f"!document.querySelectorAll('#log li.assistant')[{count}].hasAttribute('aria-busy')")
        browser.close()
    return times


def _backend_first_token(backend, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        for _ in backend.chat([{"role": "system", "content": "You are Maggie."},
                               {"role": "user", "content": f"how are the bees, question {i}?"}], GenerationOptions(max_tokens=20)):
            break
        times.append(time.perf_counter() - start)
    return times


def _ms(values) -> str:
    return f"median {1000 * statistics.median(values):.1f} ms (min {1000 * min(values):.1f}, max {1000 * max(values):.1f})"


def bench_frontends(messages: int = typer.Option(20, "--messages", help="messages per path"),
                    browser_messages: int = typer.Option(3, "--browser-messages",
                                                         help="messages for the browser's first token (embedded model)")):
    """Per-message overhead of the Telegram and web paths over a direct Backend call; first token in the browser."""
    from ..store import Store

    console.print(machine.describe())
    backend = FixedWords()
    with tempfile.TemporaryDirectory() as tmp:
        store = lambda: Store(Path(tmp) / "bench.db")      # noqa: E731  (the bots' real storage path)
        direct = _direct(backend, messages)
        telegram = _telegram(_people(backend, store), messages)
        web = _web(_people(backend, store, "web"), messages)
    base = statistics.median(direct)
    console.print(f"baseline, direct Backend call: {_ms(direct)}")
    for name, values in (("telegram", telegram), ("web", web)):
        over = statistics.median(values) - base
        console.print(f"{name}: {_ms(values)}; overhead {1000 * over:.1f} ms per message "
                      f"({'under' if over < 0.05 else 'OVER'} the 50 ms goal)")
    if browser_messages:
        from ..backends.registry import open_backend

        model = open_backend("smollm2-135m", "transformers")
        own = _backend_first_token(model, browser_messages)
        shown = _browser_first_token(_people(model, None, "web"), browser_messages)
        console.print(f"first token, Backend directly (embedded model): {_ms(own)}")
        if shown is None:
            console.print("first token in the browser: skipped (no chromium: apt-get install chromium)")
        else:
            console.print(f"first token in the browser: {_ms(shown)}; "
                          f"{1000 * (statistics.median(shown) - statistics.median(own)):.0f} ms over the Backend's")
