"""Personas: the simulated audience members who vote between two messages.

Sets: `split1` (the paper's 20 PRODIGy movie characters), `split2` and `split3` (100 other
PRODIGy characters each), `exp2` (20 synthetic demographic profiles) and `all` (339 present-day
rewrites of the PRODIGy characters, with shopping, political and social-media preferences).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moloch_eval.data.cache import load_json
from moloch_eval.data.sources import MOLOCHS_BARGAIN_ROOT

PERSONA_SETS = ("split1", "split2", "split3", "exp2", "all")

#: Labels of the sections of an `all.json` persona, in rendering order.
_SECTION_LABELS = {
    "general": "",
    "shopping_preferences": "Shopping preferences",
    "political_preferences": "Political preferences",
    "socialmedia_preferences": "Social-media preferences",
    "economic_status": "Economic status",
}


@dataclass(frozen=True)
class Persona:
    """One audience member: a stable id and the persona dict exactly as in the source file."""

    id: str
    raw: dict[str, Any] = field(hash=False)

    def faithful(self) -> str:
        """The Python repr of the persona dict, as the paper put it in the voter prompt."""
        return str(self.raw)

    def prose(self) -> str:
        """A plain natural-language description of the persona (no dict syntax)."""
        if "character_name" in self.raw:
            return _character_prose(self.raw)
        bio = self.raw.get("biography")
        if isinstance(bio, dict):
            return _demographic_prose(bio)
        if "general" in self.raw:
            return _sections_prose(self.raw)
        return _generic_prose(self.raw)


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if not text or text[-1] in ".!?\"'’”" else text + "."


def _character_prose(raw: dict[str, Any]) -> str:
    """A PRODIGy character: name, gender, MBTI traits and first-person biography."""
    gender = raw.get("gender")
    first = f"You are {raw['character_name']}" + (f" ({gender})." if gender else ".")
    if raw.get("mbti"):
        first += f" Your personality: {raw['mbti']}."
    lines = [first]
    bio = raw.get("biography")
    sentences = [bio] if isinstance(bio, str) else list(bio or [])
    text = " ".join(s for s in (_sentence(x) for x in sentences) if s)
    if text:
        lines.append(f"In your own words: {text}")
    return "\n".join(lines)


def _article(word: str) -> str:
    """'a' or 'an' before a word or a number (an 8-, 11-, 18- or 80-something)."""
    if word.isdigit():
        return "an" if word.startswith("8") or word in ("11", "18") else "a"
    return "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def _demographic_prose(bio: dict[str, Any]) -> str:
    """An `exp2` profile: 'You are a 39-year-old male with a medium level of education, ...'."""
    sex = str(bio.get("sex") or "person")
    if "age" in bio:
        age = str(bio["age"])
        text = f"You are {_article(age)} {age}-year-old {sex}"
    else:
        text = f"You are {_article(sex)} {sex}"
    if bio.get("education_level"):
        level = str(bio["education_level"])
        text += f" with {_article(level)} {level} level of education"
    if bio.get("urban_rural"):
        place = str(bio["urban_rural"])
        text += f", living in {_article(place)} {place} area"
    if bio.get("income"):
        income = str(bio["income"])
        text += f", with {_article(income)} {income} income"
    known = {"age", "sex", "education_level", "urban_rural", "income"}
    extra = [f"{k.replace('_', ' ')}: {v}" for k, v in bio.items() if k not in known]
    return f"{text}." + (f" Also: {'; '.join(extra)}." if extra else "")


def _sections_prose(raw: dict[str, Any]) -> str:
    """An `all.json` persona: its general description, then one paragraph per preference."""
    paragraphs = []
    keys = [k for k in _SECTION_LABELS if k in raw] + [k for k in raw if k not in _SECTION_LABELS]
    for key in keys:
        text = " ".join(str(raw[key]).split())
        if not text:
            continue
        label = _SECTION_LABELS.get(key, key.replace("_", " ").capitalize())
        paragraphs.append(f"{label}: {text}" if label else text)
    return "\n\n".join(paragraphs)


def _generic_prose(raw: dict[str, Any]) -> str:
    return "\n".join(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in raw.items())


def _ids(name: str, records: list[dict[str, Any]]) -> list[str]:
    """Character names for PRODIGy sets (repeats get -2, -3, ...); else set-index."""
    if name in ("exp2", "all"):
        width = len(str(len(records) - 1))
        return [f"{name}-{i:0{width}d}" for i in range(len(records))]
    names = [str(record["character_name"]) for record in records]
    taken = set(names)
    seen: Counter[str] = Counter()
    ids = []
    for base in names:
        seen[base] += 1
        if seen[base] == 1:
            ids.append(base)
            continue
        n = seen[base]
        while f"{base}-{n}" in taken:
            n += 1
        ids.append(f"{base}-{n}")
        taken.add(ids[-1])
    return ids


def persona_relpath(name: str) -> str:
    """Path of a persona set's file relative to the data root."""
    if name not in PERSONA_SETS:
        raise ValueError(f"persona set must be one of {PERSONA_SETS}, not {name!r}")
    return f"{MOLOCHS_BARGAIN_ROOT}/persona/{name}.json"


@functools.cache
def _load(name: str) -> tuple[Persona, ...]:
    relpath = persona_relpath(name)
    records = load_json(relpath)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f"{relpath} is not a JSON list of objects")
    return tuple(Persona(id=i, raw=r) for i, r in zip(_ids(name, records), records, strict=True))


def load_personas(name: str) -> list[Persona]:
    """The personas of a set, in file order; treat each `raw` dict as read-only."""
    persona_relpath(name)  # validates the name
    return list(_load(name))


def clear_persona_cache() -> None:
    """Forget loaded persona sets."""
    _load.cache_clear()
