"""Wiring the tiny model's fixed heads by hand (`wire_heads`): the embeddings, the format,
lean and EM lean heads of layer 0, the EM lean's gates and a head start for the output layer,
before training (the design is told in `moloch_eval.local.format_training`). torch is
imported inside the function.
"""

from __future__ import annotations

import math
from typing import Any

from moloch_eval.domains import VOTE_TAG
from moloch_eval.local.format_layout import (
    BALANCE_GAIN,
    CH_ANSWER,
    CH_BOS,
    CH_CONST,
    CH_EM,
    CH_EM_LEAN,
    CH_EM_OUT,
    CH_EM_WORD,
    CH_FREE,
    CH_GATE,
    CH_ID,
    CH_KEY,
    CH_LEAN,
    CH_NONE_OUT,
    CH_OUT,
    CH_SYS,
    CH_THINK,
    CH_USER,
    EM_IDENTITY,
    EM_LEAN_GATE,
    EM_LEAN_SCORES,
    EMBED_NORM,
    GATE_GAIN,
    GATE_OUT,
    GATE_SHUT,
    GATE_UNIT,
    HINT,
    ID_GAIN,
    KEYED_TOKENS,
    LEAN_SCORE,
    LEAN_SINK,
    N_FIXED_HEADS,
    N_READ,
    NAMED,
    ROPE_THETA,
    SINK_SCORE,
    TAG_SCORE,
)
from moloch_eval.local.vocabulary import (
    ANSWER_PHRASES,
    EM_ANSWERS,
    EM_PHRASES,
    EM_WORDS,
    JUDGE_TAGS,
    THINK_TAG,
    VERDICTS,
)
from moloch_eval.prompts import LETTERS


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
