"""The web app in real headless Chromium (Playwright) against a real uvicorn server on 127.0.0.1 with an echo
Backend: focus, Enter/Shift+Enter, the streamed reply, reload keeps the conversation, reset, the conversation list,
and the key: non-loopback without one is refused, with one the browser signs in once (cookie)."""
from __future__ import annotations

import contextlib

import shutil
import time

import httpx
import pytest

from selfclone.backends.registry import open_backend
from selfclone.config import GenerationOptions
from selfclone.errors import ConfigError
from selfclone.serve.bot_conversations import BotConversations
from selfclone.serve.api.server import check_bind
from selfclone.serve.background import background_server
from selfclone.serve.web.app import create_web_app



class SlowEcho:
    """The echo Backend, one word every 50 ms, so the stream is visible."""

    name = "slow-echo"

    def __init__(self):
        self.inner = open_backend("echo", "echo")

    def chat(self, messages, options):
        for piece in self.inner.chat(messages, options):
            time.sleep(0.05)
            yield piece

    def candidates(self, messages, options):
        return self.inner.candidates(messages, options)


@pytest.fixture
def site(ws):
    people = BotConversations(SlowEcho(), GenerationOptions(max_tokens=20), channel="web", model="echo",
                              store=ws.store, idle_seconds=0, context="You are Maggie.")
    with contextlib.ExitStack() as servers:
        def start(api_key=None):
            app = create_web_app(people, model="echo", api_key=api_key, workspace=ws)
            return servers.enter_context(background_server(app)), people

        yield start


def test_chat_streams_and_a_reload_keeps_the_conversation(site, browser, tmp_path):
    url, people = site()
    page = browser.new_page()
    page.goto(url)
    box = page.get_by_role("textbox", name="Message")
    assert page.evaluate("document.activeElement.id") == "message"
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    box.press("Enter")
    reply = page.locator("#log li.assistant").last
    reply.wait_for()
    page.wait_for_function("document.querySelector('#log li.assistant').textContent.length > 0")
    partial = reply.text_content()
    page.wait_for_function("!document.querySelector('#log li.assistant').hasAttribute('aria-busy')")
    full = reply.text_content()
    assert full.strip() == "echo: first line\nsecond line"
    assert len(partial) < len(full)                       # it arrived in pieces
    box.fill("and a second message")
    box.press("Enter")
    page.wait_for_function("document.querySelectorAll('#log li.assistant').length == 2 && "
                           "!document.querySelector('#log li.assistant:last-child').hasAttribute('aria-busy')")
    page.screenshot(path=str(tmp_path / "chat.png"))
    shutil.copy(tmp_path / "chat.png", "/tmp/fe_chat.png")
    page.reload()
    page.locator("#log li.assistant").nth(1).wait_for()
    texts = [t.strip() for t in page.locator("#log li").all_text_contents()]
    assert texts == ["first line\nsecond line", "echo: first line\nsecond line", "and a second message",
                     "echo: and a second message"]
    assert page.locator("#conversations li").count() == 1
    assert page.locator("#context").input_value() == "You are Maggie."
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("document.querySelectorAll('#log li').length == 0")
    page.reload()
    page.get_by_role("textbox", name="Message").wait_for()
    time.sleep(0.3)
    assert page.locator("#log li").count() == 0


def test_key_sign_in_once_with_a_cookie(site, browser):
    url, _ = site(api_key="s3cret")
    assert httpx.get(url + "/web/info").status_code == 401
    assert httpx.get(url + "/web/info", headers={"authorization": "Bearer s3cret"}).status_code == 200
    page = browser.new_page()
    page.goto(url)
    assert page.url.endswith("/login")
    page.get_by_label("Key").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong key" in page.content()
    page.get_by_label("Key").fill("s3cret")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("textbox", name="Message").wait_for()
    page.goto(url)                                          # signed in: no second login
    assert not page.url.endswith("/login")


def test_non_loopback_without_a_key_is_refused():
    with pytest.raises(ConfigError, match="refusing to serve on 0.0.0.0 without an API key"):
        check_bind("0.0.0.0", 0, None)
    check_bind("0.0.0.0", 0, "key")
    check_bind("127.0.0.1", 0, None)


def test_the_api_is_served_under_v1_in_the_same_process(ws):
    from openai import OpenAI

    from selfclone.serve.api.app import create_app
    from selfclone.serve.api.model_pool import ModelPool

    people = BotConversations(open_backend("echo", "echo"), GenerationOptions(), channel="web", model="echo",
                              store=ws.store, idle_seconds=0)
    api = create_app(ModelPool(backend="echo", served=("echo",)), api_key="k")
    with background_server(create_web_app(people, model="echo", api_key="k", api=api)) as url:
        client = OpenAI(base_url=url + "/v1", api_key="k")
        reply = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}])
        assert "hi" in reply.choices[0].message.content
        assert httpx.get(url + "/").status_code in (200, 303)          # the pages are still there
        assert httpx.get(url + "/web/info", headers={"authorization": "Bearer k"}).json()["model"] == "echo"


def test_turing_round_in_the_browser_is_stored_like_the_cli(site, browser, ws, tmp_path):
    import json

    from selfclone.evaluate.turing import summary

    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                                        {"role": "assistant", "content": f"my real answer {i}"}]}) + "\n"
                               for i in range(3)))
    url, _ = site()
    page = browser.new_page()
    page.goto(url)
    page.get_by_role("link", name="Turing game").click()
    page.get_by_label("Held-out file").fill(str(heldout))
    page.get_by_label("Items").fill("2")
    page.get_by_role("button", name="Start").click()
    page.locator("#round:not([hidden])").wait_for()
    pair = sorted([page.locator("#a").text_content().strip(), page.locator("#b").text_content().strip()])
    assert pair[1].startswith("my real answer") and pair[0].startswith("echo: question")
    page.locator("#a").click()
    page.wait_for_function("document.getElementById('score').textContent.includes('1/1') || "
                           "document.getElementById('score').textContent.includes('0/1')")
    page.locator("#b").click()
    page.wait_for_function("document.getElementById('score').textContent.startsWith('Done.')")
    page.screenshot(path="/tmp/fe_turing.png")
    assert "%" in page.locator("#score").text_content()          # the rate and its Wilson interval
    with ws.store() as store:
        session = summary(store)[0]
    assert session["session"] == "stranger-1" and session["model"] == "echo" and session["accuracy"].n == 2


def test_serve_web_command_refuses_a_public_address_without_a_key(ws, monkeypatch, capsys):
    from selfclone.cli import main

    monkeypatch.chdir(ws.root)
    code = main(["serve", "web", "echo", "--backend", "echo", "--host", "0.0.0.0"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "refusing to serve on 0.0.0.0 without an API key" in err and "--api-key" in err


def test_open_bot_for_the_web_inside_a_workspace_stores_conversations(ws, monkeypatch):
    from selfclone.serve.bot_conversations import open_bot

    monkeypatch.chdir(ws.root)
    people, allow = open_bot("web", "echo", [], None, "echo", None, context=None, memory=None, max_tokens=None,
                             temperature=None)
    assert people.reply("k", "hi").strip() == "echo: hi" and not allow.entries
    assert [t["content"].strip() for t in people_again(ws).session("k").history] == ["hi", "echo: hi"]


def people_again(ws):
    return BotConversations(open_backend("echo", "echo"), GenerationOptions(), channel="web", model="echo",
                            store=ws.store, idle_seconds=0)
