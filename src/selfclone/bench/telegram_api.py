"""A stand-in Telegram Bot API server on 127.0.0.1: the real HTTP interface (`/bot<token>/<method>`, form-encoded
parameters with JSON-encoded values, `{"ok": ..., "result": ...}` replies) for getMe, deleteWebhook, getUpdates
(long polling), sendMessage and sendChatAction: enough to drive the real python-telegram-bot client end to end.
The Telegram tests and `selfclone bench frontends` use it.

    api = BotApiStandIn("1:x")
    app = ApplicationBuilder().token("1:x").base_url(api.url).build()
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

BOT = {"id": 999, "is_bot": True, "first_name": "Clone", "username": "clone_bot", "can_join_groups": True,
       "can_read_all_group_messages": False, "supports_inline_queries": False}


class BotApiStandIn:
    def __init__(self, token: str):
        self.token = token
        self.updates: list[dict] = []
        self.sent: list[dict] = []           # sendMessage calls
        self.actions: list[dict] = []        # sendChatAction calls
        self.calls: list[str] = []
        self.cond = threading.Condition()
        self.next_update = 1
        self.next_message = 1000
        self.failures = 0                    # answer this many next getUpdates with 502, as a flaky network does
        self.conflict = False                # answer getUpdates with 409, as Telegram does when a second bot polls
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                params = {}
                for key, value in parse_qsl(body):
                    try:
                        params[key] = json.loads(value)
                    except ValueError:
                        params[key] = value
                token, _, method = self.path.removeprefix("/bot").partition("/")
                status, payload = standin.answer(token, method, params)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *_: None      # a client hanging up at shutdown is no failure
        self.url = f"http://127.0.0.1:{self.server.server_port}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # the Bot API
    def answer(self, token: str, method: str, params: dict):
        self.calls.append(method)
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates" and self.conflict:
            return 409, {"ok": False, "error_code": 409, "description": "Conflict: terminated by other getUpdates "
                         "request; make sure that only one bot instance is running"}
        if method == "getUpdates" and self.failures > 0:
            self.failures -= 1
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if method == "getUpdates":
            offset, timeout = int(params.get("offset") or 0), float(params.get("timeout") or 0)
            deadline = time.monotonic() + timeout
            with self.cond:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]   # confirmed ones are gone
                while True:
                    ready = [u for u in self.updates if u["update_id"] >= offset]
                    if ready or time.monotonic() >= deadline:
                        return 200, {"ok": True, "result": ready}
                    self.cond.wait(max(deadline - time.monotonic(), 0.01))
        if method == "sendMessage":
            with self.cond:
                self.next_message += 1
                self.sent.append(params)
                self.cond.notify_all()
                chat = {"id": int(params["chat_id"]), "type": "private" if int(params["chat_id"]) > 0 else "group"}
                return 200, {"ok": True, "result": {"message_id": self.next_message, "date": int(time.time()),
                                                    "chat": chat, "from": BOT, "text": params["text"]}}
        if method == "sendChatAction":
            with self.cond:
                self.actions.append(params)
            return 200, {"ok": True, "result": True}
        return 200, {"ok": True, "result": True}     # deleteWebhook, setMyCommands, close, ...

    # what a test does
    def user_says(self, text: str | None, *, user_id: int = 42, username: str = "ana", chat_id: int | None = None,
                  reply_to_bot: bool = False, sticker: bool = False):
        chat_id = user_id if chat_id is None else chat_id
        message = {"message_id": self.next_update + 1, "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "g"},
                   "from": {"id": user_id, "is_bot": False, "first_name": username.title(), "username": username}}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if sticker:
            message["sticker"] = {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512,
                                  "height": 512, "is_animated": False, "is_video": False}
        if reply_to_bot:
            message["reply_to_message"] = {"message_id": 1, "date": int(time.time()), "chat": message["chat"],
                                           "from": BOT, "text": "earlier"}
        with self.cond:
            self.updates.append({"update_id": self.next_update, "message": message})
            self.next_update += 1
            self.cond.notify_all()

    def wait_sent(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.sent) < count:
                if not self.cond.wait(max(deadline - time.monotonic(), 0.01)) and time.monotonic() >= deadline:
                    raise AssertionError(f"expected {count} sent messages, got {self.sent}")
            return list(self.sent)
