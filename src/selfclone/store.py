"""The workspace's SQLite store: messages, examples, interview answers, rankings, runs, conversations.

Schema changes are named migrations applied once, in order, and recorded in `_migrations` (as in
simonw/llm). Add a new migration at the end of MIGRATIONS; never edit one that has shipped.

    with Store(path) as store:
        store.db.execute("select count(*) from messages")
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS: list[tuple[str, str]] = [
    ("001_messages", """
        create table messages (
            id integer primary key,
            source text not null,          -- importer name, e.g. whatsapp
            origin text not null,          -- the file or thread it came from
            chat text not null,            -- conversation id within the origin
            sender text not null,
            is_me integer not null,
            sent_at text,                  -- ISO 8601, UTC when known
            text text not null,
            kind text not null default 'text',   -- text, media, system
            reply_to text,
            fingerprint text not null unique     -- importing the same export twice adds nothing
        );
        create index messages_chat on messages(source, chat, sent_at);
    """),
    ("002_examples", """
        create table examples (
            id integer primary key,
            source text not null,
            origin text,
            messages_json text not null,
            fingerprint text not null unique,
            created_at text not null default (datetime('now'))
        );
    """),
    ("003_interview", """
        create table interview_answers (
            id integer primary key,
            question_id text not null unique,
            context text,
            question text not null,
            answer text,                   -- null when skipped
            answered_at text not null default (datetime('now'))
        );
    """),
    ("004_rankings", """
        create table rankings (
            id integer primary key,
            model text not null,
            prompt_json text not null,
            candidates_json text not null,
            order_json text not null,      -- candidate indexes, best first
            edited text,
            created_at text not null default (datetime('now'))
        );
    """),
    ("005_runs", """
        create table runs (
            id text primary key,
            name text not null,
            method text not null,
            base_model text not null,
            run_dir text not null,
            status text not null,
            created_at text not null default (datetime('now')),
            summary_json text
        );
    """),
    ("006_conversations", """
        create table conversations (
            id integer primary key,
            model text not null,
            channel text not null,          -- chat, api, web, telegram, discord
            messages_json text not null,
            created_at text not null default (datetime('now'))
        );
    """),
    ("007_judgements", """
        create table judgements (
            id integer primary key,
            kind text not null,             -- turing, probe
            session text not null,
            item_key text not null,
            payload_json text not null,
            created_at text not null default (datetime('now')),
            unique(kind, session, item_key)
        );
    """),
    ("101_interview_state", """
        create table interview_state (     -- the interview's per-workspace settings, e.g. its shuffle seed
            key text primary key,
            value text not null
        );
    """),
    ("201_pref_ranking", """
        create table rank_items (          -- candidates written for `selfclone rank`, kept until ranked or skipped
            id integer primary key,
            model text not null,
            prompt_key text not null,      -- sha1 of prompt_json: one item per model and prompt
            prompt_json text not null,
            reference text,                -- the person's real reply, when the prompt came with one
            source text not null,          -- heldout, interview, file
            candidates_json text not null,
            status text not null default 'pending',   -- pending, ranked, skipped
            created_at text not null default (datetime('now')),
            unique(model, prompt_key)
        );
        alter table rankings add column kind text not null default 'order';   -- order, best_worst, edit
        alter table rankings add column item_id integer references rank_items(id);
    """),
    ("401_personas", """
        create table personas (            -- persona presets: character cards the clone can speak as
            id integer primary key,
            name text not null unique,
            card_json text not null,       -- the whole card, V2 or V3, as imported
            created_at text not null default (datetime('now'))
        );
    """),
    ("401_memories", """
        create table memories (            -- long-term memory: what the clone learned about whom it talks to
            id integer primary key,
            contact text not null,         -- a contact's pseudonym or a bot user's id; 'me' for the owner
            fact text not null,
            source text not null default 'summary',   -- summary (folded from a conversation), manual
            created_at text not null default (datetime('now'))
        );
        create index memories_contact on memories(contact);
    """),
    ("401_contacts", """
        create table contacts (            -- who each conversation is with: a pseudonym, never the real name
            id integer primary key,
            source text not null,
            chat text not null,
            pseudonym text not null,
            relationship text,             -- family, close friend, colleague, ... (`selfclone contacts label`)
            unique(source, chat)
        );
        create index contacts_pseudonym on contacts(pseudonym);
    """),
    ("401_reviews", """
        create table reviews (             -- the person's verdict on each stored reply of the clone (`selfclone review`)
            id integer primary key,
            conversation_id integer not null references conversations(id) on delete cascade,
            turn integer not null,         -- index of the assistant message in messages_json
            verdict text not null,         -- keep, edit, reject
            edited text,
            created_at text not null default (datetime('now')),
            unique(conversation_id, turn)
        );
    """),
    ("501_chat_threads", """
        create table chat_threads (        -- a bot's live context per user, so a restart keeps it until a reset
            channel text not null,         -- telegram, discord, web
            chat_key text not null,        -- e.g. chat id:user id
            model text not null,
            history_json text not null,
            updated_at real not null,      -- unix time of the last message (the idle reset counts from it)
            primary key (channel, chat_key)
        );
    """),
    ("301_api_files", """
        create table api_files (           -- uploads to POST /v1/files, validated by the dataset doctor's readers
            id text primary key,           -- file-...
            filename text not null,
            purpose text not null,
            bytes integer not null,
            path text not null,            -- where the content is kept (the workspace's data/uploads/)
            format text,                   -- chat or preference, when it parsed
            status text not null,          -- processed or error
            status_details text,           -- for errors: the line and the fix
            created_at integer not null
        );
    """),
    ("301_jobs", """
        create table jobs (                -- the fine-tuning queue (selfclone/jobs.py): serve writes, train's worker runs
            id text primary key,           -- ftjob-...
            model text not null,
            method text not null,          -- sft or dpo
            training_file text not null,   -- a path
            validation_file text,
            suffix text,
            seed integer,
            hyperparameters_json text not null default '{}',
            status text not null,          -- validating_files, queued, running, paused, succeeded, failed, cancelled
            run_dir text,                  -- set once training starts; resuming continues from its checkpoints
            fine_tuned_model text,
            error text,
            created_at integer not null,
            finished_at integer
        );
        create table job_events (
            id integer primary key,
            job_id text not null references jobs(id) on delete cascade,
            created_at integer not null,
            level text not null default 'info',
            type text not null default 'message',     -- message or metrics
            message text not null,
            data_json text
        );
        create index job_events_job on job_events(job_id, id);
    """),
    ("jobs_1_process", """
        alter table jobs add column pid integer;                          -- the job's training process while it runs
        alter table jobs add column attempts integer not null default 0;  -- times its process died (jobs.retries)
    """),
    ("13_contacts_at_import", """
        alter table contacts add column messages integer;   -- their messages in the chat, stored by each import
    """),
    ("13_contact_links", """
        create table contact_links (       -- a bot's user mapped to a contact: --with applies to them (`contacts link`)
            channel text not null,         -- telegram, discord
            user_id text not null,         -- the platform's user id
            contact text not null,         -- a contact's pseudonym or a relationship
            primary key (channel, user_id)
        );
    """),
]


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.row_factory = sqlite3.Row
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma foreign_keys=on")
        self.migrate()

    def migrate(self) -> list[str]:
        self.db.execute("create table if not exists _migrations (name text primary key, applied_at text default (datetime('now')))")
        done = {row[0] for row in self.db.execute("select name from _migrations")}
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.db:
                self.db.executescript("begin;" + sql + f"; insert into _migrations(name) values ('{name}'); commit;")
            applied.append(name)
        return applied

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
