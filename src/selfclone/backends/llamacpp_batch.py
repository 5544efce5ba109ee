"""Continuous batching for llama.cpp: one scheduler thread per loaded model decodes every running reply in one context.

Each reply is a `Sequence` with its own llama.cpp sequence id (a slot), positions, sampler (backends/sampling.py) and
an unbounded queue of tokens, so a slow reader never holds up the others. Between two `llama_decode` calls new
sequences join (continuous batching) and finished, cancelled or disconnected ones leave; a joining prompt is fed in
chunks of `prefill_chunk` tokens so the running replies keep getting a token every step (in one piece of up to
PREFILL_ALONE tokens when nothing else is running). A slot keeps its KV cells
after its reply ends: the next prompt that shares a prefix with it (the same system prompt, the earlier turns of a
conversation) starts after the shared part.

    engine = BatchEngine(llm, slots=8)
    seq = engine.submit(prompt_ids, Sampler(options, seed=1), max_tokens=64)
    for token in seq.tokens():
        ...                          # Token(id, piece bytes, logprobs); seq.finish_reason is "stop" or "length" after
"""
from __future__ import annotations

import ctypes
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from queue import SimpleQueue

import numpy as np

from ..errors import BackendError
from .sampling import Sampler


PREFILL_ALONE = 256        # prompt tokens per decode when no reply is running (llama.cpp's batch size)


@dataclass(frozen=True)
class Token:
    id: int
    piece: bytes
    logprobs: tuple | None = None        # (logprob of this token, [(id, logprob), ...] most likely first)


class Sequence:
    """One reply being decoded. Read it with `tokens()` (from any thread); `cancel()` makes it leave the batch."""

    def __init__(self, prompt: list[int], sampler: Sampler, max_tokens: int, top: int | None, wake):
        self.prompt, self.sampler, self.max_tokens, self.top = list(prompt), sampler, max_tokens, top
        self.events: SimpleQueue = SimpleQueue()
        self.cancelled = False
        self.finish_reason: str | None = None
        self.slot: int | None = None
        self.feed: list[int] = []            # prompt tokens not yet decoded
        self.pos = 0                         # position of the next token fed
        self.last: int | None = None         # the sampled token to feed next step
        self.generated = 0
        self._wake = wake

    def cancel(self) -> None:
        self.cancelled = True
        self._wake()

    def tokens(self):
        try:
            while True:
                event = self.events.get()
                if isinstance(event, Token):
                    yield event
                elif isinstance(event, BaseException):
                    raise event
                else:
                    self.finish_reason = event
                    return
        finally:                              # the reader went away (closed stream, disconnect): free the slot
            if self.finish_reason is None:
                self.cancel()


