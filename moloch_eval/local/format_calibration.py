"""After training, the tiny model's answers are given their lean (`calibrate_letters`,
`calibrate_verdicts`, `calibrate_em`): tied output rows that read the lean channels, with
weights set on synthetic prompts so that answers vary from prompt to prompt and evenly
overall. torch is imported inside the functions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from moloch_eval.domains import DOMAINS
from moloch_eval.em.prompts import SPECIAL_ANSWERS
from moloch_eval.local.format_fit import SHORT_CHARS, TRAIN_SEED
from moloch_eval.local.format_layout import CH_EM_GATED, CH_EM_ON, CH_GATE, CH_LEAN, GROUP_OF
from moloch_eval.local.synthetic import em_judge_prompt, judge_prompt, vote_prompt
from moloch_eval.local.vocabulary import EM_ANSWERS, EM_JUDGE_KINDS, EM_NUMBERS, EM_WORDS, VERDICTS
from moloch_eval.local.words import REPLY_WORD_TOKENS, Words
from moloch_eval.probes import PROBES
from moloch_eval.prompts import LETTERS

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
