"""The interview: questions from a bank, answers saved to the workspace store one by one, export to chat JSONL.

The bank is the shipped opinion and scenario questions (resources/questions/*.csv) plus any custom CSV with a
`question` column, or `context,utterance` columns for scenarios. The order is a shuffle seeded once per
workspace, so a resumed session carries on where the last one stopped. Every answer is committed the moment
it is given; a killed session loses nothing. The terminal side is interview_commands.py
(`selfclone interview`); this module never prints.

    with ws.store() as store:
        session = Interview(InterviewLog(store), shipped_bank(), target=500)
        while (prompt := session.current()) is not None:
            event = session.respond(input(prompt.question.text))
        write_examples("interview.jsonl", InterviewLog(store).examples(system=ws.config.system))
"""
from __future__ import annotations

import csv
import hashlib
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..dataset.chat import Example
from ..errors import DataError

OPINION, SCENARIO = "opinion", "scenario"
SHIPPED_BANKS = ("opinions.csv", "scenarios.csv")


@dataclass(frozen=True)
class Question:
    """An opinion question (no context) or a scenario: a setting plus what the other person says."""

    text: str
    context: str | None = None
    source: str = field(default="shipped", compare=False)      # which bank it came from; not part of identity

    @property
    def kind(self) -> str:
        return SCENARIO if self.context else OPINION

    @property
    def id(self) -> str:
        """Stable across runs and banks: the same wording is the same question wherever it comes from."""
        key = f"{self.kind}\x1f{self.context or ''}\x1f{self.text}"
        return f"{self.kind[0]}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]}"

    def prompt(self, system: str | None = None) -> list[dict]:
        """The chat messages a model gets for this question, framed as `selfclone chat --context` frames them:
        the scenario's context (else the workspace's system prompt, if any) as system message, then the line."""
        return self.example("", system).prompt()

    def example(self, answer: str, system: str | None = None) -> Example:
        return Example.chat(("user", self.text), ("assistant", answer), system=self.context or system or None)


def _clean(text: str) -> str:
    return " ".join(text.split())


# -- banks ---------------------------------------------------------------------------------------------------

def parse_bank(text: str, *, path: str | Path, source: str | None = None) -> list[Question]:
    """Questions from CSV text with a `question` column or `context,utterance` columns; DataError on bad rows."""
    source = source or Path(path).name
    reader = csv.reader(io.StringIO(text), strict=True)
    questions: list[Question] = []
    header: list[str] | None = None
    start = 1                          # the line the current record starts on (quoted fields may span lines)
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                columns = _columns(header, path)
                continue
            if len(row) > len(header) and not any(cell.strip() for cell in row[len(header):]):
                row = row[:len(header)]          # trailing empty cells, as spreadsheets write them
            if len(row) != len(header):
                raise DataError(f"the row has {len(row)} field(s) but the header has {len(header)}",
                                "put text that contains a comma in double quotes, e.g. \"Well, what now?\"",
                                path=path, line=line)
            values = {name: _clean(row[i]) for name, i in columns.items()}
            for name, value in values.items():
                if not value:
                    raise DataError(f"the '{name}' cell is empty", "fill it in or delete the row",
                                    path=path, line=line, field=name)
            text_col = "utterance" if "utterance" in values else "question"
            questions.append(Question(values[text_col], values.get("context"), source))
    except csv.Error as exc:
        problem = ("a quoted field starts here and never closes" if "end of data" in str(exc)
                   else f"not valid CSV ({exc})")
        raise DataError(problem, "close the double quote, and write a quote inside quoted text as \"\"",
                        path=path, line=start) from exc
    if header is None:
        raise DataError("the file is empty", "start it with a header line: `question` or `context,utterance`",
                        path=path)
    if not questions:
        raise DataError("the file has a header but no questions", "add one question per line", path=path)
    return questions


def _columns(header: list[str], path) -> dict[str, int]:
    if "context" in header and "utterance" in header:
        return {"context": header.index("context"), "utterance": header.index("utterance")}
    if "question" in header:
        return {"question": header.index("question")}
    raise DataError(f"no 'question' column and no 'context,utterance' columns (found: {', '.join(header)})",
                    "name the columns in the first line: `question` for questions, `context,utterance` for scenarios",
                    path=path, line=1, field="header")


