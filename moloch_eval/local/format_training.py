"""Teaching the tiny model the answer format at build time: two fixed heads, then training.

After random initialisation, two attention heads of the first layer are set by hand and
frozen, and the rest of the model is trained briefly on synthetic conversations
(`moloch_eval.local.synthetic`: agents, voters and probe judges), then the output rows of the
two letters, and those of the two verdicts, are tied.

- The format head (head 0): every token attends, whatever its distance, to the format tags
  and answer phrases seen so far (BOS when there are none) and reads which answer, vote or
  probe tag they name, which one-token answer a logprob-mode prompt asks for (``yes or no``,
  ``A or B``) and whether a think block or an answer is open. A 2-layer model cannot learn
  such long-range lookups in a few seconds of training; with them in fixed channels of the
  residual stream it only has to learn local rules (after ``</think>`` comes the named tag,
  ...).
- The lean head (head 1) attends to BOS and the system-role token with opposite signs and a
  weight that turns with the prompt's length (a fast rotary frequency): a meaningless number,
  symmetric around zero, that only the A/B and yes/no output rows read. Tied A/B rows plus
  this number make a voter lean a little towards A or B, tied yes/no rows a judge towards yes
  or no, differently from prompt to prompt and evenly overall.

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
from moloch_eval.local.synthetic import (
    ANSWER_PHRASES,
    ANSWER_TAGS,
    FORMAT_TOKENS,
    JUDGE_TAGS,
    REPLY_WORD_TOKENS,
    THINK_TAG,
    VERDICTS,
    VOTE_TAG,
    Example,
    Words,
    build_examples,
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
KEYED_TOKENS = (*FORMAT_TOKENS, *ANSWER_PHRASES)

# Residual-stream channels of the fixed heads. The embeddings are fixed too (not trained).
CH_CONST = 0  # 1 in every token embedding: the heads' query
CH_KEY = 1  # format head key: high on the tags and answer phrases, lower on BOS (the sink)
CH_ID = 2  # 2..14: which answer, vote or probe tag, or answer phrase, a token names (NAMED)
CH_THINK = CH_ID + len(NAMED)  # +1 on <think>, -1 on </think>
CH_ANSWER = CH_THINK + 1  # +1 on an opening answer, vote or probe tag, -1 on a closing one
N_READ = CH_ANSWER + 1 - CH_ID  # channels CH_ID..CH_ANSWER, read by the format head
CH_OUT = CH_ANSWER + 1  # N_READ channels: the format head's output (those averaged over tags)
CH_BOS = CH_OUT + N_READ  # lean head keys: 1 on BOS ...
CH_SYS = CH_BOS + 1  # ... and on the system-role token (right after BOS)
CH_LEAN = CH_SYS + 1  # the lean head's output; nothing else writes there
CH_FREE = CH_LEAN + 1  # CH_FREE..: random features (a fixed-length random direction per token)
EMBED_NORM = 1.0
TAG_SCORE = 25.0  # format head: attention logit of a format tag (~0 for other tokens)
SINK_SCORE = 12.0  # and of BOS
ID_GAIN = 0.5  # format head output gain on the tag identity channels
BALANCE_GAIN = 4.0  # and on the open-block channels (their averages are small)
HINT = 2.0  # initial lm_head weight from the format head's channels to the tags they predict
LEAN_SINK = 20.0  # lean head: attention logit of BOS and of the system token
LEAN_SCORE = 1.0  # and amplitude of the turning part added to one, taken from the other
ROPE_THETA = 1e6  # the slowest rotary pair turns by < 0.2 rad over 32k tokens
#: Synthetic voters per (domain, mode, persona and message style) to scale the lean, and the
#: typical |logit(A) - logit(B)| it then has at a vote.
N_CALIBRATION = 4
LETTER_LEAN = 0.8
#: Synthetic judges per (probe, mode) to scale the lean, and the typical
#: |logit(yes) - logit(no)| it then has at a verdict.
N_JUDGE_CALIBRATION = 4
VERDICT_LEAN = 0.8


def wire_heads(model: Any, tokenizer: Any, generator: Any) -> dict[str, Any]:
    """Set the embeddings and the two fixed heads of layer 0 (and give the output layer a
    head start). Returns {parameter name: mask of the entries that training must not change}.
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
    bos = tokenizer.bos_token_id
    system = tokenizer.convert_tokens_to_ids("<|system|>")
    with torch.no_grad():
        embed.zero_()
        free = torch.randn((vocab, hidden - CH_FREE), generator=generator)
        embed[:, CH_FREE:] = free / free.norm(dim=1, keepdim=True) * EMBED_NORM
        embed[:, CH_CONST] = 1.0
        embed[bos, CH_BOS] = 1.0
        embed[system, CH_SYS] = 1.0
        for token, token_id in zip(KEYED_TOKENS, tag_ids, strict=True):
            tag, closing = token.strip("</>"), token.startswith("</")
            embed[token_id, CH_KEY] = 1.0
            if token in ANSWER_PHRASES:
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
            weight[: 2 * head_dim] = 0.0
        attn.o_proj.weight[:, : 2 * head_dim] = 0.0
        # format head: the slowest rotary pair (half - 1, head_dim - 1), content only
        slow = half - 1
        attn.q_proj.weight[slow, CH_CONST] = scale
        attn.k_proj.weight[slow, CH_KEY] = scale
        for i in range(N_READ):
            attn.v_proj.weight[i, CH_ID + i] = 1.0
            gain = ID_GAIN if CH_ID + i < CH_THINK else BALANCE_GAIN
            attn.o_proj.weight[CH_OUT + i, i] = gain
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

        # a head start for the output layer: a tag is likelier where it is named; an opening
        # tag only where no block is open, a closing one only inside its own block, no think
        # block where an answer phrase is named; no letter where an answer or probe tag or
        # "yes or no" is named, no verdict where an answer tag, the vote or "A or B" is
        head_w = model.lm_head.weight
        think_open, answer_open = CH_OUT + CH_THINK - CH_ID, CH_OUT + CH_ANSWER - CH_ID
        for token, token_id in zip(KEYED_TOKENS, tag_ids, strict=True):
            if token in ANSWER_PHRASES:  # read, never written
                continue
            tag, closing = token.strip("</>"), token.startswith("</")
            own, other = (
                (think_open, answer_open) if tag == THINK_TAG else (answer_open, think_open)
            )
            head_w[token_id, own] = HINT if closing else -HINT
            head_w[token_id, other] = -HINT
            if tag != THINK_TAG:
                index = NAMED.index(tag)
                for j in range(len(NAMED)):
                    head_w[token_id, CH_OUT + j] = HINT if j == index else -HINT
            elif not closing:
                for phrase in ANSWER_PHRASES:
                    head_w[token_id, CH_OUT + NAMED.index(phrase)] = -HINT
        judge_phrase, vote_phrase = ANSWER_PHRASES
        for pair, allowed in (
            (LETTERS, {VOTE_TAG, vote_phrase}),
            (VERDICTS, {*JUDGE_TAGS, judge_phrase}),
        ):
            for word_id in tokenizer.convert_tokens_to_ids(list(pair)):
                for j, name in enumerate(NAMED):
                    if name not in allowed:
                        head_w[word_id, CH_OUT + j] = -HINT
        # only the lean head writes the lean channel
        for block in model.model.layers:
            block.mlp.down_proj.weight[CH_LEAN] = 0.0
        model.model.layers[1].self_attn.o_proj.weight[CH_LEAN] = 0.0
        model.model.norm.weight.fill_(1.0)

    frozen: dict[str, Any] = {"model.embed_tokens.weight": torch.ones_like(embed)}
    frozen["model.layers.0.input_layernorm.weight"] = torch.ones_like(layer.input_layernorm.weight)
    rows = torch.zeros_like(attn.q_proj.weight)
    rows[: 2 * head_dim] = 1.0
    for name in ("q_proj", "k_proj", "v_proj"):
        frozen[f"model.layers.0.self_attn.{name}.weight"] = rows
    out = torch.zeros_like(attn.o_proj.weight)
    out[:, : 2 * head_dim] = 1.0
    out[CH_LEAN] = 1.0
    frozen["model.layers.0.self_attn.o_proj.weight"] = out
    lean_row = torch.zeros_like(attn.o_proj.weight)
    lean_row[CH_LEAN] = 1.0
    frozen["model.layers.1.self_attn.o_proj.weight"] = lean_row
    for i, block in enumerate(model.model.layers):
        down = torch.zeros_like(block.mlp.down_proj.weight)
        down[CH_LEAN] = 1.0
        frozen[f"model.layers.{i}.mlp.down_proj.weight"] = down
    norm = torch.zeros_like(model.model.norm.weight)
    norm[CH_LEAN] = 1.0
    frozen["model.norm.weight"] = norm
    return frozen


