"""Contacts stored by the importer itself, and bot users linked to contacts: the bots then talk to them as
`--with NAME` would (the same frame), through a real BotConversations and the echo Backend."""
from __future__ import annotations

from pathlib import Path

from selfclone.config import GenerationOptions
from selfclone.persona.memory import remember
from selfclone.serve.bot_conversations import BotConversations

WHATSAPP = str(Path(__file__).parent.parent / "fixtures" / "whatsapp" / "android_12h_us.txt")


class Framed:
    """A Backend that answers with its system message: what the clone was told about the conversation."""

    name = "framed"

    def chat(self, messages, options):
        yield messages[0]["content"] if messages[0]["role"] == "system" else "(no system)"

    def candidates(self, messages, options):
        return ["".join(self.chat(messages, options))] * options.n



def test_the_import_stores_each_chats_contact_pseudonymised(cli, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert cli("import", "whatsapp", WHATSAPP, "--me", "Maggie")[0] == 0
    with ws.store() as store:          # stored by the import itself: nothing derived them afterwards
        rows = store.db.execute("select source, chat, pseudonym, messages from contacts").fetchall()
        real = {r[0] for r in store.db.execute("select sender from messages where is_me = 0 and kind != 'system'")}
        theirs = store.db.execute("select count(*) from messages where is_me = 0 and kind != 'system' and "
                                  "sender = (select sender from messages where is_me = 0 and kind != 'system' "
                                  "group by sender order by count(*) desc limit 1)").fetchone()[0]
        examples = " ".join(r[0] for r in store.db.execute("select messages_json from examples"))
    [(source, _, pseudonym, count)] = [tuple(r) for r in rows]
    assert source == "whatsapp" and pseudonym not in real and count == theirs
    assert cli("contacts", "label", pseudonym, "close friend")[0] == 0
    assert cli("import", "whatsapp", WHATSAPP, "--me", "Maggie")[0] == 0      # again: nothing new
    with ws.store() as store:
        assert [tuple(r) for r in store.db.execute("select pseudonym, relationship from contacts")] == \
            [(pseudonym, "close friend")]
    assert not any(name in examples for name in real)


def test_a_linked_bot_user_is_talked_to_as_that_contact(cli, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert cli("import", "whatsapp", WHATSAPP, "--me", "Maggie")[0] == 0
    code, out, _ = cli("contacts", "list")
    pseudonym = out.splitlines()[0].split("  ")[0].strip()
    assert cli("contacts", "label", pseudonym, "close friend")[0] == 0
    code, out, _ = cli("contacts", "link", "telegram:4242", pseudonym)
    assert code == 0 and "talked to as close friend" in out
    code, out, _ = cli("contacts", "links")
    assert f"telegram:4242" in out and pseudonym in out
    with ws.store() as store:
        remember(store, pseudonym, "has a ginger cat called Pimento")
    people = BotConversations(Framed(), GenerationOptions(), channel="telegram", model="m", store=ws.store,
                              context="You are Maggie.")
    linked = people.reply("99:4242", "hi")
    assert linked == ("You are Maggie.\n\nYou are talking to: close friend.\n\n"
                      "What you remember about them: has a ginger cat called Pimento")
    assert people.reply("99:5555", "hi") == "You are Maggie."           # not linked: nobody in particular
    discord = BotConversations(Framed(), GenerationOptions(), channel="discord", model="m", store=ws.store,
                               context="You are Maggie.")
    assert discord.reply("1:4242", "hi") == "You are Maggie."           # the link is per platform
    # the same words as `ask --with` puts in the frame at the terminal
    code, out, _ = cli("ask", "echo", "hi", "--json", "--backend", "echo", "--context", "You are Maggie.",
                       "--with", pseudonym, "--no-retrieve")
    assert '"You are Maggie.\\n\\nYou are talking to: close friend.\\n\\nWhat you remember about them: has a ginger' \
        in out
    assert cli("contacts", "unlink", "telegram:4242")[0] == 0
    people.reset("99:4242")
    assert people.reply("99:4242", "hi") == "You are Maggie."


def test_bad_bot_users_and_names_are_refused_clearly(cli, ws, capsys, monkeypatch):
    monkeypatch.chdir(ws.root)
    assert cli("import", "whatsapp", WHATSAPP, "--me", "Maggie")[0] == 0
    code, _, err = cli("contacts", "link", "signal:12", "family")
    assert code == 2 and "'signal:12' is not a bot user" in err and "telegram:123456789" in err
    code, _, err = cli("contacts", "unlink", "telegram:12")
    assert code == 2 and "not linked" in err
