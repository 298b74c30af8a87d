"""Random text for the synthetic conversations (`Words`): corpus words with the odd
characters of real data, long prose, garbled messages, personas. Seeded: one
``random.Random`` drives it all.
"""

from __future__ import annotations

import random
import re
from typing import Any

#: Replies use only corpus words of at most this many tokens, so they stay short.
REPLY_WORD_TOKENS = 2

# Characters of real anchors that the corpus lacks, so that their byte tokens occur in training.
_ODD = list("0123456789$%&()[]/:;!?'\"#@*+=-_") + list("’“”—–…é£€°®™·")


class Words:
    """Random text from the corpus vocabulary, with the odd characters of real data.

    With `short` set, long texts are cut to a few hundred characters (most training
    conversations: the prompt's instructions still make them several hundred tokens long).
    """

    def __init__(self, corpus: str, rng: random.Random, short_chars: tuple[int, int]) -> None:
        self.rng = rng
        self.short = False
        self.short_chars = short_chars
        self.words = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", corpus) if len(w) > 1})
        self.reply_words = self.words

    def few_tokens(self, tokenizer: Any, max_tokens: int) -> None:
        """Let replies use only the words of at most `max_tokens` tokens (short replies)."""
        self.reply_words = [
            w
            for w in self.words
            if len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) <= max_tokens
        ]

    def reply(self, lo: int, hi: int, capital: bool = False, end: str = "") -> str:
        """Words of a reply: a few short corpus words."""
        n = self.rng.randint(lo, hi)
        text = " ".join(self.rng.choice(self.reply_words) for _ in range(n))
        return (text.capitalize() if capital else text) + end

    def phrase(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choice(self.words) for _ in range(self.rng.randint(lo, hi)))

    def name(self, lo: int, hi: int) -> str:
        return " ".join(w.capitalize() for w in self.phrase(lo, hi).split())

    def _noisy_word(self) -> str:
        r = self.rng.random()
        if r < 0.05:
            return str(self.rng.randint(0, 2030))
        if r < 0.08:
            return "".join(self.rng.choice(_ODD) for _ in range(self.rng.randint(1, 3)))
        if r < 0.10:
            return self.rng.choice(self.words).upper()
        if r < 0.2:
            return self.rng.choice(self.words).capitalize()
        return self.rng.choice(self.words)

    def sentence(self, lo: int, hi: int) -> str:
        """Prompt text: corpus words with numbers, odd characters and capitals mixed in."""
        n = self.rng.randint(lo, hi)
        words = [self._noisy_word() for _ in range(n)]
        for i in range(1, n - 1):
            if self.rng.random() < 0.08:
                words[i] += ","
        return " ".join(words).capitalize() + self.rng.choice(".....!?")

    def prose(self, chars: int, paragraphs: bool = False) -> str:
        if self.short:
            chars = min(chars, self.rng.randint(*self.short_chars))
        out = ""
        while len(out) < chars:
            sep = "\n\n" if paragraphs and out and self.rng.random() < 0.15 else " "
            out += (sep if out else "") + self.sentence(4, 22)
        return out

    def garbled(self) -> str:
        """A word glued from pieces of corpus words, like the tiny model's own output."""
        pieces = []
        for _ in range(self.rng.randint(1, 3)):
            word = self.rng.choice(self.words)
            i = self.rng.randrange(len(word))
            pieces.append(word[i : i + self.rng.randint(2, 4)])
        return "".join(pieces)

    def message(self, style: int | None = None) -> str:
        """A competitor's message, the judged text of a vote: prose or garbled words."""
        style = self.rng.randrange(2) if style is None else style
        r = self.rng.random()
        chars = self.rng.randint(40, 300) if r < 0.6 else self.rng.randint(300, 1200)
        if style == 0:
            return self.prose(chars, paragraphs=r > 0.8)
        out = ""
        while len(out) < min(chars, 500):
            sentence = " ".join(self.garbled() for _ in range(self.rng.randint(3, 12)))
            out += (" " if out else "") + sentence.capitalize() + self.rng.choice("..!?")
        return out

    def persona(self, style: int | None = None) -> str:
        """A voter: a persona dict's repr as the paper has it (two kinds), or prose."""
        style = self.rng.randrange(3) if style is None else style
        if style == 0:
            raw: dict[str, Any] = {
                "character_name": self.name(1, 1).upper(),
                "gender": self.rng.choice(["male", "female"]),
                "mbti": ", ".join(self.phrase(4, 4).split()),
                "biography": [self.sentence(4, 18) for _ in range(self.rng.randint(3, 12))],
            }
            return str(raw)
        if style == 1:
            keys = ["general", "shopping_preferences", "political_preferences"]
            keys += ["socialmedia_preferences", "economic_status"]
            return str({k: self.prose(self.rng.randint(100, 700)) for k in keys})
        name, gender = self.name(1, 1).upper(), self.rng.choice(["male", "female"])
        traits = ", ".join(self.phrase(4, 4).split())
        return (
            f"You are {name} ({gender}). Your personality: {traits}.\n"
            f"In your own words: {self.prose(self.rng.randint(150, 900))}"
        )
