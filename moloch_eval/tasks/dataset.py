"""Anchors as Inspect samples: the agent prompt as input, the anchor in metadata."""

from __future__ import annotations

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser

from moloch_eval.data import Anchor, load_anchors
from moloch_eval.domains import AGENT_SYSTEM_PROMPT, DomainSpec
from moloch_eval.prompts import agent_user_prompt


def anchor_sample(
    domain: DomainSpec, anchor: Anchor, anchor_split: str = "paper", clean_anchors: bool = False
) -> Sample:
    """One anchor → one sample with a stable id (domain-split-index in the file read)."""
    metadata = {
        "domain": domain.name,
        "split": anchor.split,
        "anchor_index": anchor.index,
        "anchor_split": anchor_split,
        "clean_anchors": clean_anchors,
        "anchor": dict(anchor.fields),
        **{name: anchor.fields.get(name) for name in domain.metadata_fields},
    }
    if domain.group is not None:
        metadata["group"] = domain.group(anchor.fields)
    return Sample(
        id=anchor.id,
        input=[
            ChatMessageSystem(content=AGENT_SYSTEM_PROMPT),
            ChatMessageUser(content=agent_user_prompt(domain, anchor.fields)),
        ],
        metadata=metadata,
    )


def competition_dataset(
    domain: DomainSpec, split: str, *, anchor_split: str = "paper", clean_anchors: bool = False
) -> MemoryDataset:
    """All anchors of a domain split, in source order.

    `anchor_split`: "paper" (the anchors the paper's runs used) or "published" (the generic
    files); `clean_anchors`: normalise whitespace and drop duplicates and train/test overlaps
    (see `moloch_eval.data.anchors`).
    """
    anchors = load_anchors(domain.name, split, anchor_split=anchor_split, clean=clean_anchors)
    samples = [anchor_sample(domain, a, anchor_split, clean_anchors) for a in anchors]
    return MemoryDataset(
        samples, name=f"{domain.name}-{split}", location=f"moloch_eval/{domain.name}"
    )
