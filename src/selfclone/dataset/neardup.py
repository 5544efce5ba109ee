"""Near-duplicate texts: MinHash LSH (datasketch) in about linear time, and the exact pairwise check it replaces.

Two texts are near-duplicates when the Jaccard similarity of their character 5-gram sets (lower-cased,
whitespace collapsed) is at least `threshold`. LSH proposes candidate pairs from 64-permutation MinHash
signatures, tuned for a similarity 0.1 below the threshold (so that few pairs near it are missed); every
candidate is then confirmed with the exact Jaccard of the two sets, so LSH can miss a pair (rarely) but
never reports one that the exact check would not. `selfclone bench prepare` measures its recall.

    groups = near_duplicate_groups(["see you at 5!", "see you at 5", "something else"])   # [[0, 1]]

Short exchanges slip under any character threshold: "how are you?" and "how are you today?" with the same reply
share few 5-grams. `with_same_reply` adds those: the same reply to prompts whose words differ by one word.

`pairwise_groups` is the O(n^2) exact check, kept as the benchmark's baseline (`selfclone bench prepare`).
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence

SHINGLE = 5
NUM_PERM = 64
THRESHOLD = 0.8
CANDIDATE_MARGIN = 0.1


def shingles(text: str, k: int = SHINGLE) -> frozenset[int]:
    """Hashed character k-grams of the normalised text (a text shorter than k is one shingle)."""
    norm = " ".join(text.lower().split()).encode("utf-8")
    if len(norm) <= k:
        return frozenset((zlib.crc32(norm),))
    return frozenset(zlib.crc32(norm[i:i + k]) for i in range(len(norm) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if inter else 0.0


class _Groups:
    """Union-find over item indexes: pairs in, connected groups out."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        root = i
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(i, i) != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in self.parent:
            out.setdefault(self.find(i), []).append(i)
        return sorted(sorted(g) for g in out.values() if len(g) > 1)


def near_duplicate_groups(texts: Sequence[str], threshold: float = THRESHOLD, num_perm: int = NUM_PERM,
                          progress: Callable[[int], None] | None = None) -> list[list[int]]:
    """Groups (index lists, each sorted, at least 2 long) of texts that are near-duplicates of each other."""
    from datasketch import MinHash, MinHashLSH

    proto = MinHash(num_perm=num_perm, seed=1, hashfunc=int)
    perms, scheme = proto.permutations, proto.scheme
    lsh = MinHashLSH(threshold=max(0.05, threshold - CANDIDATE_MARGIN), num_perm=num_perm)
    found = _Groups()
    for i, text in enumerate(texts):
        sh = shingles(text)
        sig = MinHash(num_perm=num_perm, hashfunc=int, permutations=perms, scheme=scheme)
        sig.update_batch(sh)
        for j in lsh.query(sig):
            # a candidate's shingles are computed again rather than kept: 100,000 sets would take GBs
            if jaccard(sh, shingles(texts[j])) >= threshold:
                found.join(j, i)
        lsh.insert(i, sig, check_duplication=False)
        if progress and i % 1000 == 999:
            progress(i + 1)
    return found.groups()


def with_same_reply(groups: list[list[int]], prompts: Sequence[str], replies: Sequence[str]) -> list[list[int]]:
    """`groups` joined with the examples whose replies are the same (case and spacing aside) and whose prompts'
    words differ by one word added, dropped or changed. Linear: each prompt is looked up under its word set and
    under that set less each of its words (two prompts one word apart share one of those keys)."""
    found = _Groups()
    for group in groups:
        for i in group[1:]:
            found.join(group[0], i)
    index: dict[tuple[str, frozenset], int] = {}
    for i, (prompt, reply) in enumerate(zip(prompts, replies)):
        said = " ".join(reply.lower().split())
        words = frozenset(re.findall(r"\w+", prompt.lower()))
        for key in [words, *(words - {w} for w in words)] if len(words) > 2 else [words]:
            if len(key) >= 2:
                j = index.setdefault((said, key), i)
                if j != i:
                    found.join(j, i)
    return found.groups()


def pairwise_groups(texts: Sequence[str], threshold: float = THRESHOLD) -> list[list[int]]:
    """The exact O(n^2) check: every pair's Jaccard. The baseline that LSH is measured against."""
    sets = [shingles(t) for t in texts]
    sizes = [len(s) for s in sets]
    found = _Groups()
    for i, a in enumerate(sets):
        la = sizes[i]
        for j in range(i + 1, len(sets)):
            inter = len(a & sets[j])
            if inter and inter / (la + sizes[j] - inter) >= threshold:
                found.join(i, j)
    return found.groups()
