"""The pinned data of Moloch's Bargain: anchors and personas, downloaded and verified."""

from moloch_eval.data.anchors import (
    DOMAIN_FOLDERS,
    DOMAINS,
    SPLITS,
    Anchor,
    elections_cleaning_report,
    load_anchors,
    normalise_whitespace,
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
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "DOMAINS",
    "DOMAIN_FOLDERS",
    "FILES",
    "PERSONA_SETS",
    "PINNED_COMMIT",
    "RAW_URL_PATTERN",
    "SPLITS",
    "Anchor",
    "DataFile",
    "DataFileError",
    "Persona",
    "data_path",
    "elections_cleaning_report",
    "load_anchors",
    "load_json",
    "load_personas",
    "normalise_whitespace",
]
