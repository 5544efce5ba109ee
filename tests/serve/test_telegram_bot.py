"""The Telegram bot end to end: the real python-telegram-bot client against a stand-in Bot API server on 127.0.0.1,
with an echo Backend (registered through the hook) and once with the embedded model."""
from __future__ import annotations

import asyncio
import logging

import pytest
from selfclone.bench.telegram_api import BotApiStandIn

from selfclone.backends.registry import open_backend
from selfclone.cli import main
from selfclone.config import GenerationOptions
from selfclone.errors import SelfcloneError
from selfclone.serve.bot_conversations import NOBODY_ALLOWED, NOT_TEXT, REFUSAL, Allowlist, BotConversations
from selfclone.serve.telegram import build_application, redact_token, run_polling

TOKEN = "123456:ABC-secret-token"


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def api():
    standin = BotApiStandIn(TOKEN)
    yield standin
    standin.close()


def people_for(ws, backend=None, clock=None, **kw):
    return BotConversations(backend or open_backend("echo", "echo"), GenerationOptions(max_tokens=20),
                            channel="telegram", model="echo", store=ws.store, idle_seconds=600,
                            clock=clock or Clock(), memory=4, **kw)


def run_bot(api, people, allow, scenario):
    """Start the real Application (polling the stand-in), run `scenario()` in a thread, stop."""
    app = build_application(TOKEN, people, Allowlist.of(allow), api_url=api.url)

    async def main():
        async with app:
            await app.start()
            await app.updater.start_polling(timeout=1, poll_interval=0)
            try:
                return await asyncio.to_thread(scenario)
            finally:
                await app.updater.stop()
                await app.stop()

    return asyncio.run(main())


def test_allowlisted_user_gets_replies_typing_and_memory(api, ws):
    people = people_for(ws)

    def scenario():
        api.user_says("hello clone")
        api.user_says("second message")
        return api.wait_sent(2)

    sent = run_bot(api, people, ["@Ana"], scenario)
    assert [m["text"] for m in sent] == ["echo: hello clone", "echo: second message"]
    assert all(m["chat_id"] == 42 for m in sent)
    assert {a["action"] for a in api.actions} == {"typing"} and len(api.actions) >= 2
    assert api.calls[0] == "getMe" and "getUpdates" in api.calls
    history = people.session("42:42").history
    assert [t["content"].strip() for t in history] == ["hello clone", "echo: hello clone", "second message",
                                                       "echo: second message"]


def test_outsiders_are_refused_and_never_reach_the_model(api, ws):
    seen = []

    class Spy:
        name = "spy"

        def chat(self, messages, options):
            seen.append(messages)
            yield "hi"

    def scenario():
        api.user_says("let me in", user_id=7, username="mallory")
        return api.wait_sent(1)

    [refusal] = run_bot(api, people_for(ws, backend=Spy()), ["@ana"], scenario)
    assert refusal["text"] == REFUSAL and seen == []
    api.sent.clear()
    [nobody] = run_bot(api, people_for(ws, backend=Spy()), [], lambda: (api.user_says("hi", user_id=8), api.wait_sent(1))[1])
    assert nobody["text"] == NOBODY_ALLOWED.format(who=8, section="telegram") and "--allow 8" in nobody["text"]
    assert seen == []


def test_reset_idle_reset_and_restart_persistence(api, ws):
    clock = Clock()

    def scenario():
        api.user_says("remember me")
        api.wait_sent(1)

    run_bot(api, people_for(ws, clock=clock), ["42"], scenario)
    # a restart: new conversations object, same store -> the history is back
    restarted = people_for(ws, clock=clock)
    assert [t["content"].strip() for t in restarted.session("42:42").history] == ["remember me", "echo: remember me"]
    # ten idle minutes -> fresh
    clock.now += 601
    assert restarted.session("42:42").history == []
    # /reset through the bot clears the store too
    api.sent.clear()
    people = people_for(ws, clock=clock)

    def reset_scenario():
        api.user_says("again")
        api.user_says("/reset")
        api.user_says("/help")
        return api.wait_sent(3)

    sent = run_bot(api, people, ["42"], reset_scenario)
    assert sent[1]["text"].startswith("Forgotten")
    assert "/reset forgets our conversation (so does 10 minutes of silence)" in sent[2]["text"]
    assert people_for(ws, clock=clock).session("42:42").history == []


