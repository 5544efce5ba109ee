"""Format checks for chat rows ({"messages": [...]}): those of OpenAI's chat data-preparation cookbook.

Run by validate.prepare when rows carry `messages`. In the cookbook's order: the row's type, the messages
list, each message's type and required keys, unknown keys, unknown roles (common aliases such as 'human'
or 'bot' renamed), missing content, an example with no assistant message; then the counts of examples
without a system or a user message, and the conversion to chat Examples (dataset/chat.py).
"""
from __future__ import annotations

from .chat import ROLES, Example, parse_record
from .validate import Finding, Fix, Preparation
from ..errors import DataError

KNOWN_KEYS = {"role", "content", "weight"}
ROLE_ALIASES = {"human": "user", "me": "user", "question": "user", "prompter": "user",
                "bot": "assistant", "ai": "assistant", "gpt": "assistant", "model": "assistant",
                "chatbot": "assistant", "answer": "assistant", "developer": "system"}
KEPT_META = ("source", "contact", "chat")


def _messages(row) -> list:
    return row.record["messages"]


def _each_message(prep: Preparation):
    for row in prep.rows:
        for i, msg in enumerate(_messages(row)):
            yield row, i, msg


def check_records(prep: Preparation):
    bad = [r.line for r in prep.rows if not isinstance(r.record, dict)]
    if bad:
        return Finding("data_type", "error", f"{len(bad)} rows are not JSON objects", bad,
                       Fix(f"Remove {len(bad)} rows that are not objects", lambda: prep.drop_rows(bad)))


def check_messages_list(prep: Preparation):
    found = []
    renamed = [r for r in prep.rows if "messages" not in r.record
               and any(str(k).strip().lower() == "messages" for k in r.record)]
    if renamed:
        def rename():
            for row in renamed:
                key = next(k for k in row.record if str(k).strip().lower() == "messages")
                row.record["messages"] = row.record.pop(key)
        found.append(Finding("missing_messages_list", "info", f"{len(renamed)} rows spell the key `messages` "
                             "differently", [r.line for r in renamed],
                             Fix("Rename the key to `messages`", rename, necessary=True)))
    renamed_lines = {r.line for r in renamed}
    bad = [r.line for r in prep.rows if r.line not in renamed_lines and
           not (isinstance(r.record.get("messages"), list) and r.record["messages"])]
    if bad:
        found.append(Finding("missing_messages_list", "error", f"{len(bad)} rows have no non-empty `messages` list",
                             bad, Fix(f"Remove {len(bad)} rows without messages", lambda: prep.drop_rows(bad))))
    return found


def check_message_keys(prep: Preparation):
    not_dict, missing = set(), set()
    for row, _, msg in _each_message(prep):
        if not isinstance(msg, dict):
            not_dict.add(row.line)
        elif "role" not in msg or "content" not in msg:
            missing.add(row.line)
    found = []
    if not_dict:
        lines = sorted(not_dict)
        found.append(Finding("message_type", "error", f"{len(lines)} examples hold a message that is not an "
                             "object with role and content", lines,
                             Fix(f"Remove {len(lines)} examples", lambda lines=lines: prep.drop_rows(lines))))
    if missing:
        lines = sorted(missing)
        found.append(Finding("message_missing_key", "error", f"{len(lines)} examples hold a message without "
                             "`role` or `content`", lines, Fix(f"Remove {len(lines)} examples",
                                                               lambda lines=lines: prep.drop_rows(lines))))
    return found


def check_unknown_keys(prep: Preparation):
    keys: dict[str, int] = {}
    lines = set()
    for row, _, msg in _each_message(prep):
        for key in set(msg) - KNOWN_KEYS:
            keys[key] = keys.get(key, 0) + 1
            lines.add(row.line)
    if not keys:
        return None

    def drop():
        for _, _, msg in _each_message(prep):
            for key in set(msg) - KNOWN_KEYS:
                del msg[key]
    listed = ", ".join(f"{k} ({n})" for k, n in sorted(keys.items()))
    return Finding("message_unrecognized_key", "warning", f"Messages carry keys that are not trained on: {listed}",
                   sorted(lines), Fix("Remove those keys", drop, lossless=True))


def check_roles(prep: Preparation):
    aliased, unknown, seen = set(), set(), {}
    for row, _, msg in _each_message(prep):
        role = msg["role"]
        if role in ROLES:
            continue
        seen[str(role)] = seen.get(str(role), 0) + 1
        target = ROLES if str(role).strip().lower() in ROLES else ROLE_ALIASES
        (aliased if str(role).strip().lower() in target else unknown).add(row.line)
    found = []
    if unknown:
        lines = sorted(unknown)
        found.append(Finding("unrecognized_role", "error",
                             f"{len(lines)} examples use roles other than {', '.join(ROLES)}: "
                             f"{', '.join(sorted(r for r in seen if r.strip().lower() not in ROLES + tuple(ROLE_ALIASES)))}",
                             lines, Fix(f"Remove {len(lines)} examples", lambda lines=lines: prep.drop_rows(lines))))
    if aliased:
        def rename():
            for _, _, msg in _each_message(prep):
                role = str(msg["role"]).strip().lower()
                msg["role"] = role if role in ROLES else ROLE_ALIASES.get(role, msg["role"])
        names = sorted(r for r in seen if r.strip().lower() in ROLES + tuple(ROLE_ALIASES))
        found.append(Finding("unrecognized_role", "warning", f"Roles spelled {', '.join(names)}",
                             sorted(aliased), Fix("Rename them to system, user or assistant", rename, lossless=True)))
    return found


