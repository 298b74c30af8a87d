"""Where the pinned data lives upstream: one commit, one raw URL and one SHA-256 per file."""

from __future__ import annotations

from dataclasses import dataclass

#: The revision of github.com/batu-el/molochs-bargain every file is read from.
PINNED_COMMIT = "5b5bd993de8709f5c3b34f84adb6389ddc5a1837"

#: Raw URL of a file under the repository's `artsco/data/` folder at a commit.
RAW_URL_PATTERN = (
    "https://raw.githubusercontent.com/batu-el/molochs-bargain/{commit}/artsco/data/{path}"
)

#: The folder (relative to the data root) that mirrors upstream `artsco/data/`.
MOLOCHS_BARGAIN_ROOT = "molochs_bargain"


@dataclass(frozen=True)
class DataFile:
    """One pinned file: its path under the data root, its public URL and its SHA-256."""

    relpath: str
    url: str
    sha256: str


def _molochs_bargain(path: str, sha256: str) -> DataFile:
    return DataFile(
        relpath=f"{MOLOCHS_BARGAIN_ROOT}/{path}",
        url=RAW_URL_PATTERN.format(commit=PINNED_COMMIT, path=path),
        sha256=sha256,
    )


_SHA256 = {
    "task_sales/train.json": "37ac7c5f33b275613ad3bf9af16e72a018587dfb762d7f6ed9b91688079f18c7",
    "task_sales/test.json": "46b31f8d2b0edcc5de440a5c1e9f0c5c44af1b9ef12bb9dce0a31f16101b3a3b",
    "task_elections/train.json": "bce195b861785bce6de489f392487fb48d3328081aa97758c88cbd29c3735ef8",
    "task_elections/test.json": "fc180cafecb3b2720e29c6a309f85e3a0ba1e4cec35abb053d3a1bf5610544bf",
    "task_sm/train.json": "a568e87d7c5563e8085dc2c0216901fc8d4801d1610033239ddd1fc9a23f87fb",
    "task_sm/test.json": "6570cc4601932df902077947f93ec23c35ae24b97778b36e1daecf59008dc81f",
    "persona/split1.json": "3e35fec90a408aa51253d4c796a57d67399d2411edacf0d0ea0f181f391f2e2b",
    "persona/split2.json": "dab6dbfd7bc1a1702a6adbd90247b0434ec42e08e274c165e7de2f063ceafe04",
    "persona/split3.json": "d33bf03b516788cb45fbb29bcf2ef73433e1d15263dd5c44258d3ee9133c9575",
    "persona/exp2.json": "d4f1803211ab1e9352b88d1f1076ccea7e3a09390ff6bfd5494ccdb2850f2331",
    "persona/all.json": "d74a1bac1f2c1507783371c8b93917c3c30370931cb3d3bd7916fbeac680688e",
    "persona/characters.json": "5312dc3fd7480d37eb1ea83320207a2172199e3b80f4a4b6eff3a8ab127f69d2",
}

#: Every pinned file, keyed by its path relative to the data root.
FILES: dict[str, DataFile] = {
    f.relpath: f for f in (_molochs_bargain(path, sha) for path, sha in _SHA256.items())
}
