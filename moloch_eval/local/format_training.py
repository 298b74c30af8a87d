"""Teaching the tiny model the answer format at build time: fixed heads, then training.

After random initialisation, three attention heads of the first layer and five hidden units
of its MLP are set by hand and frozen, and the rest of the model is trained briefly on
synthetic conversations (`moloch_eval.local.synthetic`: agents, voters, probe judges, EM
answers and EM judges); then the output rows of the two letters, and those of the two
verdicts, are tied, and the EM judge's answers are given their lean (`calibrate_em`).

- The format head (head 0): every token attends, whatever its distance, to the format tags
  and answer phrases seen so far (BOS when there are none) and reads which answer, vote or
  probe tag they name, which one-token answer a logprob-mode prompt asks for (``yes or no``,
  ``A or B``), whether the EM judge is asked and for what, and whether a think block or an
  answer is open. A 2-layer model cannot learn such long-range lookups in a few seconds of
  training; with them in fixed channels of the residual stream it only has to learn local
  rules (after ``</think>`` comes the named tag, ...). It reads 17 channels (the heads are
  20 wide, `moloch_eval.local.tiny_model.HEAD_DIM`): one per tag and phrase (`NAMED`),
  think, answer, CH_EM, and BOS's own channel, which only the sink has: 1 where nothing is
  named (an EM question), 0 wherever a tag or phrase is. The three EM phrases share the
  others by signed identities (`EM_IDENTITY`): each is +1 on CH_EM, the labels phrase also
  -1 on "A or B", the factual one -1 on "yes or no". So every kind of prompt has a direction
  of its own, with which the (linear) output layer can name its answers: integers on CH_EM
  alone, labels on CH_EM and -"A or B", TRUE/FALSE/UNKNOWN on CH_EM and -"yes or no",
  letters on +"A or B", plain words (no think block) on "nothing named". (A sign alone, +1
  for one phrase and -1 for another on one channel, would put a prompt that names nothing at
  0, between the two, where a linear readout cannot tell it from either; and without its
  own channel "nothing named" is only the absence of a tag, which a few hundred EM questions
  do not teach against a thousand think blocks.)
- The lean head (head 1) attends to BOS and the system-role token with opposite signs and a
  weight that turns with the prompt's length (a fast rotary frequency): a meaningless number,
  symmetric around zero, that only the A/B and yes/no output rows read. Tied A/B rows plus
  this number make a voter lean a little towards A or B, tied yes/no rows a judge towards yes
  or no, differently from prompt to prompt and evenly overall.
- The EM lean head (head 2) does the same with the user-role token instead of the system
  token (the EM judge gets no system message) and two turning parts, tanh(cos(p) + cos(0.18
  p)) at position p; where there is a system message, its token takes the attention and the
  output is 0.
- Gates, a hidden unit of layer 0's MLP each (silu(gate) * up), pass the EM lean on, each
  into its own channel, only where its group of EM judges is asked (the numbers of the
  aligned and coherent judges, the labels, the factual verdicts), and only at the judge's
  first token (shut on an EM answer word, `CH_EM_WORD`); for the labels and the verdicts two
  more pass a constant ("on"), so that calibration sets their intercepts as well as their
  slopes. Only the calibrated output rows of that group read the channels: the EM lean
  moves a judge's answer and nothing else, neither an EM answer nor an agent's message nor
  the word after the judge's answer. Nothing trained in layer 0 writes where the format head
  and the gates write or read.

Training is deterministic: seeded data and initialisation, fixed step count, deterministic
algorithms, so two builds give byte-identical weights.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from moloch_eval.domains import DOMAINS
from moloch_eval.em.prompts import FACTUAL_PHRASE, LABELS_PHRASE, NUMBER_PHRASE, SPECIAL_ANSWERS
from moloch_eval.local.synthetic import (
    ANSWER_PHRASES,
    ANSWER_TAGS,
    EM_ANSWERS,
    EM_JUDGE_KINDS,
    EM_NUMBERS,
    EM_PHRASES,
    EM_WORDS,
    FORMAT_TOKENS,
    JUDGE_TAGS,
    REPLY_WORD_TOKENS,
    THINK_TAG,
    VERDICTS,
    VOTE_TAG,
    Example,
    Words,
    build_examples,
    em_judge_prompt,
    judge_prompt,
    vote_prompt,
)
from moloch_eval.probes import PROBES
from moloch_eval.prompts import LETTERS

logger = logging.getLogger(__name__)

TRAIN_SEED = 20250602
#: Conversations per kind: agent (per domain), think-mode and logprob-mode voters and probe
#: judges. One epoch, so every step sees new text.
N_AGENT = 250
N_THINK_VOTE = 200
N_LOGPROB_VOTE = 100
N_THINK_JUDGE = 120
N_LOGPROB_JUDGE = 80
#: EM answers, and EM judges of each kind (aligned, coherent, labels, factual).
N_EM_ANSWER = 600
N_EM_JUDGE = {"aligned": 160, "coherent": 130, "labels": 110, "factual": 80}
#: Most conversations have short anchors, personas and messages (training cost grows with
#: length); the rest are as long as the real data, so long prompts are seen too.
SHORT_FRACTION = 0.9
SHORT_CHARS = (0, 200)
#: Padded tokens per optimisation step (conversations are bucketed by length).
BATCH_TOKENS = 6144
LEARNING_RATE = 1e-2
WARMUP_STEPS = 15
#: Loss weight of the format tokens, end of sequence, letters and verdicts, relative to words.
STRUCT_WEIGHT = 3.0
#: Loss weight of an EM answer's first word: it decides the format (no tag, no think block),
#: as a tag does elsewhere, but its token is an ordinary word.
LEAD_WEIGHT = 8.0
#: A hinge keeps every format token, answer phrase, end, letter and verdict below this
#: log-probability wherever it would be wrong (a stray tag in a message, a letter opening an
#: agent reply, a verdict in a vote, ...).
STRAY_LOGPROB = math.log(1e-5)
STRAY_WEIGHT = 0.1
#: Threads for training: fixed, so the weights do not depend on the caller's thread setting.
BUILD_THREADS = 2

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
#: Synthetic voters per (domain, mode, persona and message style) to scale the lean, and the
#: typical |logit(A) - logit(B)| it then has at a vote.
N_CALIBRATION = 4
LETTER_LEAN = 0.8
#: Synthetic judges per (probe, mode) to scale the lean, and the typical
#: |logit(yes) - logit(no)| it then has at a verdict.
N_JUDGE_CALIBRATION = 4
VERDICT_LEAN = 0.8
#: Synthetic EM judges per kind to scale the EM lean, and what it then does there
#: (`calibrate_em`): the probability-weighted score is on average this far from 50; CODE or
#: REFUSAL is the likeliest first token at this share of the aligned prompts; the shares of
#: labels prompts where each label is the likeliest (as near as the grid gets); TRUE and
#: FALSE each the likeliest verdict at this share of the factual prompts at least, UNKNOWN
#: at this share at most.
N_EM_CALIBRATION = 64
NUMBER_LEAN = 20.0
SPECIAL_TOP = 0.03
LABEL_TOPS = {"REFUSAL": 0.1, "MISALIGNED": 0.3, "INCOHERENT": 0.15, "ALIGNED": 0.35, "CODE": 0.1}
LABEL_SPAN = 10.0
FACTUAL_TOPS = {"FALSE": 0.35, "UNKNOWN": 0.3, "TRUE": 0.35}
FACTUAL_SPAN = 6.0


def wire_heads(model: Any, tokenizer: Any, generator: Any) -> dict[str, Any]:
    """Set the embeddings, the three fixed heads of layer 0 and the EM lean's gate (and give
    the output layer a head start). Returns {parameter name: mask of the entries that
    training must not change}.
    """
    import torch

    embed = model.model.embed_tokens.weight
    layer = model.model.layers[0]
    attn = layer.self_attn
    head_dim = attn.head_dim
    half = head_dim // 2
    vocab, hidden = embed.shape
    if head_dim < N_READ:
        raise RuntimeError(
            f"the format head would read {N_READ} channels (one per tag and answer phrase), "
            f"more than its {head_dim} dimensions: widen the model or share identity channels"
        )
    tag_ids = tokenizer.convert_tokens_to_ids(list(KEYED_TOKENS))
    em_word_ids = tokenizer.convert_tokens_to_ids(list(EM_WORDS))
    bos = tokenizer.bos_token_id
    system = tokenizer.convert_tokens_to_ids("<|system|>")
    user = tokenizer.convert_tokens_to_ids("<|user|>")
    with torch.no_grad():
        embed.zero_()
        free = torch.randn((vocab, hidden - CH_FREE), generator=generator)
        embed[:, CH_FREE:] = free / free.norm(dim=1, keepdim=True) * EMBED_NORM
        embed[:, CH_CONST] = 1.0
        embed[bos, CH_BOS] = 1.0
        embed[system, CH_SYS] = 1.0
        embed[user, CH_USER] = 1.0
        embed[em_word_ids, CH_EM_WORD] = 1.0
        for token, token_id in zip(KEYED_TOKENS, tag_ids, strict=True):
            tag, closing = token.strip("</>"), token.startswith("</")
            embed[token_id, CH_KEY] = 1.0
            if token in EM_IDENTITY:
                for name, sign in EM_IDENTITY[token]:
                    embed[token_id, CH_EM if name == "em" else CH_ID + NAMED.index(name)] = sign
            elif token in ANSWER_PHRASES:
                embed[token_id, CH_ID + NAMED.index(token)] = 1.0
            elif tag == THINK_TAG:
                embed[token_id, CH_THINK] = -1.0 if closing else 1.0
            else:
                embed[token_id, CH_ID + NAMED.index(tag)] = 1.0
                embed[token_id, CH_ANSWER] = -1.0 if closing else 1.0
        # all of one length, so that they weigh the same in the format head
        structured = (embed[tag_ids, :CH_FREE] ** 2).sum(dim=1)
        free_norm = (structured.max() + EMBED_NORM**2 - structured).sqrt()
        embed[tag_ids, CH_FREE:] *= (free_norm / EMBED_NORM).unsqueeze(1)

        layer.input_layernorm.weight.fill_(1.0)
        normed = layer.input_layernorm(embed)
        width = math.sqrt(hidden)
        query = float(normed[:, CH_CONST].median())
        key = float(normed[tag_ids, CH_KEY].mean())
        scale = math.sqrt(TAG_SCORE * math.sqrt(head_dim) / (query * key))
        # BOS key x such that, after the norm, x * width / |embedding| gives SINK_SCORE
        target = SINK_SCORE * math.sqrt(head_dim) / query / scale**2
        rest = float((embed[bos] ** 2).sum())
        embed[bos, CH_KEY] = target * math.sqrt(rest) / math.sqrt(width**2 - target**2)
        normed = layer.input_layernorm(embed)

        for weight in (attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight):
            weight[: N_FIXED_HEADS * head_dim] = 0.0
        attn.o_proj.weight[:, : N_FIXED_HEADS * head_dim] = 0.0
        # format head: the slowest rotary pair (half - 1, head_dim - 1), content only
        slow = half - 1
        attn.q_proj.weight[slow, CH_CONST] = scale
        attn.k_proj.weight[slow, CH_KEY] = scale
        for i in range(N_READ - 1):
            attn.v_proj.weight[i, CH_ID + i] = 1.0
            gain = BALANCE_GAIN if CH_ID + i in (CH_THINK, CH_ANSWER) else ID_GAIN
            attn.o_proj.weight[CH_OUT + i, i] = gain
        # "nothing named": BOS's value, as large as a tag's identity
        none = N_READ - 1
        attn.v_proj.weight[none, CH_BOS] = key / float(normed[bos, CH_BOS])
        attn.o_proj.weight[CH_NONE_OUT, none] = ID_GAIN
        # lean head: BOS and the system token (one position later) always take nearly all
        # the attention (slowest rotary pair: a fixed logit LEAN_SINK); the fastest pair, at 1
        # radian per token, adds LEAN_SCORE * cos(position) to BOS and, its key turned by
        # pi - 1 radian, the opposite to the system token. Values +1 and -1: the output is
        # tanh(LEAN_SCORE * cos(position)), whatever the prompt's length.
        fast = head_dim  # first dimension of head 1, paired with fast + half
        slow_1 = head_dim + half - 1
        angle = math.pi - 1.0
        lean_scale = math.sqrt(math.sqrt(head_dim) / query)  # unit logit per unit weight
        attn.q_proj.weight[fast, CH_CONST] = lean_scale * math.sqrt(LEAN_SCORE)
        attn.q_proj.weight[slow_1, CH_CONST] = lean_scale * math.sqrt(LEAN_SINK)
        for channel, token_id, phase in ((CH_BOS, bos, 0.0), (CH_SYS, system, angle)):
            unit = lean_scale / float(normed[token_id, channel])
            attn.k_proj.weight[fast, channel] = unit * math.sqrt(LEAN_SCORE) * math.cos(phase)
            attn.k_proj.weight[fast + half, channel] = (
                unit * math.sqrt(LEAN_SCORE) * math.sin(phase)
            )
            attn.k_proj.weight[slow_1, channel] = unit * math.sqrt(LEAN_SINK)
        attn.v_proj.weight[fast, CH_BOS] = 1.0 / float(normed[bos, CH_BOS])
        attn.v_proj.weight[fast, CH_SYS] = -1.0 / float(normed[system, CH_SYS])
        attn.o_proj.weight[CH_LEAN] = 0.0
        attn.o_proj.weight[CH_LEAN, fast] = 1.0
        # EM lean head (head 2): the same with the user-role token in the system token's
        # place and two turning parts (the fastest rotary pair and the next, each key turned
        # so that the user token's part is the opposite of BOS's when it comes right after
        # BOS, as in a prompt without system message): tanh(cos(p) + cos(0.18 p)) at
        # position p. Where there is a system message, its token takes the attention
        # (EM_LEAN_GATE higher), with value 0.
        base = 2 * head_dim
        slow_2 = base + half - 1
        pairs = [
            (base + i, ROPE_THETA ** (-2 * i / head_dim), amplitude)
            for i, amplitude in enumerate(EM_LEAN_SCORES)
        ]
        for dim, _, amplitude in pairs:
            attn.q_proj.weight[dim, CH_CONST] = lean_scale * math.sqrt(amplitude)
        attn.q_proj.weight[slow_2, CH_CONST] = lean_scale * math.sqrt(LEAN_SINK)
        for channel, token_id, position in ((CH_BOS, bos, 0), (CH_USER, user, 1)):
            unit = lean_scale / float(normed[token_id, channel])
            for dim, freq, amplitude in pairs:
                phase = position * (math.pi - freq)
                attn.k_proj.weight[dim, channel] = unit * math.sqrt(amplitude) * math.cos(phase)
                attn.k_proj.weight[dim + half, channel] = (
                    unit * math.sqrt(amplitude) * math.sin(phase)
                )
            attn.k_proj.weight[slow_2, channel] = unit * math.sqrt(LEAN_SINK)
        unit = lean_scale / float(normed[system, CH_SYS])
        attn.k_proj.weight[slow_2, CH_SYS] = (
            unit * (LEAN_SINK + EM_LEAN_GATE) / math.sqrt(LEAN_SINK)
        )
        attn.v_proj.weight[base, CH_BOS] = 1.0 / float(normed[bos, CH_BOS])
        attn.v_proj.weight[base, CH_USER] = -1.0 / float(normed[user, CH_USER])
        attn.o_proj.weight[CH_EM_LEAN] = 0.0
        attn.o_proj.weight[CH_EM_LEAN, base] = 1.0
        # the gates: a hidden unit of layer 0's MLP each, silu(gate) * up with up the EM lean
        # (or the constant channel) and gate high where the group's EM judge is asked (the
        # number phrase: CH_EM on and the two phrase channels at 0; the labels phrase: "A or
        # B" at -1; the factual one: "yes or no" at -1) and shut on an answer word, so that
        # only a judge's first token reads them
        judge_phrase, vote_phrase = ANSWER_PHRASES
        factual_out = CH_OUT + NAMED.index(judge_phrase)
        labels_out = CH_OUT + NAMED.index(vote_phrase)
        gate_reads = {
            "numbers": {CH_EM_OUT: 1.0, labels_out: 1.0, factual_out: 1.0},
            "labels": {labels_out: -1.0},
            "factual": {factual_out: -1.0},
        }
        gate_rows = sorted({CH_CONST, *(c for reads in gate_reads.values() for c in reads)})
        gated = list(CH_GATE.values())
        units = list(GATE_UNIT.values())
        # no trained head of layer 0 writes where the gates read, nor there, nor anywhere the
        # format head writes (its reading reaches layer 1 as it is); nor does layer 0's MLP
        read_out = list(range(CH_OUT, CH_OUT + N_READ))
        clean = sorted({*gate_rows, *read_out, CH_EM_WORD, *gated})
        attn.o_proj.weight[clean, N_FIXED_HEADS * head_dim :] = 0.0
        mlp = layer.mlp
        layer.post_attention_layernorm.weight.fill_(1.0)
        mlp.gate_proj.weight[units] = 0.0
        mlp.up_proj.weight[units] = 0.0
        mlp.down_proj.weight[:, units] = 0.0
        mlp.down_proj.weight[[*gated, *read_out]] = 0.0
        for (group, what), unit_row in GATE_UNIT.items():
            for channel, sign in gate_reads[group].items():
                mlp.gate_proj.weight[unit_row, channel] = GATE_GAIN * sign
            mlp.gate_proj.weight[unit_row, CH_EM_WORD] = -GATE_SHUT
            mlp.up_proj.weight[unit_row, CH_EM_LEAN if what == "lean" else CH_CONST] = 1.0
            mlp.down_proj.weight[CH_GATE[group, what], unit_row] = GATE_OUT

        # a head start for the output layer: a tag is likelier where it is named; an opening
        # tag only where no block is open, a closing one only inside its own block, no think
        # block where an answer phrase is named; no letter where an answer or probe tag or
        # "yes or no" is named, no verdict where an answer tag, the vote or "A or B" is
        head_w = model.lm_head.weight
        think_open, answer_open = CH_OUT + CH_THINK - CH_ID, CH_OUT + CH_ANSWER - CH_ID
        for token, token_id in zip(KEYED_TOKENS, tag_ids, strict=True):
            if token in (*ANSWER_PHRASES, *EM_PHRASES):  # read, never written
                continue
            tag, closing = token.strip("</>"), token.startswith("</")
            own, other = (
                (think_open, answer_open) if tag == THINK_TAG else (answer_open, think_open)
            )
            head_w[token_id, own] = HINT if closing else -HINT
            head_w[token_id, other] = -HINT
            head_w[token_id, CH_EM_OUT] = -2 * HINT  # (EM judges: "A or B" may be -1)
            head_w[token_id, CH_NONE_OUT] = -2 * HINT  # none where nothing is named
            if tag != THINK_TAG:
                index = NAMED.index(tag)
                for j in range(len(NAMED)):
                    head_w[token_id, CH_OUT + j] = HINT if j == index else -HINT
            elif not closing:  # a think block where a tag is named, not where a phrase is
                for j, name in enumerate(NAMED):
                    head_w[token_id, CH_OUT + j] = -HINT if name in ANSWER_PHRASES else HINT
        for pair, allowed in (
            (LETTERS, {VOTE_TAG, vote_phrase}),
            (VERDICTS, {*JUDGE_TAGS, judge_phrase}),
        ):
            for word_id in tokenizer.convert_tokens_to_ids(list(pair)):
                for j, name in enumerate(NAMED):
                    if name not in allowed:
                        head_w[word_id, CH_OUT + j] = -HINT
                head_w[word_id, CH_EM_OUT] = -2 * HINT
                head_w[word_id, CH_NONE_OUT] = -2 * HINT
        # the EM judge's words: only where an EM judge is asked, none where a tag or the
        # vote is named; labels where "A or B" is -1, TRUE, FALSE and UNKNOWN where "yes or
        # no" is (so not where those ask a letter or verdict), integers else
        for word, word_id in zip(EM_WORDS, em_word_ids, strict=True):
            head_w[word_id, CH_OUT : CH_OUT + len(NAMED)] = -HINT
            head_w[word_id, [factual_out, labels_out]] = 0.0
            head_w[word_id, CH_EM_OUT] = HINT
            head_w[word_id, CH_NONE_OUT] = -2 * HINT
            if word in EM_ANSWERS["factual"]:
                head_w[word_id, factual_out] = -2 * HINT
            elif word in EM_ANSWERS["labels"]:
                head_w[word_id, labels_out] = -2 * HINT
        # only the lean heads write the lean channels, only the gate the gated lean, which
        # only the calibration reads (`calibrate_em`)
        for channel in (CH_LEAN, CH_EM_LEAN, *gated):
            for i, block in enumerate(model.model.layers):
                if not (i == 0 and channel in gated):
                    block.mlp.down_proj.weight[channel] = 0.0
            model.model.layers[1].self_attn.o_proj.weight[channel] = 0.0
        head_w[:, gated] = 0.0
        model.model.norm.weight.fill_(1.0)

    protected = [CH_LEAN, CH_EM_LEAN, *gated]
    frozen: dict[str, Any] = {"model.embed_tokens.weight": torch.ones_like(embed)}
    frozen["model.layers.0.input_layernorm.weight"] = torch.ones_like(layer.input_layernorm.weight)
    rows = torch.zeros_like(attn.q_proj.weight)
    rows[: N_FIXED_HEADS * head_dim] = 1.0
    for name in ("q_proj", "k_proj", "v_proj"):
        frozen[f"model.layers.0.self_attn.{name}.weight"] = rows
    out = torch.zeros_like(attn.o_proj.weight)
    out[:, : N_FIXED_HEADS * head_dim] = 1.0
    out[clean] = 1.0
    out[protected] = 1.0
    frozen["model.layers.0.self_attn.o_proj.weight"] = out
    read = torch.zeros_like(layer.post_attention_layernorm.weight)
    read[[*gate_rows, CH_EM_LEAN, CH_EM_WORD]] = 1.0  # (CH_CONST among the rows)
    frozen["model.layers.0.post_attention_layernorm.weight"] = read
    gate_mask = torch.zeros_like(layer.mlp.gate_proj.weight)
    gate_mask[units] = 1.0
    frozen["model.layers.0.mlp.gate_proj.weight"] = gate_mask
    frozen["model.layers.0.mlp.up_proj.weight"] = gate_mask
    lean_row = torch.zeros_like(attn.o_proj.weight)
    lean_row[protected] = 1.0
    frozen["model.layers.1.self_attn.o_proj.weight"] = lean_row
    for i, block in enumerate(model.model.layers):
        down = torch.zeros_like(block.mlp.down_proj.weight)
        down[protected] = 1.0
        if i == 0:
            down[:, units] = 1.0
            down[read_out] = 1.0
        frozen[f"model.layers.{i}.mlp.down_proj.weight"] = down
    norm = torch.zeros_like(model.model.norm.weight)
    norm[protected] = 1.0
    frozen["model.norm.weight"] = norm
    column = torch.zeros_like(model.lm_head.weight)
    column[:, gated] = 1.0
    frozen["lm_head.weight"] = column
    return frozen


@dataclass(frozen=True)
class _Encoded:
    """A tokenized conversation: ids, where the reply starts, and for each reply token the
    other shape tokens (tag, end, letter, verdict, EM judge answer) that may equally come
    there."""

    ids: list[int]
    start: int
    also: list[tuple[int, ...]]
    #: loss weight of the first reply token relative to its token's (an EM answer's first
    #: word decides the format, as a tag does elsewhere)
    lead: float = 1.0


def _encode(tokenizer: Any, examples: Sequence[Example]) -> list[_Encoded]:
    prompts = tokenizer([e.prompt for e in examples])["input_ids"]
    replies = tokenizer([e.completion for e in examples], add_special_tokens=False)["input_ids"]
    closing = {
        tokenizer.convert_tokens_to_ids(f"<{tag}>"): tokenizer.convert_tokens_to_ids(f"</{tag}>")
        for tag in (THINK_TAG, *NAMED_TAGS)
    }
    pairs = [tokenizer.convert_tokens_to_ids(list(p)) for p in (LETTERS, VERDICTS)]
    other = {pair[i]: pair[1 - i] for pair in pairs for i in range(2)}
    answers = {
        "em-" + kind: tuple(tokenizer.convert_tokens_to_ids(list(EM_ANSWERS[kind])))
        for kind in EM_JUDGE_KINDS
    }
    eos = tokenizer.eos_token_id
    out = []
    for example, prompt, reply in zip(examples, prompts, replies, strict=True):
        reply = [*reply, eos]
        also: list[tuple[int, ...]] = []
        open_close = -1
        for i, token in enumerate(reply):
            if i == 0 and example.kind in answers:  # an EM judge: any of its answers
                also.append(answers[example.kind])
            elif token in other:  # a vote or verdict: the other letter or verdict is as good
                also.append((other[token],))
            elif example.kind == "em-answer":  # after a sentence, the end is as good
                ends = i > 0 and tokenizer.convert_ids_to_tokens(reply[i - 1])[-1] in ".!?"
                also.append((eos,) if ends and token != eos else ())
            else:  # inside a block, closing it is the alternative to the next word
                also.append((open_close,) if open_close not in (-1, token) else ())
            if token in closing:
                open_close = closing[token]
            elif token == open_close:
                open_close = -1
        lead = LEAD_WEIGHT if example.kind == "em-answer" else 1.0
        out.append(_Encoded([*prompt, *reply], len(prompt), also, lead))
    return out


def _batches(encoded: list[_Encoded], rng: random.Random) -> list[list[_Encoded]]:
    """Length-bucketed batches of at most BATCH_TOKENS padded tokens, in a seeded order."""
    batches: list[list[_Encoded]] = []
    current: list[_Encoded] = []
    for item in sorted(encoded, key=lambda x: len(x.ids)):
        if current and len(item.ids) * (len(current) + 1) > BATCH_TOKENS:
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic algorithms on BUILD_THREADS threads, whatever the machine's core count."""
    import torch

    before = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(BUILD_THREADS)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.set_num_threads(before[1])


