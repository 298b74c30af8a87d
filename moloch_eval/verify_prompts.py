"""`moloch-eval verify-prompts`: the package's faithful agent prompts against the paper's own.

The paper stored, for each model it ran, every agent prompt already chat-templated
(`artsco/data/task_*/<model>/{train,test}.json`, pinned in `moloch_eval.data.sources`). This
check rebuilds each one from the package's own faithful anchors (`anchor_split="paper"`,
`clean=False`; never from the stored file's fields) exactly as a task sample feeds them to the
agent, applies the model's chat template as the paper did, and compares byte for byte. The
stored file's anchor fields are compared with the package's anchors too, record by record.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Renders a [system, user] conversation for one model.
Renderer = Callable[[Sequence[Mapping[str, str]]], str]

_CONTEXT = 40


class VerifyPromptsError(RuntimeError):
    """The check could not run (e.g. a tokenizer that cannot be loaded)."""


@dataclass(frozen=True)
class Mismatch:
    """The first difference found in one file."""

    index: int  # record position in the stored file
    sample_id: str | None
    what: str  # "prompt", "anchor field 'x'", or "record count"
    position: int | None  # first differing character (prompt and string fields)
    stored: str  # context around the position, as repr
    rebuilt: str

    def describe(self) -> str:
        where = f"record {self.index}" + (f" ({self.sample_id})" if self.sample_id else "")
        at = "" if self.position is None else f" at character {self.position}"
        return (
            f"{where}: {self.what} differs{at}\n"
            f"    stored:  {self.stored}\n    rebuilt: {self.rebuilt}"
        )


@dataclass(frozen=True)
class FileCheck:
    """The result for one stored-prompt file."""

    domain: str
    model: str
    split: str
    relpath: str
    matched: int
    total: int
    first_mismatch: Mismatch | None

    @property
    def ok(self) -> bool:
        return self.matched == self.total and self.first_mismatch is None


def stored_prompt_files(domains: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
    """(domain, model, split) of every file the paper stored prompts in."""
    from moloch_eval.data.anchors import DOMAINS, PAPER_PROMPT_MODELS, SPLITS

    chosen = tuple(domains) if domains is not None else DOMAINS
    return [
        (domain, model, split)
        for domain in DOMAINS
        if domain in chosen
        for model in PAPER_PROMPT_MODELS[domain]
        for split in SPLITS
    ]


def first_difference(a: str, b: str) -> int:
    """Index of the first character where two strings differ (the shorter length if a prefix)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _context(text: str, position: int) -> str:
    start = max(0, position - _CONTEXT)
    return ("…" if start else "") + repr(text[start : position + _CONTEXT])


def _string_mismatch(
    index: int, sample_id: str | None, what: str, stored: str, rebuilt: str
) -> Mismatch:
    pos = first_difference(stored, rebuilt)
    return Mismatch(index, sample_id, what, pos, _context(stored, pos), _context(rebuilt, pos))


def builtin_renderer(model: str) -> Renderer:
    """The package's own renderer of a model's chat template (`moloch_eval.chat_templates`)."""
    from moloch_eval.chat_templates import PAPER_MODEL_TEMPLATES, render

    template = PAPER_MODEL_TEMPLATES[model]
    return lambda messages: render(template, messages)


def tokenizer_renderer(model: str) -> Renderer:
    """The real tokenizer's `apply_chat_template`, as the paper called it (no remote code)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - transformers is a dependency
        raise VerifyPromptsError(f"--tokenizer needs transformers: {exc}") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=False)
    except Exception as exc:  # offline hub, gated repository, missing files ...
        reason = str(exc).strip().rstrip(".")
        raise VerifyPromptsError(
            f"could not load the tokenizer of {model}: {reason}. --tokenizer needs the model's "
            "tokenizer from the Hugging Face hub or its cache (Llama is gated: log in with an "
            "accepted licence); without it, run verify-prompts with the built-in renderers."
        ) from exc

    def render(messages: Sequence[Mapping[str, str]]) -> str:
        text = tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=True,
        )
        return str(text)

    return render


def check_file(domain: str, model: str, split: str, renderer: Renderer) -> FileCheck:
    """Compare one stored-prompt file with the prompts rebuilt from the package's anchors."""
    from moloch_eval.data.anchors import (
        STORED_PROMPT_FIELD,
        load_anchors,
        paper_prompts_relpath,
        read_records,
    )
    from moloch_eval.domains import get_domain

    spec = get_domain(domain)
    relpath = paper_prompts_relpath(domain, model, split)
    stored = read_records(relpath)
    anchors = load_anchors(domain, split, anchor_split="paper", clean=False)
    matched = 0
    first: Mismatch | None = None
    for index, record in enumerate(stored):
        mismatch = _check_record(index, record, anchors, spec, renderer, STORED_PROMPT_FIELD)
        if mismatch is None:
            matched += 1
        elif first is None:
            first = mismatch
    if first is None and len(anchors) != len(stored):
        first = Mismatch(
            len(stored), None, "record count", None, str(len(stored)), str(len(anchors))
        )
    return FileCheck(domain, model, split, relpath, matched, len(stored), first)


