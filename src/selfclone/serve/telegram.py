"""The Telegram frontend: `selfclone serve telegram MODEL --token TOKEN --allow @ana`, on python-telegram-bot v22.

Private by default: only the allowlist (`--allow ID_OR_@USERNAME`, repeatable, or `telegram.allow`) reaches the
model; everyone else gets one fixed refusal. Per user: memory, a reset after `telegram.idle_reset_minutes` of
silence, on /start and /reset; the context is stored so a restart keeps it. In groups it answers only when
mentioned or replied to. The token (or TELEGRAM_BOT_TOKEN) never appears in the logs.

    TELEGRAM_BOT_TOKEN=123:abc selfclone serve telegram ft:smollm2-135m:maggie:RUN --allow @ana --translate French
"""
from __future__ import annotations

import asyncio
import logging

import typer

from ..errors import SelfcloneError
from ..plugins import hookimpl
from . import generation_options as flags
from .bot_conversations import NOT_TEXT, Allowlist, BotConversations, open_bot, split_reply

log = logging.getLogger("selfclone.telegram")
LIMIT = 4096                    # Telegram's longest message
DEFAULT_API_URL = "https://api.telegram.org/bot"
CONFLICT = "conflict"             # bot_data key: set when Telegram answers getUpdates with 409
HELP = ("I am a clone: I answer as the person I was trained on. Just write to me.\n"
        "/reset forgets our conversation (so does {idle} of silence)\n/start starts afresh\n/help shows this")


class RedactToken(logging.Filter):
    """Replaces the bot token in every log record (httpx logs each request URL, which holds it)."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token and self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:      # python-telegram-bot's InvalidToken text quotes the token
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def redact_token(token: str, handlers=None) -> None:
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        handler.addFilter(RedactToken(token))


def addressed(message, bot) -> bool:
    """In a group: the message mentions the bot or replies to it."""
    replied = message.reply_to_message
    if replied and replied.from_user and replied.from_user.id == bot.id:
        return True
    return bool(bot.username) and f"@{bot.username}".lower() in (message.text or "").lower()


async def with_typing(bot, chat_id: int, work):
    """Await `work` while the chat shows "typing..." (Telegram clears it after 5 s, so it is sent again)."""
    from telegram.constants import ChatAction

    task = asyncio.ensure_future(work)
    while True:
        await bot.send_chat_action(chat_id, ChatAction.TYPING)
        done, _ = await asyncio.wait({task}, timeout=4.0)
        if done:
            return task.result()


def build_application(token: str, people: BotConversations, allow: Allowlist, *, api_url: str = DEFAULT_API_URL,
                      rate_limit: bool = True):
    """The python-telegram-bot Application with the clone's handlers (not started)."""
    from telegram.constants import ChatType
    from telegram.error import Conflict, NetworkError
    from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler, MessageHandler, filters

    builder = ApplicationBuilder().token(token).base_url(api_url)
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter())
    app = builder.build()
    idle = people.idle_seconds / 60

    def key(update) -> str:
        return f"{update.effective_chat.id}:{update.effective_user.id}"

    async def admitted(update) -> bool:
        user = update.effective_user
        if user is None or update.effective_message is None:
            return False
        if allow.admits(user.id, user.username):
            return True
        await update.effective_message.reply_text(allow.refusal(user.id, "telegram"))
        return False

    async def start(update, context):
        if await admitted(update):
            people.reset(key(update))
            await update.effective_message.reply_text("Hello! " + HELP.format(idle=f"{idle:g} minutes"))

    async def reset(update, context):
        if await admitted(update):
            people.reset(key(update))
            await update.effective_message.reply_text("Forgotten: we start afresh.")

    async def help_(update, context):
        if await admitted(update):
            await update.effective_message.reply_text(HELP.format(idle=f"{idle:g} minutes"))

    async def message(update, context):
        msg = update.effective_message
        if msg is None or update.effective_user is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE and not addressed(msg, context.bot):
            return
        if not await admitted(update):
            return
        text = (msg.text or "").replace(f"@{context.bot.username}", "").strip()
        if not text:
            await msg.reply_text(NOT_TEXT)
            return
        try:
            reply = await with_typing(context.bot, msg.chat_id, asyncio.to_thread(people.reply, key(update), text))
        except SelfcloneError as exc:
            log.warning("reply failed: %s", exc.message)
            reply = f"Sorry, I could not answer: {exc.message}"
        for piece in split_reply(reply, LIMIT) or ["..."]:
            await msg.reply_text(piece)

    async def on_error(update, context):
        error = context.error
        if isinstance(error, Conflict):      # 409: polling on would fight the other instance for every update
            log.error("another bot instance is polling this token: stopping (stop the other one, then start again)")
            context.application.bot_data[CONFLICT] = str(error)
            context.application.stop_running()
        elif isinstance(error, NetworkError):
            log.warning("network error talking to Telegram (%s); retrying with backoff", error)
        else:
            log.error("handler failed: %r", error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("reset", reset))
    app.add_handler(CommandHandler("help", help_))
    app.add_handler(MessageHandler(~filters.COMMAND, message))
    app.add_error_handler(on_error)
    return app


def run_polling(app) -> None:
    """Serve until Ctrl-C; a rejected token becomes a clear error. Network failures are retried by the updater."""
    from telegram.error import InvalidToken

    asyncio.set_event_loop(asyncio.new_event_loop())    # run_polling closes its loop: each run gets a new one
    try:
        app.run_polling(bootstrap_retries=5)
    except InvalidToken as exc:
        raise SelfcloneError("Telegram rejected the bot token (401 Unauthorized)",
                             "copy the token from @BotFather again and pass it as --token or TELEGRAM_BOT_TOKEN") from exc
    if CONFLICT in app.bot_data:
        raise SelfcloneError("another instance of this bot is already running with this token (Telegram answered "
                             f"409 Conflict: {app.bot_data[CONFLICT]})",
                             "stop the other `selfclone serve telegram` (or whatever else polls this token, or its "
                             "webhook), then start this one again; one token serves one bot at a time")


def telegram(model: str = typer.Argument(..., help="model or clone name"),
             token: str = typer.Option(..., "--token", envvar="TELEGRAM_BOT_TOKEN", help="the bot token from @BotFather",
                                       show_default=False, show_envvar=True),
             allow: list[str] = typer.Option(None, "--allow", help="numeric user id or @username (repeatable)"),
             api_url: str = typer.Option(DEFAULT_API_URL, "--api-url", help="Bot API base URL, the part before the token"),
             translate: str = flags.TRANSLATE,
             context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
             temperature: float = flags.TEMPERATURE, backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """A Telegram bot for the clone, private to an allowlist."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_token(token)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    people, allowlist = open_bot("telegram", model, allow, translate, backend, option, context=context,
                                 memory=memory, max_tokens=max_tokens, temperature=temperature)
    if not allowlist.entries:
        log.warning("no --allow given: the bot refuses everyone and tells them how to be allowed")
    run_polling(build_application(token, people, allowlist, api_url=api_url))


class TelegramFrontend:
    """A Telegram bot, private to an allowlist."""

    name = "telegram"
    command = staticmethod(telegram)


@hookimpl
def register_frontends(register):
    register(TelegramFrontend)
