"""Evaluate: how much a clone sounds like the person, against baselines, and games a human judge plays.

    heldout.py     held-out loss and perplexity of the person's real replies (batched)
    baselines.py   no-training modes of a base model: persona prompt, few-shot, retrieval
    generate.py    the replies each model writes to the held-out prompts (seeded, batched)
    style.py       attribution classifier and style distance
    similarity.py  semantic similarity with the offline embedding model
    compare.py     every metric for several models, in one table (`selfclone eval`)
    report.py      the self-contained HTML report
    judgements.py  answers saved as given (resumable) and Wilson intervals
    turing.py      `selfclone turing`: which reply is the real one?
    probe.py       `selfclone probe`: preference probes against the person's own picks
    plays.py, quality.py, bench.py   the quality and throughput benchmarks (`selfclone bench ...`)
"""