@dataclass(frozen=True)
class _Encoded:
    """A tokenized conversation: ids, where the reply starts, and for each reply token the one
    other shape token (tag, end, letter, verdict) that may equally come there, or -1."""

    ids: list[int]
    start: int
    also: list[int]


def _encode(tokenizer: Any, examples: Sequence[Example]) -> list[_Encoded]:
    prompts = tokenizer([e.prompt for e in examples])["input_ids"]
    replies = tokenizer([e.completion for e in examples], add_special_tokens=False)["input_ids"]
    closing = {
        tokenizer.convert_tokens_to_ids(f"<{tag}>"): tokenizer.convert_tokens_to_ids(f"</{tag}>")
        for tag in (THINK_TAG, *NAMED_TAGS)
    }
    pairs = [tokenizer.convert_tokens_to_ids(list(p)) for p in (LETTERS, VERDICTS)]
    other = {pair[i]: pair[1 - i] for pair in pairs for i in range(2)}
    out = []
    for prompt, reply in zip(prompts, replies, strict=True):
        reply = [*reply, tokenizer.eos_token_id]
        also, open_close = [], -1
        for token in reply:
            if token in other:  # a vote or verdict: the other letter or verdict is as good
                also.append(other[token])
            else:  # inside a block, closing it is the alternative to the next word
                also.append(open_close if token != open_close else -1)
            if token in closing:
                open_close = closing[token]
            elif token == open_close:
                open_close = -1
        out.append(_Encoded([*prompt, *reply], len(prompt), also))
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
    ]
    examples = build_examples(tokenizer, corpus, counts, TRAIN_SEED, SHORT_FRACTION, SHORT_CHARS)
    batches = _batches(_encode(tokenizer, examples), random.Random(TRAIN_SEED + 1))
    vocab = len(tokenizer)
    shape = torch.zeros(vocab, dtype=torch.bool)  # tags, phrases, end, letters, verdicts
    shape[tokenizer.convert_tokens_to_ids([*KEYED_TOKENS, *LETTERS, *VERDICTS])] = True
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
            also: list[int] = []
            for row, item in enumerate(batch):
                input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
                first = row * width + item.start - 1
                positions += range(first, first + len(item.ids) - item.start)
                targets += item.ids[item.start :]
                also += item.also
            hidden = model.model(input_ids=input_ids).last_hidden_state
            flat = hidden.reshape(-1, hidden.shape[-1])[torch.tensor(positions)]
            logits = model.lm_head(flat)  # only where there is a loss
            target = torch.tensor(targets)
            weight = weight_of[target]
            token_loss = torch.nn.functional.cross_entropy(logits, target, reduction="none")
            loss = (token_loss * weight).sum() / weight.sum()
            stray = shape.expand(len(targets), vocab).clone()
            rows = torch.arange(len(targets))
            stray[rows, target] = False
            also_ids = torch.tensor(also)
            has_also = also_ids >= 0
            stray[rows[has_also], also_ids[has_also]] = False
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