class BatchEngine:
    """`n_ctx` bounds one reply (prompt included). By default each slot has its own n_ctx KV cells (a separate
    stream): a reply is then the same token for token whatever else is in the batch (measured), and memory grows
    with the slots. With `unified` all slots share one cache of `cells` cells: a sequence joins when the cells it may
    still need are free (idle slots' cached prefixes are dropped first), but attention over the shared cache rounds
    differently with the batch, so greedy replies can change by batch."""

    def __init__(self, llm, *, slots: int = 4, n_ctx: int = 2048, cells: int | None = None, unified: bool = False,
                 prefill_chunk: int = 64, threads: int | None = None):
        import llama_cpp

        self.slots, self.n_ctx, self.prefill_chunk = slots, n_ctx, prefill_chunk
        self.cells = max(cells or n_ctx, n_ctx) if unified else None
        model = llm._model.model
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.cells if unified else n_ctx * slots
        params.n_seq_max = slots
        params.kv_unified = unified
        # a prompt joins in chunks of prefill_chunk while others decode, and in one piece of up to PREFILL_ALONE
        # tokens when nothing else runs (its first token sooner: fewer, larger matmuls)
        self.n_batch = params.n_batch = params.n_ubatch = max(prefill_chunk + slots, PREFILL_ALONE)
        params.n_threads = threads or llm.context_params.n_threads
        params.n_threads_batch = threads or llm.context_params.n_threads_batch
        params.no_perf = True
        ctx = llama_cpp.llama_init_from_model(model, params)
        if not ctx:
            raise BackendError(f"llama.cpp could not make a context of {slots} x {n_ctx} tokens",
                               "lower -o slots=... or -o n_ctx=...")
        if llm._lora_adapter is not None:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llm._lora_adapter)
            llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, (ctypes.c_float * 1)(1.0))
        self._llm = llm                                    # keeps the model alive as long as this context
        self._ctx, self._mem = ctx, llama_cpp.llama_get_memory(ctx)
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._pieces: dict[int, bytes] = {}
        self._cached: list[list[int]] = [[] for _ in range(slots)]   # the tokens in each slot's KV cells
        self._active: list[Sequence] = []
        self._pending: deque[Sequence] = deque()
        self._reset = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.steps = 0
        weakref.finalize(self, _free, ctx, self._batch, self._stop, self._cond)
        threading.Thread(target=_run, args=(weakref.ref(self), self._cond, self._stop), daemon=True,
                         name="llamacpp-batch").start()

    # --- the interface ------------------------------------------------------------------------------
    def submit(self, prompt: list[int], sampler: Sampler, max_tokens: int, top: int | None = None) -> Sequence:
        if not prompt:
            raise BackendError("the prompt has no tokens", "send at least one message with content")
        if len(prompt) + 1 > self.n_ctx:
            raise BackendError(f"the prompt has {len(prompt)} tokens; this model's context holds {self.n_ctx}",
                               "shorten the messages, or load the model with a larger -o n_ctx=...")
        seq = Sequence(prompt, sampler, max_tokens, top, self._wake)
        with self._cond:
            self._pending.append(seq)
            self._cond.notify()
        return seq

    def piece(self, token: int) -> bytes:
        """The bytes of one token (special tokens as empty bytes), cached."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
            piece = self._pieces[token] = buf.raw[:max(n, 0)]
        return piece

    def is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def reset(self) -> None:
        """Forget every cached prefix (the next prompts are decoded from scratch), e.g. for cold-start timings.
        The scheduler thread does it before it admits anything submitted after this call."""
        with self._cond:
            self._reset = True
            self._cond.notify()

    def busy(self) -> int:
        """Sequences running or waiting."""
        with self._cond:
            return len(self._active) + len(self._pending)

    # --- the scheduler --------------------------------------------------------------------------------
    def _wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _forget(self, slot: int, keep: int) -> None:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._mem, slot, keep, -1)
        del self._cached[slot][keep:]

    def _admit(self) -> None:
        """Move waiting sequences into free slots, each into the slot whose cached tokens share most of its prompt."""
        for seq in [s for s in self._pending if s.cancelled]:
            self._pending.remove(seq)
            seq.events.put("cancelled")
        for seq in [s for s in self._active if s.cancelled]:
            self._leave(seq, "cancelled")
        used = {s.slot for s in self._active}
        if self._reset:
            for slot in set(range(self.slots)) - used:
                self._forget(slot, 0)
            self._reset = False
        while self._pending and len(used) < self.slots:
            seq = self._pending[0]
            free = [slot for slot in range(self.slots) if slot not in used]
            shared = {slot: _common_prefix(self._cached[slot], seq.prompt) for slot in free}
            slot = max(free, key=lambda s: shared[s])
            keep = min(shared[slot], len(seq.prompt) - 1)      # feed at least one token: its logits start the reply
            if not self._room(seq, slot, keep, free):
                break                                          # it waits (first come, first served) for cells
            self._pending.popleft()
            self._forget(slot, keep)
            seq.slot, seq.pos, seq.feed = slot, keep, seq.prompt[keep:]
            self._active.append(seq)
            used.add(slot)

    def _need(self, seq: Sequence, keep: int | None = None) -> int:
        """Cells `seq` may still add: its prompt not yet decoded and the rest of its reply (within n_ctx)."""
        fed = seq.pos if keep is None else keep            # a running sequence's cells: its position
        return max(min(len(seq.prompt) + seq.max_tokens, self.n_ctx) - fed, 0)

    def _room(self, seq: Sequence, slot: int, keep: int, free: list[int]) -> bool:
        """Whether the shared cache can hold `seq` to its end next to the running ones; drops the cached prefixes of
        idle slots (the least shared first) until it can. Always true without a unified cache."""
        if self.cells is None:
            return True

        def short() -> int:
            used = sum(len(c) for c in self._cached) - (len(self._cached[slot]) - keep)
            reserved = sum(self._need(s) for s in self._active)
            return used + reserved + self._need(seq, keep) - self.cells
        for idle in sorted((s for s in free if s != slot and self._cached[s]), key=lambda s: len(self._cached[s])):
            if short() <= 0:
                break
            self._forget(idle, 0)
        return short() <= 0

    def _leave(self, seq: Sequence, reason: str) -> None:
        self._active.remove(seq)
        seq.events.put(reason)

    def step(self) -> bool:
        """One decode of every active sequence; False when there is nothing to do."""
        import llama_cpp

        with self._cond:
            self._admit()
            active = list(self._active)
        if not active:
            return False
        batch, n, outputs, fed = self._batch, 0, [], []
        for seq in active:                                     # running replies first: one token each
            if not seq.feed:
                n = _add(batch, n, seq.last, seq.pos, seq.slot, True)
                outputs.append((seq, n - 1))
                fed.append((seq, [seq.last]))
        budget = self.prefill_chunk if n else self.n_batch
        for seq in active:                                     # then joining prompts, a chunk at a time
            if seq.feed and budget > 0:
                # the prompt's last token (whose logits start the reply) goes in a step of its own, as it does when
                # the rest of the prompt is cached: so a repeated request computes it the same way (BF16/Q8_0
                # kernels round differently for one row and for many)
                chunk = seq.feed[:min(budget, len(seq.feed) - 1) or 1]
                for i, token in enumerate(chunk):
                    last = i == len(chunk) - 1 and len(chunk) == len(seq.feed)
                    n = _add(batch, n, token, seq.pos + i, seq.slot, last)
                if len(chunk) == len(seq.feed):
                    outputs.append((seq, n - 1))
                fed.append((seq, chunk))
                budget -= len(chunk)
        batch.n_tokens = n
        code = llama_cpp.llama_decode(self._ctx, batch)
        self.steps += 1
        if code != 0:
            error = BackendError(f"llama.cpp could not decode this batch (code {code})",
                                 "retry with fewer concurrent requests, or a larger -o n_ctx=...")
            with self._cond:
                for seq in active:
                    self._forget(seq.slot, 0)
                    self._active.remove(seq)
                    seq.events.put(error)
            return True
        for seq, tokens in fed:
            self._cached[seq.slot].extend(tokens)
            seq.pos += len(tokens)
            del seq.feed[:len(tokens) if seq.feed else 0]
        for seq, index in outputs:
            self._sample(seq, index)
        return True

    def _sample(self, seq: Sequence, index: int) -> None:
        import llama_cpp

        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self._ctx, index), shape=(self.n_vocab,))
        token, logprobs = seq.sampler.pick(row, seq.top)
        with self._cond:
            if seq.cancelled:
                self._leave(seq, "cancelled")
            elif self.is_end(token):
                self._leave(seq, "stop")
            else:
                seq.sampler.accept(token)
                seq.generated += 1
                seq.last = token
                seq.events.put(Token(token, self.piece(token), logprobs))
                if seq.generated >= seq.max_tokens or seq.pos >= self.n_ctx:
                    self._leave(seq, "length")


def _add(batch, n: int, token: int, pos: int, seq_id: int, logits: bool) -> int:
    batch.token[n] = token
    batch.pos[n] = pos
    batch.n_seq_id[n] = 1
    batch.seq_id[n][0] = seq_id
    batch.logits[n] = logits
    return n + 1


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _run(ref, cond: threading.Condition, stop: threading.Event) -> None:
    """The scheduler thread: it holds the engine only while stepping, so an unused engine can be freed."""
    while not stop.is_set():
        engine = ref()
        if engine is None:
            return
        try:
            worked = engine.step()
        except BaseException as exc:     # hand the error to every reader rather than dying silently
            worked = False
            with cond:
                for seq in list(engine._active) + list(engine._pending):
                    seq.events.put(exc)
                engine._active.clear()
                engine._pending.clear()
        del engine
        if not worked:
            with cond:
                engine = ref()
                idle = engine is not None and not (engine._pending or engine._active or engine._reset)
                del engine
                if idle:
                    cond.wait(0.5)


def _free(ctx, batch, stop: threading.Event, cond: threading.Condition) -> None:
    import llama_cpp

    stop.set()
    with cond:
        cond.notify_all()
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
