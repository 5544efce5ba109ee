"""The embedded backend: any model the registry resolves, run in-process with transformers on CPU (or GPU).

OpenAI's presence and frequency penalties are applied as a logits processor over the tokens generated so
far, and the copy bias towards `copy_from` by the llama.cpp engine's own rule (sampling.CopyBias); stop strings end
generation and are cut from the text, also while streaming.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pydantic

from ..plugins import hookimpl
from .base import GenerationOptions, cut_at_stop
from .sampling import CopyBias


class PenaltyProcessor:
    """logits[j] -= frequency * count[j] + presence * (count[j] > 0), counting generated tokens only."""

    def __init__(self, prompt_len: int, presence: float, frequency: float):
        self.prompt_len, self.presence, self.frequency = prompt_len, presence, frequency

    def __call__(self, input_ids, scores):
        import torch

        generated = input_ids[:, self.prompt_len:]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


class CopyBiasLogits:
    """sampling.CopyBias on each row of a batch: the bonus for tokens that copy the texts of `copy_from`."""

    def __init__(self, prompt_len: int, bias: CopyBias):
        self.prompt_len, self.bias = prompt_len, bias

    def __call__(self, input_ids, scores):
        started = input_ids.shape[1] > self.prompt_len
        for row in range(scores.shape[0]):
            self.bias.add(scores[row], int(input_ids[row, -1]) if started else None)
        return scores


class TransformersBackend:
    name = "transformers"

    class Options(pydantic.BaseModel):
        threads: int | None = pydantic.Field(None, description="torch threads (default: all cores)")
        device: str = pydantic.Field("cpu", description="cpu, cuda or mps")

    def __init__(self, model: str, options: "TransformersBackend.Options | None" = None, *, loaded=None,
                 workspace_runs=None):
        import torch

        from .. import models

        self.options = options or self.Options()
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        if loaded is not None:
            self.model, self.tokenizer = loaded
            self.model_name = model
        else:
            ref = models.as_ref(model, workspace_runs)
            self.model_name = ref.name
            self.model, self.tokenizer = models.load(ref)
        if self.options.device != "cpu":
            self.model.to(self.options.device)
        self._lock = threading.Lock()

    # --- helpers -------------------------------------------------------------------------------------
    def encode(self, messages: Sequence[dict]):
        ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)
        return ids["input_ids"].to(self.model.device), ids["attention_mask"].to(self.model.device)

    def _generate_kwargs(self, prompt_len: int, options: GenerationOptions, prompt: Sequence[int] = ()) -> dict:
        """generate()'s sampling arguments; `prompt` (the ids) is what the copy bias needs besides its length."""
        from transformers import LogitsProcessorList

        kwargs = dict(max_new_tokens=options.max_tokens, pad_token_id=self.tokenizer.pad_token_id,
                      eos_token_id=self.tokenizer.eos_token_id)
        if options.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=options.temperature, top_p=options.top_p, top_k=0)
        if options.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = options.no_repeat_ngram_size
        processors = []
        if options.presence_penalty or options.frequency_penalty:
            processors.append(PenaltyProcessor(prompt_len, options.presence_penalty, options.frequency_penalty))
        if options.copy_bias and options.copy_from:
            texts = [self.tokenizer.encode(" " + t, add_special_tokens=False) for t in options.copy_from]
            bias = CopyBias(options.copy_bias, texts, prompt)
            processors.append(CopyBiasLogits(prompt_len, bias))
        if processors:
            kwargs["logits_processor"] = LogitsProcessorList(processors)
        if options.stop:
            kwargs.update(stop_strings=list(options.stop), tokenizer=self.tokenizer)
        return kwargs

    def _seed(self, options: GenerationOptions) -> None:
        if options.seed is not None:
            import torch

            torch.manual_seed(options.seed)

    # --- the Backend interface -----------------------------------------------------------------------
    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        input_ids, attention = self.encode(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(input_ids.shape[1], options, input_ids[0].tolist())
        errors: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    self.model.generate(input_ids=input_ids, attention_mask=attention, streamer=streamer, **kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        with self._lock:
            self._seed(options)
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            yield from stream_until_stop(streamer, options.stop)
            thread.join()
        if errors:
            raise errors[0]

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        import torch

        input_ids, attention = self.encode(messages)
        kwargs = self._generate_kwargs(input_ids.shape[1], options, input_ids[0].tolist())
        if options.n > 1 and not options.greedy:
            kwargs["num_return_sequences"] = options.n
        with self._lock, torch.inference_mode():
            self._seed(options)
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, **kwargs)
        texts = self.tokenizer.batch_decode(out[:, input_ids.shape[1]:], skip_special_tokens=True)
        texts = [cut_at_stop(t, options.stop)[0] for t in texts]
        if len(texts) < options.n:          # greedy decoding gives one answer; repeat it
            texts = texts * options.n
        return texts


def stream_until_stop(pieces, stops: Sequence[str]) -> Iterator[str]:
    """Re-chunk a text stream so no stop string (or its start) is ever emitted; end at the first stop."""
    hold = max((len(s) for s in stops), default=0)
    buffer = ""
    for piece in pieces:
        buffer += piece
        text, stopped = cut_at_stop(buffer, stops)
        if stopped:
            if text:
                yield text
            for _ in pieces:         # let the producer finish
                pass
            return
        safe = len(buffer) - (hold - 1 if hold else 0)
        if safe > 0:
            yield buffer[:safe]
            buffer = buffer[safe:]
    if buffer:
        yield buffer


@hookimpl
def register_backends(register):
    register(TransformersBackend)
