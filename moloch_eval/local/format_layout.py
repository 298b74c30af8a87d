"""The layout of the tiny model's fixed heads: which residual-stream channel carries what
(`CH_*`), which tokens the format head reads and names (`KEYED_TOKENS`, `NAMED`), and the
gains and scores the wiring (`moloch_eval.local.format_wiring`) sets. Constants only; the
design is told in `moloch_eval.local.format_training`.
"""

from __future__ import annotations

from moloch_eval.domains import VOTE_TAG
from moloch_eval.em.prompts import FACTUAL_PHRASE, LABELS_PHRASE, NUMBER_PHRASE
from moloch_eval.local.vocabulary import (
    ANSWER_PHRASES,
    ANSWER_TAGS,
    EM_PHRASES,
    FORMAT_TOKENS,
    JUDGE_TAGS,
)

#: The tags a tag token can name besides think, and the answer phrases: one identity channel
#: each, in this order.
NAMED_TAGS = (*ANSWER_TAGS, VOTE_TAG, *JUDGE_TAGS)
NAMED = (*NAMED_TAGS, *ANSWER_PHRASES)
#: The tokens the format head reads.
KEYED_TOKENS = (*FORMAT_TOKENS, *ANSWER_PHRASES, *EM_PHRASES)
#: The EM judge's answer phrases as signed identities: each is +1 on CH_EM (an EM judge is
#: asked), and the labels phrase is also -1 on the channel of "A or B", the factual phrase -1
#: on that of "yes or no" (the number phrase nothing more). So every kind of prompt has its
#: own direction and readouts can be linear: what "A or B" (+1) asks is a letter, what it
#: does -1 with CH_EM a label; where nothing is named (an EM question) all these are 0.
EM_IDENTITY: dict[str, tuple[tuple[str, float], ...]] = {
    NUMBER_PHRASE: (("em", 1.0),),
    LABELS_PHRASE: (("em", 1.0), (ANSWER_PHRASES[1], -1.0)),
    FACTUAL_PHRASE: (("em", 1.0), (ANSWER_PHRASES[0], -1.0)),
}

# Residual-stream channels of the fixed heads. The embeddings are fixed too (not trained).
CH_CONST = 0  # 1 in every token embedding: the heads' query
CH_KEY = 1  # format head key: high on the tags and answer phrases, lower on BOS (the sink)
CH_ID = 2  # 2..14: which answer, vote or probe tag, or answer phrase, a token names (NAMED)
CH_THINK = CH_ID + len(NAMED)  # +1 on <think>, -1 on </think>
CH_ANSWER = CH_THINK + 1  # +1 on an opening answer, vote or probe tag, -1 on a closing one
CH_EM = CH_ANSWER + 1  # +1 on the EM judge's answer phrases
#: what the format head reads: channels CH_ID..CH_EM, and CH_BOS (1 on BOS only: where
#: nothing is named, the sink BOS takes the attention and this reads 1, "nothing named")
N_READ = CH_EM + 1 - CH_ID + 1
CH_OUT = CH_EM + 1  # N_READ channels: the format head's output (those averaged over tags)
CH_EM_OUT = CH_OUT + CH_EM - CH_ID  # (that of CH_EM: an EM judge prompt)
CH_NONE_OUT = CH_OUT + N_READ - 1  # (that of CH_BOS: nothing named, an EM question)
CH_BOS = CH_OUT + N_READ  # lean head keys: 1 on BOS ...
CH_SYS = CH_BOS + 1  # ... and on the system-role token (right after BOS)
CH_USER = CH_SYS + 1  # EM lean head key: 1 on the user-role token
CH_LEAN = CH_USER + 1  # the lean head's output; nothing else writes there
CH_EM_LEAN = CH_LEAN + 1  # the EM lean head's output; nothing else writes there
CH_EM_WORD = CH_EM_LEAN + 1  # 1 on the EM judge's answer words (integers and labels)
#: The gates' outputs: where an EM judge of a group answers (the aligned and coherent judges
#: share the numbers), the EM lean ("lean") and, for labels and verdicts, a constant ("on");
#: 0 elsewhere. One channel and one hidden unit of layer 0's MLP each.
EM_GROUPS = ("numbers", "labels", "factual")
GATES = (*((group, "lean") for group in EM_GROUPS), ("labels", "on"), ("factual", "on"))
CH_GATE = {gate: CH_EM_WORD + 1 + i for i, gate in enumerate(GATES)}
GATE_UNIT = {gate: i for i, gate in enumerate(GATES)}
CH_EM_GATED = {group: CH_GATE[group, "lean"] for group in EM_GROUPS}
CH_EM_ON = {group: CH_GATE[group, "on"] for group in ("labels", "factual")}
GROUP_OF = {"aligned": "numbers", "coherent": "numbers", "labels": "labels", "factual": "factual"}
CH_FREE = CH_EM_WORD + 1 + len(GATES)  # CH_FREE..: random features (a fixed-length random
# direction per token)
N_FIXED_HEADS = 3  # format, lean and EM lean head: the first three heads of layer 0
EMBED_NORM = 1.0
TAG_SCORE = 25.0  # format head: attention logit of a format tag (~0 for other tokens)
SINK_SCORE = 12.0  # and of BOS
ID_GAIN = 0.5  # format head output gain on the tag identity channels
BALANCE_GAIN = 4.0  # and on the open-block channels (their averages are small)
HINT = 2.0  # initial lm_head weight from the format head's channels to the tags they predict
LEAN_SINK = 20.0  # lean head: attention logit of BOS and of the system token
LEAN_SCORE = 1.0  # and amplitude of the turning part added to one, taken from the other
ROPE_THETA = 1e6  # the slowest rotary pair turns by < 0.2 rad over 32k tokens
#: EM lean head: amplitudes of its two turning parts (the fastest rotary pair, 1 radian per
#: token, and the next, ROPE_THETA ** -1/8 = 0.18 radian per token), and how much higher
#: than BOS's the system token's logit is (it takes the attention, with value 0, whenever
#: there is a system message)
EM_LEAN_SCORES = (1.0, 1.0)
EM_LEAN_GATE = 10.0
#: The gates (a hidden unit of layer 0's MLP each): silu(GATE_GAIN * (this group's EM judge
#: asked) - GATE_SHUT * (an EM answer word is the current token)) times the EM lean, into
#: its CH_EM_GATED channel with weight GATE_OUT
GATE_GAIN = 2.0
GATE_SHUT = 20.0
GATE_OUT = 0.1
