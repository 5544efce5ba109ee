"""The Discord handlers through discord.py's own objects, built from gateway payloads (no network): DMs, mentions in
a server, the allowlist, typing and the 2000-character split. Sends go to a stand-in for discord.py's HTTPClient that
implements the two calls used (send_message, send_typing) and answers with real message payloads."""
from __future__ import annotations

import asyncio

import discord
import pytest
from discord.state import ConnectionState

from selfclone.backends.registry import open_backend
from selfclone.config import GenerationOptions
from selfclone.serve.bot_conversations import NOBODY_ALLOWED, NOT_TEXT, REFUSAL, Allowlist, BotConversations
from selfclone.serve.discord_bot import answer, build_client

BOT = {"id": "900", "username": "clone", "discriminator": "0", "avatar": None, "bot": True}
ANA = {"id": "42", "username": "ana", "discriminator": "0", "avatar": None}
MALLORY = {"id": "7", "username": "mallory", "discriminator": "0", "avatar": None}


class StandInHTTP:
    def __init__(self):
        self.sent, self.typing = [], []

    async def send_message(self, channel_id, *, params):
        self.sent.append(params.payload["content"])
        return {"id": str(5000 + len(self.sent)), "channel_id": str(channel_id), "author": BOT,
                "content": params.payload["content"], "timestamp": "2026-12-01T12:00:00+00:00",
                "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
                "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0}

    async def send_typing(self, channel_id):
        self.typing.append(channel_id)


def world():
    http = StandInHTTP()
    state = ConnectionState(dispatch=lambda *a: None, handlers={}, hooks={}, http=http)
    state.loop = asyncio.get_running_loop()
    state.user = discord.ClientUser(state=state, data=BOT)
    dm = discord.DMChannel(me=state.user, state=state, data={"id": "100", "type": 1, "recipients": [ANA]})
    guild = discord.Guild(data={"id": "1", "name": "g", "channels": [], "roles": []}, state=state)
    text_channel = discord.TextChannel(state=state, guild=guild,
                                       data={"id": "200", "type": 0, "name": "general", "position": 0, "guild_id": "1"})
    return http, state, dm, text_channel


def message(state, channel, content, author=ANA, mentions=()):
    return discord.Message(state=state, channel=channel, data={
        "id": "3000", "channel_id": str(channel.id), "author": author, "content": content,
        "timestamp": "2026-12-01T12:00:00+00:00", "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": list(mentions), "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": False, "type": 0})


@pytest.fixture
def people(ws):
    return BotConversations(open_backend("echo", "echo"), GenerationOptions(max_tokens=20), channel="discord",
                            model="echo", store=ws.store, memory=4)


def test_dms_mentions_allowlist_typing_and_split(people):
    allow = Allowlist.of(["42"])

    async def main():
        http, state, dm, text_channel = world()
        await answer(message(state, dm, "hello clone"), state.user, people, allow)
        await answer(message(state, text_channel, "not for the bot"), state.user, people, allow)
        await answer(message(state, text_channel, "<@900> are you there?", mentions=[BOT]), state.user, people, allow)
        await answer(message(state, dm, "let me in", author=MALLORY), state.user, people, allow)
        await answer(message(state, dm, "   "), state.user, people, allow)
        await answer(message(state, dm, " ".join(["word"] * 700)), state.user, people, allow)
        return http

    http = asyncio.run(main())
    assert [t.strip() for t in http.sent[:4]] == ["echo: hello clone", "echo: are you there?", REFUSAL, NOT_TEXT]
    assert all(len(t) <= 2000 for t in http.sent) and len(http.sent[4:]) == 2
    assert " ".join(http.sent[4:]) == "echo: " + " ".join(["word"] * 700)
    assert http.typing == [100, 200, 100]          # typing only while the model writes, never for outsiders
    assert [t["content"].strip() for t in people.session("100:42").history][:2] == ["hello clone", "echo: hello clone"]
    assert "100:7" not in people.sessions


def test_no_allowlist_refuses_everyone_and_says_how(people):
    async def main():
        http, state, dm, _ = world()
        await answer(message(state, dm, "hi"), state.user, people, Allowlist.of([]))
        return http

    assert asyncio.run(main()).sent == [NOBODY_ALLOWED.format(who=42, section="discord")]


def test_client_registers_slash_commands_and_asks_for_message_content(people):
    async def main():
        client = build_client(people, Allowlist.of(["42"]))
        names = sorted(c.name for c in client.tree.get_commands())
        await client.close()
        return client, names

    client, names = asyncio.run(main())
    assert names == ["persona", "reset"] and client.intents.message_content
