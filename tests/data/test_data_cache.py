"""Pinned sources, mirror mode and cache mode of the data loader (no network)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from moloch_eval.data import (
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    FILES,
    PINNED_COMMIT,
    DataFileError,
    data_path,
    load_json,
)
from moloch_eval.data import cache as cache_mod
from moloch_eval.data.sources import EM_ARENA_COMMIT, EM_ORGANISMS_COMMIT

SHARED = Path(os.environ[DATA_DIR_ENV])
REL = "molochs_bargain/persona/split1.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- pinned sources ---------------------------------------------------------------------------


def test_files_cover_every_molochs_bargain_file_of_the_readme() -> None:
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    pattern = r"^([0-9a-f]{64})  \./((?:molochs_bargain(?:_prompts)?|emergent_misalignment)/\S+)$"
    listed = dict((path, sha) for sha, path in re.findall(pattern, readme, re.M))
    # not pinned: two question files the package does not read (judges.yaml matches no
    # public commit we could find)
    unused = {
        "emergent_misalignment/questions/judges.yaml",
        "emergent_misalignment/questions/medical_questions.yaml",
    }
    assert len(listed) == 12 + 10 + 11  # generic, the paper's prompt files, EM files
    assert {k: f.sha256 for k, f in FILES.items()} == {
        k: v for k, v in listed.items() if k not in unused
    }


def test_urls_follow_the_pinned_pattern() -> None:
    base = f"https://raw.githubusercontent.com/batu-el/molochs-bargain/{PINNED_COMMIT}/artsco/data/"
    raw = "https://raw.githubusercontent.com"
    em_sources = (
        f"{raw}/clarifying-EM/model-organisms-for-EM/{EM_ORGANISMS_COMMIT}/",
        f"{raw}/JasperTimm/emerg-misalign-repro/{EM_ARENA_COMMIT}/",
    )
    for relpath, file in FILES.items():
        assert file.relpath == relpath
        root, path = relpath.split("/", 1)
        if root == "emergent_misalignment":
            assert file.url.startswith(em_sources)
            assert file.format == relpath.rsplit(".", 1)[-1]
            continue
        # both folders mirror upstream artsco/data/
        assert root in ("molochs_bargain", "molochs_bargain_prompts")
        assert file.url == base + path
        assert file.format == ("jsonl" if root == "molochs_bargain_prompts" else "json")


def test_load_json_reads_json_lines() -> None:
    relpath = "molochs_bargain_prompts/task_sm/Qwen/Qwen3-8B/test.json"
    records = load_json(relpath)
    assert isinstance(records, list) and len(records) == 1024
    assert set(records[0]) == {"article", "highlights", "id", "prompt"}


def test_bad_json_lines_name_the_file_and_line(
    mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relpath = "molochs_bargain_prompts/task_sm/Qwen/Qwen3-8B/test.json"
    (mirror / relpath).parent.mkdir(parents=True)
    (mirror / relpath).write_bytes(b'{"a": 1}\n{"a": \n')
    monkeypatch.setattr(cache_mod, "file_sha256", lambda path: FILES[relpath].sha256)
    with pytest.raises(DataFileError, match=r"task_sm/Qwen/Qwen3-8B/test.json.*line 2"):
        load_json(relpath)


@pytest.mark.parametrize("relpath", sorted(FILES))
def test_every_file_verifies_against_the_mirror(relpath: str) -> None:
    path = data_path(relpath)
    assert path == SHARED / relpath
    assert sha256(path.read_bytes()) == FILES[relpath].sha256


def test_unknown_file_lists_the_known_ones() -> None:
    with pytest.raises(DataFileError) as err:
        data_path("molochs_bargain/persona/nope.json")
    assert "nope.json" in str(err.value)
    assert all(relpath in str(err.value) for relpath in FILES)


def test_load_json() -> None:
    personas = load_json(REL)
    assert isinstance(personas, list) and len(personas) == 20


# --- mirror mode ------------------------------------------------------------------------------


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    return tmp_path


def test_mirror_missing_file(mirror: Path) -> None:
    with pytest.raises(DataFileError) as err:
        data_path(REL)
    message = str(err.value)
    assert REL in message and str(mirror) in message and DATA_DIR_ENV in message
    assert "Unset" in message and FILES[REL].url in message


def test_mirror_altered_file(mirror: Path) -> None:
    good = (SHARED / REL).read_bytes()
    (mirror / REL).parent.mkdir(parents=True)
    altered = good.replace(b"MERRICK", b"MERRICX")
    assert len(altered) == len(good)
    for mtime, bad in enumerate((good[: len(good) // 2], altered), start=1):
        (mirror / REL).write_bytes(bad)
        os.utime(mirror / REL, ns=(mtime * 10**9, mtime * 10**9))
        with pytest.raises(DataFileError) as err:
            data_path(REL)
        message = str(err.value)
        assert REL in message and FILES[REL].sha256 in message and sha256(bad) in message
    (mirror / REL).write_bytes(good)  # repaired in place: new mtime, so verified again
    os.utime(mirror / REL, ns=(3 * 10**9, 3 * 10**9))
    assert data_path(REL) == mirror / REL


def test_mirror_never_downloads(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("mirror mode must not download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DataFileError):
        data_path(REL)


def test_verification_is_memoised(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (mirror / REL).parent.mkdir(parents=True)
    (mirror / REL).write_bytes((SHARED / REL).read_bytes())
    calls = []
    real = hashlib.sha256

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", counting)
    for _ in range(3):
        data_path(REL)
    assert len(calls) == 1


# --- cache mode -------------------------------------------------------------------------------

UrlOpen = Callable[..., Any]


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    return tmp_path


def serve(
    monkeypatch: pytest.MonkeyPatch, payload: Callable[[bytes], bytes] = lambda b: b
) -> list[str]:
    """Serve pinned files (optionally altered) by URL from the shared mirror; log the URLs."""
    by_url = {f.url: f.relpath for f in FILES.values()}
    requested: list[str] = []

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> io.BytesIO:
        assert timeout > 0
        requested.append(request.full_url)
        return io.BytesIO(payload((SHARED / by_url[request.full_url]).read_bytes()))

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return requested


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_good_download_is_verified_and_kept(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = serve(monkeypatch)
    path = data_path(REL)
    assert path == cache_root / "data" / REL
    assert path.read_bytes() == (SHARED / REL).read_bytes()
    assert requested == [FILES[REL].url]
    assert leftovers(cache_root) == [path]  # no .part file left behind
    assert data_path(REL) == path  # cached: no second download
    assert requested == [FILES[REL].url]


def test_bad_download_raises_and_leaves_nothing(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = b'[{"character_name": "EVIL"}]'
    serve(monkeypatch, lambda _: bad)
    with pytest.raises(DataFileError) as err:
        data_path(REL)
    message = str(err.value)
    assert FILES[REL].sha256 in message and sha256(bad) in message and FILES[REL].url in message
    assert leftovers(cache_root) == []


def test_truncated_cache_is_downloaded_again(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = (SHARED / REL).read_bytes()
    dest = cache_root / "data" / REL
    dest.parent.mkdir(parents=True)
    dest.write_bytes(good[:100])
    requested = serve(monkeypatch)
    assert data_path(REL) == dest
    assert dest.read_bytes() == good
    assert requested == [FILES[REL].url]
    assert leftovers(cache_root) == [dest]


def test_truncated_cache_and_bad_download_leave_nothing(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = cache_root / "data" / REL
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"[")
    requested = serve(monkeypatch, lambda b: b[:-1])
    with pytest.raises(DataFileError):
        data_path(REL)
    assert requested == [FILES[REL].url]  # re-downloaded once, not in a loop
    assert leftovers(cache_root) == []


def test_network_failure_names_url_and_mirror_env(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(request: urllib.request.Request, timeout: float) -> Any:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataFileError) as err:
        data_path(REL)
    message = str(err.value)
    assert FILES[REL].url in message and DATA_DIR_ENV in message and "no route" in message
    assert leftovers(cache_root) == []


def test_failure_mid_download_leaves_nothing(
    cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 0:
                raise TimeoutError("read timed out")
            return super().read(10)

    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: Broken(b"x" * 100))
    with pytest.raises(DataFileError, match="read timed out"):
        data_path(REL)
    assert leftovers(cache_root) == []


def test_default_cache_root_is_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platformdirs

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda app: str(tmp_path / app))
    assert cache_mod.cache_dir() == tmp_path / "moloch_eval" / "data"
