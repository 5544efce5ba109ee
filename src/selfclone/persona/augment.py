"""Training examples augmented with notes, in the talk-time frame: each example's system message gets the passages
retrieved for its last user message plus random distractor passages, so the clone learns to use its notes when
they help and to ignore them when they do not. The frame is persona/frame.py's, as ChatSession builds it.

    selfclone notes augment data/me.jsonl data/me.notes.jsonl --distractors 1
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator

from ..dataset.chat import Example, parse_record
from .frame import reframed
from .index import NotesIndex
from .retrieval import Retriever


def holds(passage: str, reply: str) -> bool:
    """Whether a passage is (or holds) the example's own reply: own messages are indexed, and seeing the answer in
    the frame would teach copying it. Replies under 20 characters count only when they are the whole passage."""
    text = " ".join(passage.split())
    return text == reply or (len(reply) >= 20 and reply in text)


def augment(examples: Iterable[Example], retriever: Retriever, *, distractors: int = 1,
            seed: int = 0) -> Iterator[Example]:
    """Each example with the retrieved passages and `distractors` random other passages in its system frame."""
    rng = random.Random(seed)
    with NotesIndex(retriever.path) as index:
        every = index.passage_texts()
    for example in examples:
        users = [t for t in example.prompt() if t["role"] == "user"]
        own = " ".join(example.reply().split())
        passages = [p for p in (retriever.passages_for(users[-1]["content"]) if users else []) if not holds(p, own)]
        extra = [p for p in rng.sample(every, min(len(every), distractors + len(passages) + 1))
                 if p not in passages and not holds(p, own)]
        passages = passages + extra[:distractors]
        rng.shuffle(passages)
        record = example.to_dict()
        record["messages"] = reframed(record["messages"], passages=passages)
        yield parse_record(record)
