"""The pinned data of Moloch's Bargain: anchors and personas, downloaded and verified."""

from moloch_eval.data.anchors import (
    ANCHOR_SPLITS,
    DOMAIN_FOLDERS,
    DOMAINS,
    PAPER_PROMPT_MODELS,
    SPLITS,
    Anchor,
    anchor_relpath,
    cleaning_report,
    elections_cleaning_report,
    load_anchors,
    normalise_whitespace,
    paper_prompts_relpath,
)
from moloch_eval.data.cache import (
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    DataFileError,
    data_path,
    load_json,
)
from moloch_eval.data.personas import PERSONA_SETS, Persona, load_personas
from moloch_eval.data.sources import FILES, PINNED_COMMIT, RAW_URL_PATTERN, DataFile

__all__ = [
    "ANCHOR_SPLITS",
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "DOMAINS",
    "DOMAIN_FOLDERS",
    "FILES",
    "PAPER_PROMPT_MODELS",
    "PERSONA_SETS",
    "PINNED_COMMIT",
    "RAW_URL_PATTERN",
    "SPLITS",
    "Anchor",
    "DataFile",
    "DataFileError",
    "Persona",
    "anchor_relpath",
    "cleaning_report",
    "data_path",
    "elections_cleaning_report",
    "load_anchors",
    "load_json",
    "load_personas",
    "normalise_whitespace",
    "paper_prompts_relpath",
]
