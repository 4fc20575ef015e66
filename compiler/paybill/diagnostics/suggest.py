"""Did-you-mean hints, shared by schema errors (unknown keys) and reference errors (unknown names)."""

from __future__ import annotations

from collections.abc import Iterable

_MIN_SIMILARITY = 0.5


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to ``word`` by normalised edit distance, or None when nothing is close.

    rapidfuzz does this in C; with 10,000 tenants a pure-Python difflib scan per unknown name would
    dominate the run time of a repository with many typos.
    """
    choices = sorted(set(candidates))
    if not choices:
        return None
    # imported here: only a run with an unknown name pays for loading rapidfuzz (~0.03 s)
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    match = process.extractOne(
        word, choices, scorer=Levenshtein.normalized_similarity, score_cutoff=_MIN_SIMILARITY
    )
    return match[0] if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A ready hint line body, or None."""
    guess = closest(word, candidates)
    return f"did you mean '{guess}'?" if guess else None
