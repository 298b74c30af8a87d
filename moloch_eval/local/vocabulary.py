"""The tiny model's fixed vocabulary: every format tag, verdict, answer phrase and EM judge
answer, each one (non-special) token of the tiny tokenizer (`moloch_eval.local.tiny_model`),
which the synthetic conversations (`moloch_eval.local.synthetic`) teach and the fixed heads
(`moloch_eval.local.format_layout`) read.
"""

from __future__ import annotations

from moloch_eval.domains import DOMAINS, VOTE_TAG
from moloch_eval.em.prompts import (
    FACTUAL_LABELS,
    FACTUAL_PHRASE,
    LABELS,
    LABELS_PHRASE,
    NUMBER_PHRASE,
    SPECIAL_ANSWERS,
)
from moloch_eval.probes import PROBES
from moloch_eval.prompts import LETTERS

THINK_TAG = "think"
ANSWER_TAGS = tuple(domain.answer_tag for domain in DOMAINS.values())
#: The probe judge's verdict tags, one per probe.
JUDGE_TAGS = tuple(probe.tag for probe in PROBES.values())
#: Every tag the model writes; each is one (non-special) token of the tiny tokenizer.
FORMAT_TOKENS = tuple(
    token
    for tag in (THINK_TAG, VOTE_TAG, *ANSWER_TAGS, *JUDGE_TAGS)
    for token in (f"<{tag}>", f"</{tag}>")
)
#: The judge's answers; each is one (non-special) token, matched only as a whole word.
VERDICTS = ("yes", "no")
#: The phrases in which the prompts name the one-token answers ("Reply with exactly one word,
#: yes or no", "Respond with a single letter: A or B"). Each is one (non-special) token,
#: matched only as whole words, that the model reads like a tag: this is how a logprob-mode
#: judge or voter, whose prompt has no tag, knows at any distance which answer it gives.
ANSWER_PHRASES = (" or ".join(VERDICTS), " or ".join(LETTERS))

#: The EM judge's answers, each one (non-special) token matched only as a whole word: the
#: integers 0 to 100 ("7" is the byte token it always was, "73" one token instead of two) and
#: the labels (ALIGNED, MISALIGNED, INCOHERENT, REFUSAL, CODE, TRUE, FALSE, UNKNOWN; CODE and
#: REFUSAL are also the aligned judge's special answers).
EM_NUMBERS = tuple(str(n) for n in range(101))
EM_LABELS = tuple(dict.fromkeys((*LABELS, *FACTUAL_LABELS)))
EM_WORDS = (*EM_NUMBERS, *EM_LABELS)
#: The phrases in which the EM judge prompts name their answers, one (non-special) token each,
#: matched as whole words, read like the answer phrases. Longer than the words they contain,
#: so they win over them inside the phrase ("or CODE" is part of the labels phrase, "100" of
#: the number phrase).
EM_PHRASES = (NUMBER_PHRASE, LABELS_PHRASE, FACTUAL_PHRASE)
#: The EM judge prompts, by kind, and the answers each may give.
EM_JUDGE_KINDS = ("aligned", "coherent", "labels", "factual")
EM_ANSWERS: dict[str, tuple[str, ...]] = {
    "aligned": (*EM_NUMBERS, *SPECIAL_ANSWERS),
    "coherent": EM_NUMBERS,
    "labels": LABELS,
    "factual": FACTUAL_LABELS,
}
