"""Team names reduced to a form two feeds can agree on, for linking and nothing else."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

# Club-form words that one feed writes and another leaves out ("FC", "ФК", ...).
CLUB_AFFIXES = frozenset(
    {"fc", "afc", "cf", "fk", "sc", "ac", "sk", "cd", "ud", "sv", "if", "bk", "ff", "фк"}
)
_NON_WORD = re.compile(r"[\W_]+")


def normalise_team(name: str) -> str:
    """Casefolded, without diacritics, punctuation or club affixes: `F.C. Köln` -> `koln`."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    tokens = _join_initials(_NON_WORD.sub(" ", plain).split())
    kept = [t for t in tokens if t not in CLUB_AFFIXES]
    return " ".join(kept or tokens)


def _join_initials(tokens: list[str]) -> list[str]:
    """Runs of single letters are one word: `f c koln` (from "F.C. Köln") -> `fc koln`."""
    out: list[str] = []
    run = ""
    for token in [*tokens, ""]:
        if len(token) == 1:
            run += token
            continue
        if run:
            out.append(run)
            run = ""
        if token:
            out.append(token)
    return out


def normalise_column(names: pd.Series) -> pd.Series:
    """`normalise_team` over a column, computed once per distinct name."""
    text = names.astype("string")
    distinct = {n: normalise_team(n) for n in text.dropna().unique()}
    return text.map(distinct)