def _part_text(content: list) -> str | None:
    parts = [p.get("text") if isinstance(p, dict) else p for p in content]
    return "".join(parts) if all(isinstance(p, str) for p in parts) else None


def check_content(prep: Preparation):
    convert, missing, empty_system = set(), set(), set()
    for row, _, msg in _each_message(prep):
        content = msg["content"]
        if isinstance(content, str) and content.strip():
            continue
        if (isinstance(content, (int, float)) and not isinstance(content, bool)) or \
                (isinstance(content, list) and _part_text(content)):
            convert.add(row.line)
        elif msg["role"] == "system":
            empty_system.add(row.line)
        else:
            missing.add(row.line)
    found = []
    if missing:
        lines = sorted(missing)
        found.append(Finding("missing_content", "error", f"{len(lines)} examples have a message with empty, "
                             "missing or non-text content", lines,
                             Fix(f"Remove {len(lines)} examples", lambda lines=lines: prep.drop_rows(lines))))
    if convert or empty_system:
        def fix():
            for row in prep.rows:
                kept = []
                for msg in _messages(row):
                    content = msg["content"]
                    if isinstance(content, list):
                        msg["content"] = _part_text(content)
                    elif isinstance(content, (int, float)):
                        msg["content"] = str(content)
                    if not (msg["role"] == "system" and not str(msg["content"] or "").strip()):
                        kept.append(msg)
                row.record["messages"] = kept
        lines = sorted(convert | empty_system)
        found.append(Finding("missing_content", "info", f"{len(lines)} examples have numbers or lists of text "
                             "parts as content, or an empty system message", lines,
                             Fix("Turn them into text and drop empty system messages", fix, necessary=True)))
    return found


def _bad_weight(msg: dict) -> bool:
    weight = msg["weight"]
    return isinstance(weight, bool) or weight not in (0, 1) or msg["role"] != "assistant"


def check_weights(prep: Preparation):
    bad = sorted({row.line for row, _, msg in _each_message(prep) if "weight" in msg and _bad_weight(msg)})
    if not bad:
        return None

    def drop():
        for _, _, msg in _each_message(prep):
            if "weight" in msg and _bad_weight(msg):
                del msg["weight"]
    return Finding("weight", "warning", f"{len(bad)} examples have a `weight` that is not 0 or 1, or one on a "
                   "non-assistant message", bad, Fix("Remove those weights (the turn is trained)", drop,
                                                     lossless=True))


def check_assistant(prep: Preparation):
    lines = [r.line for r in prep.rows if not any(m["role"] == "assistant" and m.get("weight", 1) != 0
                                                  for m in _messages(r))]
    if lines:
        return Finding("example_missing_assistant_message", "error", f"{len(lines)} examples have no assistant "
                       "message to learn from", lines, Fix(f"Remove {len(lines)} examples",
                                                           lambda lines=lines: prep.drop_rows(lines)))


def check_system_user(prep: Preparation):
    no_system = [r.line for r in prep.rows if not any(m["role"] == "system" for m in _messages(r))]
    no_user = [r.line for r in prep.rows if not any(m["role"] == "user" for m in _messages(r))]
    found = []
    if no_system:
        found.append(Finding("missing_system", "info", f"{len(no_system)} of {len(prep.rows)} examples have no "
                             "system message (the model's chat template may add its default one)", no_system))
    if no_user:
        found.append(Finding("missing_user", "warning", f"{len(no_user)} examples have no user message: the model "
                             "learns to speak unprompted", no_user,
                             Fix(f"Remove {len(no_user)} examples", lambda: prep.drop_rows(no_user))))
    return found


def check_convert(prep: Preparation):
    examples, failed = [], []
    for row in prep.rows:
        try:
            example = parse_record(row.record, line=row.line)
        except DataError as exc:
            failed.append((row.line, exc.message))
            continue
        meta = {k: str(row.record[k]) for k in KEPT_META if row.record.get(k) not in (None, "")}
        examples.append(Example(example.messages, {"line": row.line, **meta}))
    found = []
    if failed:
        lines = [n for n, _ in failed]
        found.append(Finding("convert", "error", f"{len(failed)} rows are not valid chat examples (first: row "
                             f"{failed[0][0]}: {failed[0][1]})", lines,
                             Fix(f"Remove {len(failed)} rows", lambda lines=lines: prep.drop_rows(lines))))
    found.append(Finding("convert", "info", f"{len(examples)} chat examples read",
                         fix=Fix("Read them", lambda: setattr(prep, "examples", examples), necessary=True)))
    return found


CHECKS = [check_records, check_messages_list, check_message_keys, check_unknown_keys, check_roles, check_content,
          check_weights, check_assistant, check_system_user, check_convert]
