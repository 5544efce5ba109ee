"""The Discord frontend: `selfclone serve discord MODEL --token TOKEN --allow USER_ID`, on discord.py.

It answers DMs, and mentions in servers, for the allowlist only (`--allow`, or `discord.allow`; empty: nobody), with
a context per user (memory, stored, reset after `discord.idle_reset_minutes`), a typing indicator and replies split
at Discord's 2000 characters. Slash commands: /reset, /persona [TEXT]. Reading messages needs the privileged
"Message Content" intent: enable it for the bot in the Discord developer portal (Bot -> Privileged Gateway Intents).

    DISCORD_BOT_TOKEN=... selfclone serve discord ft:smollm2-135m:maggie:RUN --allow 123456789012345678
"""
from __future__ import annotations

import asyncio
import logging

import typer

from ..errors import SelfcloneError
from ..plugins import hookimpl
from . import generation_options as flags
from .bot_conversations import NOT_TEXT, Allowlist, BotConversations, open_bot, split_reply

log = logging.getLogger("selfclone.discord")
LIMIT = 2000                    # Discord's longest message
INTENT_HINT = ("enable the Message Content intent for this bot in the Discord developer portal "
               "(Applications -> your bot -> Bot -> Privileged Gateway Intents)")


def key_of(channel_id, user_id) -> str:
    return f"{channel_id}:{user_id}"


def message_text(message, me) -> str | None:
    """What the clone should answer in `message`, or None when it is not for the clone (a server message that
    does not mention it, a bot's message)."""
    if message.author.bot or message.author.id == me.id:
        return None
    if message.guild is not None and not me.mentioned_in(message):
        return None
    return message.content.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "").strip()


async def answer(message, me, people: BotConversations, allow: Allowlist) -> None:
    """Handle one gateway message: refuse outsiders without reaching the model, else reply with typing shown."""
    text = message_text(message, me)
    if text is None:
        return
    if not allow.admits(message.author.id):
        await message.channel.send(allow.refusal(message.author.id, "discord"))
        return
    if not text:
        await message.channel.send(NOT_TEXT)
        return
    try:
        async with message.channel.typing():
            reply = await asyncio.to_thread(people.reply, key_of(message.channel.id, message.author.id), text)
    except SelfcloneError as exc:
        log.warning("reply failed: %s", exc.message)
        reply = f"Sorry, I could not answer: {exc.message}"
    for piece in split_reply(reply, LIMIT) or ["..."]:
        await message.channel.send(piece)


def slash_commands(tree, people: BotConversations, allow: Allowlist) -> None:
    """/reset and /persona on a discord.app_commands.CommandTree."""
    from discord import app_commands

    async def admitted(interaction) -> bool:
        if allow.admits(interaction.user.id):
            return True
        await interaction.response.send_message(allow.refusal(interaction.user.id, "discord"), ephemeral=True)
        return False

    @tree.command(name="reset", description="Forget our conversation and start afresh")
    async def reset(interaction):
        if await admitted(interaction):
            people.reset(key_of(interaction.channel_id, interaction.user.id))
            await interaction.response.send_message("Forgotten: we start afresh.", ephemeral=True)

    @tree.command(name="persona", description="Show the clone's persona, or set it for our conversation")
    @app_commands.describe(text="a new persona (system prompt) for this conversation")
    async def persona(interaction, text: str | None = None):
        if await admitted(interaction):
            session = people.session(key_of(interaction.channel_id, interaction.user.id))
            if text:
                session.context = text
            await interaction.response.send_message(f"persona: {session.context or '-'}", ephemeral=True)


def build_client(people: BotConversations, allow: Allowlist):
    import discord
    from discord import app_commands

    intents = discord.Intents.default()
    intents.message_content = True

    class CloneClient(discord.Client):
        def __init__(self):
            super().__init__(intents=intents)
            self.tree = app_commands.CommandTree(self)
            slash_commands(self.tree, people, allow)

        async def setup_hook(self):
            await self.tree.sync()

        async def on_message(self, message):
            await answer(message, self.user, people, allow)

    return CloneClient()


def discord_(model: str = typer.Argument(..., help="model or clone name"),
             token: str = typer.Option(..., "--token", envvar="DISCORD_BOT_TOKEN", help="the bot token",
                                       show_default=False, show_envvar=True),
             allow: list[str] = typer.Option(None, "--allow", help="numeric Discord user id (repeatable)"),
             translate: str = flags.TRANSLATE,
             context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
             temperature: float = flags.TEMPERATURE, backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """A Discord bot for the clone (DMs and mentions), private to an allowlist."""
    import discord

    people, allowlist = open_bot("discord", model, allow, translate, backend, option, context=context, memory=memory,
                                 max_tokens=max_tokens, temperature=temperature)
    if not allowlist.entries:
        log.warning("no --allow given: the bot refuses everyone and tells them how to be allowed")
    try:
        build_client(people, allowlist).run(token, log_level=logging.INFO)
    except discord.LoginFailure as exc:
        raise SelfcloneError("Discord rejected the bot token (login failed)",
                             "copy the token from the developer portal (Bot -> Reset Token) into --token or "
                             "DISCORD_BOT_TOKEN") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise SelfcloneError("Discord refused the Message Content intent", INTENT_HINT) from exc


class DiscordFrontend:
    """A Discord bot (DMs and mentions), private to an allowlist."""

    name = "discord"
    command = staticmethod(discord_)


@hookimpl
def register_frontends(register):
    register(DiscordFrontend)