def _check_record(
    index: int,
    record: Mapping[str, Any],
    anchors: Sequence[Any],
    spec: Any,
    renderer: Renderer,
    prompt_field: str,
) -> Mismatch | None:
    from moloch_eval.tasks.dataset import anchor_sample

    if index >= len(anchors):
        return Mismatch(index, None, "record count", None, "a record", "no anchor")
    anchor = anchors[index]
    fields = {k: v for k, v in record.items() if k != prompt_field}
    if fields != anchor.fields:
        for name in sorted(set(fields) | set(anchor.fields)):
            a, b = fields.get(name), anchor.fields.get(name)
            if a != b:
                what = f"anchor field {name!r}"
                if isinstance(a, str) and isinstance(b, str):
                    return _string_mismatch(index, anchor.id, what, a, b)
                return Mismatch(index, anchor.id, what, None, repr(a)[:200], repr(b)[:200])
    sample = anchor_sample(spec, anchor, "paper", False)
    assert isinstance(sample.input, list)
    messages = [{"role": m.role, "content": m.text} for m in sample.input]
    rebuilt = renderer(messages)
    prompt = record.get(prompt_field)
    if not isinstance(prompt, str):
        return Mismatch(index, anchor.id, "prompt", None, repr(prompt)[:200], "a prompt")
    if rebuilt != prompt:
        return _string_mismatch(index, anchor.id, "prompt", prompt, rebuilt)
    return None


def verify_prompts(
    domains: Iterable[str] | None = None,
    use_tokenizer: bool = False,
    renderer_for: Callable[[str], Renderer] | None = None,
) -> list[FileCheck]:
    """Check every stored-prompt file (of `domains`, default all) and return the results."""
    make = renderer_for or (tokenizer_renderer if use_tokenizer else builtin_renderer)
    renderers: dict[str, Renderer] = {}
    results = []
    for domain, model, split in stored_prompt_files(domains):
        if model not in renderers:
            renderers[model] = make(model)
        results.append(check_file(domain, model, split, renderers[model]))
    return results


def report(results: Sequence[FileCheck]) -> str:
    """The table printed by the command: matched/total per file, the total, the first miss."""
    lines = []
    width = max((len(r.model) for r in results), default=0)
    for r in results:
        mark = "ok" if r.ok else "MISMATCH"
        lines.append(
            f"{r.domain:<13} {r.model:<{width}} {r.split:<5} {r.matched:>5}/{r.total:<5} {mark}"
        )
    matched = sum(r.matched for r in results)
    total = sum(r.total for r in results)
    lines.append(f"total {matched}/{total}")
    bad = [r for r in results if not r.ok]
    if bad:
        first = bad[0]
        assert first.first_mismatch is not None
        lines.append(
            f"first mismatch in {first.relpath} ({first.domain}, {first.model}, {first.split}): "
            + first.first_mismatch.describe()
        )
    return "\n".join(lines)


def verify_prompts_command(args: argparse.Namespace) -> int:
    """Handler of `moloch-eval verify-prompts`: 0 when every prompt matches, else 1."""
    from moloch_eval.data.cache import DataFileError

    template = "the real tokenizers" if args.tokenizer else "the built-in chat templates"
    print(f"Rebuilding the paper's stored agent prompts with {template}.")
    try:
        results = verify_prompts(domains=args.domain, use_tokenizer=args.tokenizer)
    except (VerifyPromptsError, DataFileError) as exc:
        print(f"error: {exc}")
        return 2
    print(report(results))
    return 0 if all(r.ok for r in results) else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `verify-prompts` command."""
    from moloch_eval.data.anchors import DOMAINS

    parser = commands.add_parser(
        "verify-prompts",
        help="check the faithful agent prompts byte for byte against the paper's stored ones",
        description="Rebuild every agent prompt the paper stored (each domain, split and model) "
        "from the package's faithful anchors, apply the model's chat template and compare "
        "byte for byte. Exits 1 on any mismatch.",
    )
    parser.add_argument(
        "--tokenizer",
        action="store_true",
        help="apply the real tokenizers' chat templates (transformers; needs hub access or a "
        "cached tokenizer) instead of the built-in renderers",
    )
    parser.add_argument(
        "--domain",
        action="append",
        choices=DOMAINS,
        help="only this domain (repeatable; default: all)",
    )
    parser.set_defaults(handler=verify_prompts_command)