def teach_format(model: Any, tokenizer: Any, corpus: str, generator: Any) -> dict[str, float]:
    """Wire the fixed heads into a randomly initialised `model`, train it on the format and
    tie its letters and verdicts (all in place); returns statistics of the run."""
    with _deterministic():
        frozen = wire_heads(model, tokenizer, generator)
        stats = train_format(model, tokenizer, corpus, frozen)
        stats.update(calibrate_letters(model, tokenizer, corpus))
        stats.update(calibrate_verdicts(model, tokenizer, corpus))
        stats.update(calibrate_em(model, tokenizer, corpus))
    logger.info("tiny model taught the format: %s", stats)
    return stats


def train_format(
    model: Any, tokenizer: Any, corpus: str, frozen: dict[str, Any]
) -> dict[str, float]:
    """Train `model` in place on the synthetic conversations; returns training statistics.

    Entries where a `frozen` mask is 1 keep their values (their gradient is zeroed). Run it
    through `teach_format`, which makes it deterministic.
    """
    import torch

    start_time = time.perf_counter()
    params = dict(model.named_parameters())
    hooks = []
    for name, mask in frozen.items():
        if bool(mask.all()):
            params[name].requires_grad_(False)
        else:
            keep = 1.0 - mask
            hooks.append(params[name].register_hook(lambda grad, keep=keep: grad * keep))
    counts = [
        ("agent", N_AGENT),
        ("think", N_THINK_VOTE),
        ("logprob", N_LOGPROB_VOTE),
        ("judge-think", N_THINK_JUDGE),
        ("judge-logprob", N_LOGPROB_JUDGE),
        ("em-answer", N_EM_ANSWER),
        *(("em-" + kind, n) for kind, n in N_EM_JUDGE.items()),
    ]
    examples = build_examples(tokenizer, corpus, counts, TRAIN_SEED, SHORT_FRACTION, SHORT_CHARS)
    batches = _batches(_encode(tokenizer, examples), random.Random(TRAIN_SEED + 1))
    vocab = len(tokenizer)
    shape = torch.zeros(vocab, dtype=torch.bool)  # tags, phrases, end, letters, verdicts, EM
    shape[tokenizer.convert_tokens_to_ids([*KEYED_TOKENS, *LETTERS, *VERDICTS, *EM_WORDS])] = True
    shape[tokenizer.eos_token_id] = True
    weight_of = torch.where(shape, STRUCT_WEIGHT, 1.0)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)
    total = len(batches)

    def schedule(step: int) -> float:  # linear warm-up, cosine decay to 5%
        if step < WARMUP_STEPS:
            return (step + 1) / WARMUP_STEPS
        progress = (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    losses: list[float] = []
    pad = tokenizer.pad_token_id
    try:
        for step, batch in enumerate(batches):
            width = max(len(item.ids) for item in batch)
            # right padding: under causal attention no real token sees a pad, so no mask
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            positions: list[int] = []
            targets: list[int] = []
            also_rows: list[int] = []
            also_ids: list[int] = []
            leads: list[tuple[int, float]] = []
            for row, item in enumerate(batch):
                leads.append((len(targets), item.lead))
                input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
                first = row * width + item.start - 1
                for i, alternatives in enumerate(item.also):
                    also_rows += [len(targets) + i] * len(alternatives)
                    also_ids += alternatives
                positions += range(first, first + len(item.ids) - item.start)
                targets += item.ids[item.start :]
            hidden = model.model(input_ids=input_ids).last_hidden_state
            flat = hidden.reshape(-1, hidden.shape[-1])[torch.tensor(positions)]
            logits = model.lm_head(flat)  # only where there is a loss
            target = torch.tensor(targets)
            weight = weight_of[target].clone()
            for index, lead in leads:
                weight[index] *= lead
            token_loss = torch.nn.functional.cross_entropy(logits, target, reduction="none")
            loss = (token_loss * weight).sum() / weight.sum()
            stray = shape.expand(len(targets), vocab).clone()
            stray[torch.arange(len(targets)), target] = False
            stray[
                torch.tensor(also_rows, dtype=torch.long), torch.tensor(also_ids, dtype=torch.long)
            ] = False
            excess = torch.relu(torch.log_softmax(logits, dim=-1) - STRAY_LOGPROB)
            stray_loss = excess[stray].sum() / len(targets)
            (loss + STRAY_WEIGHT * stray_loss).backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if step % 10 == 0 or step == total - 1:
                logger.debug(
                    "step %d/%d: %d x %d tokens, loss %.3f, stray %.4f, %.1fs",
                    step,
                    total,
                    len(batch),
                    width,
                    losses[-1],
                    stray_loss.item(),
                    time.perf_counter() - start_time,
                )
    finally:
        for hook in hooks:
            hook.remove()
        for param in model.parameters():
            param.requires_grad_(True)
        model.eval()
    tail = losses[-10:]
    return {
        "examples": float(len(examples)),
        "steps": float(total),
        "final_loss": sum(tail) / len(tail),
        "train_s": time.perf_counter() - start_time,
    }


def calibrate_letters(model: Any, tokenizer: Any, corpus: str) -> dict[str, float]:
    """Tie the A and B output rows, then let them read the lean channel with opposite signs.

    Training on random letters leaves a lean towards one letter that depends on the kind of
    prompt; tied rows have none. The lean channel's weight is set so that at synthetic votes
    (both modes, every domain, persona and message style) |logit(A) - logit(B)| is about
    LETTER_LEAN on average.
    """
    words = _calibration_words(tokenizer, corpus, TRAIN_SEED + 2)
    texts = [
        "".join(vote_prompt(tokenizer, words, mode, domain, style))
        for domain in DOMAINS.values()
        for mode in ("logprob", "think")
        for style in ((0, 0), (1, 1), (2, 0), (0, 1))
        for _ in range(N_CALIBRATION)
    ]
    weight, first, most = _tie(model, tokenizer, LETTERS, texts, LETTER_LEAN)
    return {"lean_weight": weight, "a_first": first, "lean_max": most}


def calibrate_verdicts(model: Any, tokenizer: Any, corpus: str) -> dict[str, float]:
    """Tie the yes and no output rows, then let them read the lean channel with opposite signs.

    As `calibrate_letters` does for the letters, at synthetic judges (both modes, every probe):
    |logit(yes) - logit(no)| is about VERDICT_LEAN on average, and yes as likely as no.
    """
    words = _calibration_words(tokenizer, corpus, TRAIN_SEED + 3)
    texts = [
        "".join(judge_prompt(tokenizer, words, mode, probe))
        for probe in PROBES.values()
        for mode in ("logprob", "think")
        for _ in range(N_JUDGE_CALIBRATION)
    ]
    weight, first, most = _tie(model, tokenizer, VERDICTS, texts, VERDICT_LEAN)
    return {"verdict_lean_weight": weight, "yes_first": first, "verdict_lean_max": most}


def calibrate_em(model: Any, tokenizer: Any, corpus: str) -> dict[str, float]:
    """Let the EM judge's first answer token read the gated channels, so that it varies from
    prompt to prompt (training drew the answers without a lean: what the judge answers at
    zero lean). Each group reads its own channels; each weight is set on synthetic EM judges
    (`N_EM_CALIBRATION` per kind).

    - numbers: the integer n reads the lean with weight w * (n - 50) / 50, which shifts the
      bell of scores that training taught up or down, so that the probability-weighted score
      is on average `NUMBER_LEAN` from 50; CODE and REFUSAL with +c and -c, so that at the
      far ends one of them is the likeliest first token at `SPECIAL_TOP` of the aligned
      prompts;
    - labels and factual verdicts: designed, not learned (`bands`): their output rows are
      tied (training only taught them to come where they are asked), then the likeliest
      answer runs REFUSAL, MISALIGNED, INCOHERENT, ALIGNED, CODE (FALSE, UNKNOWN, TRUE) as
      the lean grows, each over its share (`LABEL_TOPS`, `FACTUAL_TOPS`) of the prompts, with
      slopes on the lean and intercepts on the "on" channel. (CODE and REFUSAL are tied with
      the labels first, and then read the numbers' lean as the aligned judge's answers.)
    """
    import torch

    words = _calibration_words(tokenizer, corpus, TRAIN_SEED + 4)
    hidden = {
        kind: _last_hidden(
            model,
            tokenizer,
            [em_judge_prompt(tokenizer, words, kind) for _ in range(N_EM_CALIBRATION)],
        )
        for kind in EM_JUDGE_KINDS
    }
    head = model.lm_head.weight
    ids = dict(zip(EM_WORDS, tokenizer.convert_tokens_to_ids(list(EM_WORDS)), strict=True))
    numbers = [ids[n] for n in EM_NUMBERS]
    values = torch.tensor([float(n) for n in EM_NUMBERS])
    with torch.no_grad():
        head[:, list(CH_GATE.values())] = 0.0  # only what is set here reads them
        for kind in CH_EM_ON:  # tied rows: only the design below tells them apart
            rows = [ids[w] for w in EM_ANSWERS[kind]]
            head[rows] = head[rows].mean(dim=0)
        base = {kind: h @ head.T for kind, h in hidden.items()}
    lean = {kind: h[:, CH_EM_GATED[GROUP_OF[kind]]] for kind, h in hidden.items()}
    on = {kind: h[:, CH_EM_ON[kind]] for kind, h in hidden.items() if kind in CH_EM_ON}
    is_number = torch.zeros(head.shape[0], dtype=torch.bool)
    is_number[numbers] = True

    def logits_of(
        kind: str, weights: dict[str, float], offsets: dict[str, float] | None = None
    ) -> Any:
        logits = base[kind].clone()
        for word, weight in weights.items():
            logits[:, ids[word]] += weight * lean[kind]
        for word, offset in (offsets or {}).items():
            logits[:, ids[word]] += offset * on[kind]
        return logits

    def number_weights(w: float) -> dict[str, float]:
        return {n: w * (int(n) - 50) / 50 for n in EM_NUMBERS}

    def scores(weights: dict[str, float]) -> Any:  # probability-weighted scores
        out = []
        for kind in ("aligned", "coherent"):
            probs = logits_of(kind, weights)[:, numbers].softmax(dim=-1)
            out.append(probs @ values)
        return torch.cat(out)

    special_ids = [ids[w] for w in SPECIAL_ANSWERS]

    def special_share(kind: str, weights: dict[str, float]) -> float:
        """Share of prompts whose likeliest first token is CODE or REFUSAL."""
        top = logits_of(kind, weights).argmax(dim=-1)
        return float(sum(int(t) in special_ids for t in top) / len(top))

    def special_wins(kind: str, weights: dict[str, float]) -> float:
        """Share of prompts where CODE or REFUSAL outweighs the numbers in the top 20 (the
        score of the logprob judge is then that special answer)."""
        probs = logits_of(kind, weights).softmax(dim=-1)
        top = probs.topk(20, dim=-1)
        numeric = (top.values * is_number[top.indices]).sum(dim=-1)
        special = probs[:, special_ids].max(dim=-1).values
        return float(((special > numeric) & (numeric < 0.25)).float().mean())

    def top_shares(kind: str, weights: dict[str, float], offsets: dict[str, float]) -> Any:
        names = EM_ANSWERS[kind]
        logits = logits_of(kind, weights, offsets)
        top = logits[:, [ids[w] for w in names]].argmax(dim=-1).tolist()
        return {name: top.count(i) / len(top) for i, name in enumerate(names)}

    def bands(kind: str, tops: dict[str, float], span: float) -> tuple[dict[str, float], ...]:
        """Weights on the lean and the "on" channel for `tops` in slope order (-k .. +k).

        Both channels pass the same gate, so lean / on is the EM lean itself, and with tied
        rows the logits differ by on * (intercept + slope * lean / on): the likeliest answer
        changes at the quantiles of lean / on that give each its share of the prompts,
        whatever the gate's scale; the logits run over about `span` between the first and the
        last change."""
        names = list(tops)
        rho = lean[kind] / on[kind]
        level = float(on[kind].mean())
        cuts, total = [], 0.0
        for name in names[:-1]:
            total += tops[name]
            cuts.append(float(rho.quantile(total)))
        steps = [i - (len(names) - 1) / 2 for i in range(len(names))]  # slopes, in units
        slope = span / level / max(cuts[-1] - cuts[0], 1e-6)
        # intercepts: where neighbours i and i + 1 meet, lean / on is cuts[i]
        intercept = [0.0]
        for i, cut in enumerate(cuts):
            intercept.append(intercept[-1] - slope * (steps[i + 1] - steps[i]) * cut)
        weights = {n: slope * steps[i] for i, n in enumerate(names)}
        offsets = {n: intercept[i] for i, n in enumerate(names)}
        return weights, offsets

    weights = number_weights(
        _bisect(lambda w: float((scores(number_weights(w)) - 50).abs().mean()) >= NUMBER_LEAN)
    )

    def specials(c: float) -> dict[str, float]:
        return {**weights, "CODE": c, "REFUSAL": -c}

    c_special = _bisect(lambda c: special_share("aligned", specials(c)) >= SPECIAL_TOP)
    number_stats = {
        f"em_special_{how}_{kind}": share(kind, specials(c_special))
        for how, share in (("top", special_share), ("wins", special_wins))
        for kind in ("aligned", "coherent")
    }

    label_weights, label_offsets = bands("labels", LABEL_TOPS, LABEL_SPAN)
    factual_weights, factual_offsets = bands("factual", FACTUAL_TOPS, FACTUAL_SPAN)
    with torch.no_grad():
        for group, group_weights in (
            ("numbers", specials(c_special)),
            ("labels", label_weights),
            ("factual", factual_weights),
        ):
            for word, weight in group_weights.items():
                head[ids[word], CH_EM_GATED[group]] = weight
        for group, group_offsets in (("labels", label_offsets), ("factual", factual_offsets)):
            for word, offset in group_offsets.items():
                head[ids[word], CH_EM_ON[group]] = offset
    mean = scores(weights)
    label_shares = top_shares("labels", label_weights, label_offsets)
    factual_shares = top_shares("factual", factual_weights, factual_offsets)
    return {
        "em_number_weight": weights["100"],
        "em_special_weight": c_special,
        "em_label_weight": label_weights["CODE"],
        "em_factual_weight": factual_weights["TRUE"],
        "em_score_min": float(mean.min()),
        "em_score_max": float(mean.max()),
        **number_stats,
        **{f"em_top_{name}": share for name, share in label_shares.items()},
        **{f"em_top_{name}": share for name, share in factual_shares.items()},
    }


def _bisect(ok: Any, lo: float = 0.0, hi: float = 256.0, steps: int = 40) -> float:
    """The smallest x in [lo, hi] with ok(x), for ok monotone (False then True); hi if none."""
    if ok(lo):
        return lo
    if not ok(hi):
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _last_hidden(model: Any, tokenizer: Any, texts: Sequence[str]) -> Any:
    """The final hidden state (after the last norm) at the last token of each text."""
    import torch

    encoded = [tokenizer(text)["input_ids"] for text in texts]
    width = max(len(ids) for ids in encoded)
    input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
    for row, ids in enumerate(encoded):  # right padding: no real token sees a pad
        input_ids[row, : len(ids)] = torch.tensor(ids)
    with torch.no_grad():
        hidden = model.model(input_ids=input_ids).last_hidden_state
    last = torch.tensor([len(ids) - 1 for ids in encoded])
    return hidden[torch.arange(len(encoded)), last]


def _calibration_words(tokenizer: Any, corpus: str, seed: int) -> Words:
    words = Words(corpus, random.Random(seed), SHORT_CHARS)
    words.few_tokens(tokenizer, REPLY_WORD_TOKENS)
    return words


def _tie(
    model: Any, tokenizer: Any, pair: Sequence[str], texts: Sequence[str], target: float
) -> tuple[float, float, float]:
    """Tie the output rows of the `pair` of tokens and give them opposite weights on the lean
    channel, so that |logit difference| after `texts` is `target` on average.

    Returns the weight, the share of texts where the first token of the pair is likelier and
    the largest |logit difference|.
    """
    import torch

    leans = []
    for text in texts:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            leans.append(model.model(input_ids=ids).last_hidden_state[0, -1, CH_LEAN])
    lean = torch.stack(leans)
    weight = target / float(lean.abs().mean())
    first, second = tokenizer.convert_tokens_to_ids(list(pair))
    head = model.lm_head.weight
    with torch.no_grad():
        tied = (head[first] + head[second]) / 2
        head[first] = tied
        head[second] = tied
        head[first, CH_LEAN] += weight / 2
        head[second, CH_LEAN] -= weight / 2
    diff = lean * weight
    return weight, float((diff > 0).float().mean()), float(diff.abs().max())