def test_long_replies_are_split_and_non_text_gets_a_note(api, ws):
    long_text = " ".join(["word"] * 1500)          # about 7500 characters once echoed

    def scenario():
        api.user_says(long_text)
        api.user_says(None, sticker=True)
        return api.wait_sent(3)

    sent = run_bot(api, people_for(ws), ["42"], scenario)
    assert all(len(m["text"]) <= 4096 for m in sent)
    assert " ".join(m["text"] for m in sent[:2]) == "echo: " + long_text
    assert sent[2]["text"] == NOT_TEXT


def test_groups_answer_only_when_mentioned_or_replied_to(api, ws):
    def scenario():
        api.user_says("just chatting", chat_id=-5)
        api.user_says("@clone_bot are you there?", chat_id=-5)
        api.user_says("and this", chat_id=-5, reply_to_bot=True)
        return api.wait_sent(2)

    sent = run_bot(api, people_for(ws), ["42"], scenario)
    assert [m["text"] for m in sent] == ["echo: are you there?", "echo: and this"]


def test_bad_token_is_a_clear_error_and_tokens_stay_out_of_logs(api, ws, caplog):
    app = build_application("999:wrong", people_for(ws), Allowlist.of(["42"]), api_url=api.url, rate_limit=False)
    with pytest.raises(SelfcloneError, match="rejected the bot token"):
        run_polling(app)
    caplog.set_level(logging.INFO)
    redact_token(TOKEN, [caplog.handler])
    logging.getLogger("httpx").info("HTTP Request: POST %s%s/getMe", api.url, TOKEN)
    assert TOKEN not in caplog.text and "<token>" in caplog.text


def test_context_over_the_budget_drops_the_oldest_turns(ws):
    people = people_for(ws, max_prompt_chars=300)
    for i in range(6):
        people.reply("1:1", f"message {i} " + "x" * 80)
    messages = people.session("1:1").messages_for("last " + "y" * 80)
    assert sum(len(m["content"]) for m in messages) <= 300
    assert messages[-1]["content"].startswith("last") and "message 0" not in str(messages)
    assert len(people.session("1:1").messages_for("z" * 5000)[-1]["content"]) == 300


@pytest.mark.slow
def test_embedded_model_answers_through_the_bot(api, ws):
    backend = open_backend("smollm2-135m", "transformers")
    people = BotConversations(backend, GenerationOptions(max_tokens=8, temperature=0), channel="telegram",
                              model="smollm2-135m", store=ws.store, context="You are Maggie, a beekeeper.")

    sent = run_bot(api, people, ["42"], lambda: (api.user_says("how are the bees?"), api.wait_sent(1, 120))[1])
    assert sent[0]["text"].strip()
    assert people.session("42:42").history[0] == {"role": "user", "content": "how are the bees?"}


def test_network_failures_are_retried_and_the_bot_keeps_running(api, ws):
    def scenario():
        api.failures = 2
        api.user_says("still there?")
        return api.wait_sent(1, timeout=60)

    [sent] = run_bot(api, people_for(ws), ["42"], scenario)
    assert sent["text"].strip() == "echo: still there?" and api.failures == 0


def test_the_command_turns_a_bad_token_into_one_clear_message(api, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    code = main(["serve", "telegram", "echo", "--backend", "echo", "--token", "999:bad-secret", "--api-url", api.url])
    out = capsys.readouterr()
    err = " ".join(out.err.split())
    assert code == 2 and "Telegram rejected the bot token" in err and "TELEGRAM_BOT_TOKEN" in err
    assert "refuses everyone" in caplog.text
    assert "999:bad-secret" not in out.out + out.err + caplog.text


def test_two_bots_on_one_token_stop_with_a_clear_error(api, ws, caplog):
    api.conflict = True            # Telegram's 409 to the second poller of a token
    app = build_application(TOKEN, people_for(ws), Allowlist.of(["42"]), api_url=api.url, rate_limit=False)
    with pytest.raises(SelfcloneError, match="another instance of this bot is already running") as error:
        run_polling(app)
    assert "terminated by other getUpdates request" in error.value.message and "stop the other" in error.value.hint
    assert api.calls.count("getUpdates") <= 3            # it stopped instead of polling on in a loop
    assert "another bot instance is polling this token" in caplog.text and TOKEN not in caplog.text
