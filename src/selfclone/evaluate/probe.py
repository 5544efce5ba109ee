"""`selfclone probe`: preference probes (which film, book, food ...) answered by the clone, against the
person's own recorded picks, with the chance of guessing as the baseline.

The probe bank ships in resources/probes.toml (or pass your own file). The person records their picks once
(`selfclone probe --record`); each is saved as given, so recording resumes. A clone then picks for every
probe: a local model picks the option whose words it finds most likely as its reply (mean token
log-probability: deterministic, and no parsing of free text); a remote backend is asked and the first
option its reply names is its pick. Agreement with a 95% Wilson interval is compared with chance, the mean
of 1/len(options) over the probes.

    probes = load_probes()
    record_pick(store, probes[0], "Casablanca")
    picks = clone_picks(store, backend, "ft:...", probes, system="You are Maggie.")
    agreement(person_picks(store), picks, probes)
"""
from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..config import GenerationOptions
from ..dataset.chat import Example
from ..errors import DataError
from .generate import local_model, unwrap
from .judgements import Estimate, Judgements

KIND = "probe"
PERSON = "person"


@dataclass(frozen=True)
class Probe:
    id: str
    question: str
    options: tuple[str, ...]

    def prompt(self, system: str | None = None) -> list[dict]:
        listed = ", ".join(self.options[:-1]) + f" or {self.options[-1]}"
        messages = [{"role": "system", "content": system}] if system else []
        return messages + [{"role": "user", "content": f"{self.question} {listed}?"}]


def default_bank() -> Path:
    return Path(str(resources.files("selfclone") / "resources" / "probes.toml"))


def load_probes(path: Path | None = None) -> list[Probe]:
    path = Path(path) if path else default_bank()
    if not path.exists():
        raise DataError("probe file not found", "check the path, or leave --probes out to use the shipped bank",
                        path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not valid TOML ({exc})", "fix the line it names", path=path) from exc
    probes, seen = [], set()
    for i, raw in enumerate(data.get("probe", [])):
        where = f"probe[{i}]"
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw.get(k) for k in ("id", "question")):
            raise DataError(f"{where} needs an `id` and a `question`", path=path, field=where)
        options = raw.get("options")
        if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o for o in options):
            raise DataError(f"{where} ({raw['id']}) needs `options`: a list of two or more texts", path=path,
                            field=f"{where}.options")
        if raw["id"] in seen:
            raise DataError(f"{where}: the id {raw['id']!r} is used twice", "give every probe its own id", path=path,
                            field=f"{where}.id")
        seen.add(raw["id"])
        probes.append(Probe(raw["id"], raw["question"], tuple(options)))
    if not probes:
        raise DataError("the file has no probes", "add [[probe]] tables with id, question and options", path=path)
    return probes


# --- the person's picks --------------------------------------------------------------------------------
def record_pick(store, probe: Probe, pick: str | None) -> None:
    """Save the person's pick (None: skipped) at once."""
    if pick is not None and pick not in probe.options:
        raise ValueError(f"{pick!r} is not an option of probe {probe.id}")
    Judgements(store, KIND, PERSON).put(probe.id, {"question": probe.question, "options": list(probe.options),
                                                   "pick": pick})


def person_picks(store) -> dict[str, str | None]:
    return {key: item["pick"] for key, item in Judgements(store, KIND, PERSON).items().items()}


# --- the clone's picks ---------------------------------------------------------------------------------
def model_session(model: str) -> str:
    return f"model:{model}"


def choose(backend, probe: Probe, system: str | None = None) -> dict:
    """The backend's pick for one probe: by likelihood for a local model, else from a generated reply."""
    inner, modes = unwrap(backend)
    prompt = probe.prompt(system)
    for mode in modes:          # outermost first, as the wrappers would apply them
        prompt = mode.apply(prompt)
    loaded = local_model(inner)
    if loaded is not None:
        from .heldout import heldout_loss

        scores = {}
        for option in probe.options:
            example = Example.chat(*[(m["role"], m["content"]) for m in prompt], ("assistant", option))
            scores[option] = -heldout_loss(*loaded, [example])["loss"]      # mean token log-probability
        return {"pick": max(probe.options, key=lambda o: scores[o]), "method": "likelihood", "scores": scores}
    reply = inner.candidates(prompt, GenerationOptions(max_tokens=32, temperature=0.0))[0]
    lowered = reply.lower()
    named = sorted((lowered.find(o.lower()), o) for o in probe.options if o.lower() in lowered)
    return {"pick": named[0][1] if named else None, "method": "generated", "reply": reply}


def clone_picks(store, backend, model: str, probes: Sequence[Probe], system: str | None = None,
                progress: Callable[[int], None] | None = None) -> dict[str, str | None]:
    """Every probe's pick by `model`, saved as made; probes already answered in an earlier run are kept."""
    book = Judgements(store, KIND, model_session(model))
    done = book.items()
    for probe in probes:
        if probe.id not in done:
            book.put(probe.id, {"question": probe.question, "options": list(probe.options)} | choose(backend, probe, system))
        if progress:
            progress(1)
    return {key: item["pick"] for key, item in book.items().items()}


def agreement(person: dict[str, str | None], clone: dict[str, str | None], probes: Sequence[Probe]) -> dict:
    """How often the clone picked what the person picked, against chance, over probes both answered."""
    compared = [p for p in probes if person.get(p.id) and p.id in clone]
    hits = sum(clone[p.id] == person[p.id] for p in compared)
    chance = sum(1 / len(p.options) for p in compared) / len(compared) if compared else float("nan")
    return {"agreement": Estimate(hits, len(compared)), "chance": chance,
            "rows": [{"id": p.id, "question": p.question, "person": person[p.id], "clone": clone[p.id]}
                     for p in compared]}