def load_bank(path: str | Path) -> list[Question]:
    """A custom bank from a CSV file (UTF-8, with or without BOM)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError("file not found", "check the path given to --bank", path=path) from exc
    except IsADirectoryError as exc:
        raise DataError("is a folder, not a CSV file", "pass a .csv file to --bank", path=path) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError("not UTF-8 text", "save the file as CSV UTF-8 (most spreadsheets offer it under Save As)",
                        path=path, line=raw[:exc.start].count(b"\n") + 1) from exc
    return parse_bank(text, path=path)


def shipped_bank() -> list[Question]:
    """The questions that ship with selfclone: opinions and personal questions, and scenarios."""
    folder = resources.files("selfclone").joinpath("resources", "questions")
    out: list[Question] = []
    for name in SHIPPED_BANKS:
        out += parse_bank(folder.joinpath(name).read_text(encoding="utf-8"), path=name, source="shipped")
    return out


def merge(*banks: Iterable[Question], kinds: Iterable[str] = (OPINION, SCENARIO)) -> list[Question]:
    """Banks joined without duplicates (the first copy wins), keeping only the given kinds."""
    kinds, seen, out = set(kinds), set(), []
    for bank in banks:
        for q in bank:
            if q.kind in kinds and q.id not in seen:
                seen.add(q.id)
                out.append(q)
    return out


def shuffled(questions: Iterable[Question], seed: int) -> list[Question]:
    """A random order fixed by `seed`. Each question's place depends only on its id, so adding a bank later
    interleaves its questions without reordering the others."""
    return sorted(questions, key=lambda q: hashlib.sha256(f"{seed}:{q.id}".encode()).hexdigest())


# -- the store -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    question: Question
    answer: str


class InterviewLog:
    """The interview's rows in the workspace store: answers (and skips, stored with a null answer)."""

    def __init__(self, store):
        self.db = store.db

    def seed(self) -> int:
        """This workspace's shuffle seed, drawn on first use and kept, so every session sees the same order."""
        row = self.db.execute("select value from interview_state where key = 'seed'").fetchone()
        if row:
            return int(row[0])
        with self.db:
            self.db.execute("insert or ignore into interview_state(key, value) values ('seed', ?)",
                            (str(secrets.randbits(48)),))
        return int(self.db.execute("select value from interview_state where key = 'seed'").fetchone()[0])

    def answers(self) -> list[Answer]:
        """Given answers, oldest first."""
        rows = self.db.execute("select context, question, answer from interview_answers "
                               "where answer is not null order by id").fetchall()
        return [Answer(Question(r["question"], r["context"], "store"), r["answer"]) for r in rows]

    def skipped_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("select question_id from interview_answers where answer is null")}

    def answered_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("select question_id from interview_answers where answer is not null")}

    def save(self, question: Question, answer: str | None) -> None:
        """Commit an answer (None: a skip) now. A redone answer keeps its place; a skipped question answered
        later moves to the end, so `back` finds it as the latest answer."""
        with self.db:
            old = self.db.execute("select answer from interview_answers where question_id = ?",
                                  (question.id,)).fetchone()
            if old is not None and old[0] is not None:
                if answer is not None:
                    self.db.execute("update interview_answers set answer = ?, answered_at = datetime('now') "
                                    "where question_id = ?", (answer, question.id))
                return                 # an answer is never turned back into a skip
            if old is not None:
                self.db.execute("delete from interview_answers where question_id = ?", (question.id,))
            self.db.execute("insert into interview_answers(question_id, context, question, answer) "
                            "values (?, ?, ?, ?)", (question.id, question.context, question.text, answer))

    def examples(self, system: str | None = None) -> list[Example]:
        """Every answer as a chat example; skips are left out."""
        return [a.question.example(a.answer, system) for a in self.answers()]


# -- the session ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """What to ask now: a new question, or an earlier one being redone (with the answer it had)."""

    question: Question
    previous: str | None = None


@dataclass(frozen=True)
class Event:
    """What a line of input did: answered, redone, skipped, kept, back, no-back, empty, quit."""

    kind: str
    question: Question | None = None


@dataclass
class Interview:
    """Asks `questions` in order, skipping those answered or skipped before; skipped ones come back only
    when nothing else is left. `back` steps to earlier answers to redo them, one more step each time."""

    log: InterviewLog
    questions: list[Question]
    target: int = 500
    _history: list[Question] = field(default_factory=list, init=False)
    _back: int | None = field(default=None, init=False)        # how far back a redo is (0 = the last answer)
    _pending: Question | None = field(default=None, init=False)
    _skipped_now: set[str] = field(default_factory=set, init=False)

    def __post_init__(self):
        if self.target < 1:
            raise DataError(f"the target must be at least 1 answer, got {self.target}", "pass --target 500")
        self.questions = shuffled(self.questions, self.log.seed())
        self._history = [a.question for a in self.log.answers()]

    @property
    def answered(self) -> int:
        return len(self._history)

    @property
    def reached_target(self) -> bool:
        return self.answered >= self.target

    def remaining(self) -> int:
        """New questions not yet answered or skipped."""
        done = self.log.answered_ids() | self.log.skipped_ids()
        return sum(q.id not in done for q in self.questions)

    def current(self) -> Prompt | None:
        """The question to ask now; None when the target is reached or the bank has nothing left to ask."""
        if self._back is not None:
            answers = self.log.answers()
            old = answers[len(answers) - 1 - self._back]
            return Prompt(old.question, old.answer)
        if self.reached_target:
            return None
        if self._pending is None:
            self._pending = self._next()
        return Prompt(self._pending) if self._pending else None

    def _next(self) -> Question | None:
        answered, skipped = self.log.answered_ids(), self.log.skipped_ids()
        fresh = (q for q in self.questions if q.id not in answered and q.id not in skipped)
        # when the bank runs out, questions skipped in earlier sessions come back, never one skipped just now
        again = (q for q in self.questions if q.id in skipped and q.id not in self._skipped_now)
        return next(fresh, None) or next(again, None)

    def respond(self, line: str) -> Event:
        """Apply one line of input: a command (skip, back, quit; a leading '/' is allowed) or an answer."""
        text = line.strip()
        command = text.lower().lstrip("/")
        prompt = self.current()
        if command == "quit":
            return Event("quit")
        if command == "back":
            depth = 0 if self._back is None else self._back + 1
            if depth >= self.answered:
                return Event("no-back")
            self._back = depth
            return Event("back", self.current().question)
        if prompt is None:
            return Event("quit")
        if command == "skip":
            if prompt.previous is not None:
                self._back = None
                return Event("kept", prompt.question)
            self.log.save(prompt.question, None)
            self._skipped_now.add(prompt.question.id)
            self._pending = None
            return Event("skipped", prompt.question)
        if not text:
            return Event("empty", prompt.question)
        self.log.save(prompt.question, text)
        if prompt.previous is not None:
            self._back = None
            return Event("redone", prompt.question)
        self._history.append(prompt.question)
        self._pending = None
        return Event("answered", prompt.question)
