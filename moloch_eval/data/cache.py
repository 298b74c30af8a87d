"""Local, checksum-verified copies of the pinned data files.

Two modes:

- mirror: `MOLOCH_EVAL_DATA_DIR` names a local folder laid out like the data root; files are read
  from there only (never downloaded) and must match their pinned SHA-256.
- cache (default): files are downloaded once from their pinned URL into
  `<cache root>/data/` (`MOLOCH_EVAL_CACHE_DIR`, else the user cache dir), verified, then kept.

A path returned by `data_path` always holds exactly the pinned bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from inspect_ai._util.error import PrerequisiteError

from moloch_eval.data.sources import FILES, DataFile

DATA_DIR_ENV = "MOLOCH_EVAL_DATA_DIR"
CACHE_DIR_ENV = "MOLOCH_EVAL_CACHE_DIR"

#: Seconds to wait on the network (connect and each read) before giving up.
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20

# (resolved path, inode, mtime_ns, size) -> SHA-256 hex, so repeated loads do not re-hash.
_digests: dict[tuple[str, int, int, int], str] = {}
_download_lock = threading.Lock()


class DataFileError(PrerequisiteError, RuntimeError):
    """A data file is unknown, missing, damaged or could not be downloaded.

    A `PrerequisiteError`, so `inspect eval` prints the message (which says what to do)
    without a traceback when a task cannot load its data.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.message)


def mirror_dir() -> Path | None:
    """The local mirror named by `MOLOCH_EVAL_DATA_DIR`, or None when unset."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloaded data files are kept: `<cache root>/data`."""
    value = os.environ.get(CACHE_DIR_ENV, "").strip()
    if value:
        root = Path(value).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("moloch_eval"))
    return root / "data"


def _stat_key(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks and memoised per (path, inode, mtime, size)."""
    key = _stat_key(path)
    digest = _digests.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()
        _digests[key] = digest
    return digest


def _lookup(relpath: str) -> DataFile:
    try:
        return FILES[relpath]
    except KeyError:
        known = "\n  ".join(sorted(FILES))
        raise DataFileError(f"Unknown data file {relpath!r}. Known files:\n  {known}") from None


def _from_mirror(file: DataFile, root: Path) -> Path:
    path = root / file.relpath
    if not path.is_file():
        raise DataFileError(
            f"Data file {file.relpath} is missing from the local mirror {root} "
            f"(set by {DATA_DIR_ENV}); expected it at {path}. Unset {DATA_DIR_ENV} to download "
            f"it from its pinned source, or fix the mirror (copy the file from {file.url})."
        )
    actual = file_sha256(path)
    if actual != file.sha256:
        raise DataFileError(
            f"Checksum mismatch for data file {file.relpath} at {path}: expected SHA-256 "
            f"{file.sha256}, got {actual}. The mirror {root} (set by {DATA_DIR_ENV}) holds a "
            f"different or damaged copy: replace it with the pinned file from {file.url}, "
            f"or unset {DATA_DIR_ENV} to download it."
        )
    return path


def _network_error(file: DataFile, exc: BaseException) -> DataFileError:
    return DataFileError(
        f"Could not download data file {file.relpath} from {file.url}: {exc}. Check the network, "
        f"or set {DATA_DIR_ENV} to a local copy of the data laid out like the data root "
        f"(it must contain {file.relpath})."
    )


def _download(file: DataFile, dest: Path) -> None:
    """Stream `file` into a `.part` file beside `dest`, verify it, then rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(file.url, headers={"User-Agent": "moloch_eval"})
            try:
                response = urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S)
            except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
                raise _network_error(file, exc) from exc
            with response:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        raise _network_error(file, exc) from exc
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if actual != file.sha256:
            raise DataFileError(
                f"Checksum mismatch for downloaded data file {file.relpath} from {file.url}: "
                f"expected SHA-256 {file.sha256}, got {actual}. The download was discarded; "
                f"retry later, or set {DATA_DIR_ENV} to a local copy of the pinned data."
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _digests[_stat_key(dest)] = actual


def _from_cache(file: DataFile, root: Path) -> Path:
    dest = root / file.relpath
    with _download_lock:
        damaged: str | None = None
        if dest.is_file():
            damaged = file_sha256(dest)
            if damaged == file.sha256:
                return dest
            dest.unlink()  # damaged or stale (e.g. truncated): fetch it again, once
        try:
            _download(file, dest)
        except DataFileError as ex:
            if damaged is None:
                raise
            raise DataFileError(
                f"The cached copy of data file {file.relpath} at {dest} was damaged (SHA-256 "
                f"{damaged}, expected {file.sha256}) and was removed; fetching it again "
                f"failed. {ex}"
            ) from ex
    return dest


def data_path(relpath: str) -> Path:
    """A local path holding the pinned bytes of `relpath` (mirror, cache or fresh download)."""
    file = _lookup(relpath)
    mirror = mirror_dir()
    if mirror is not None:
        return _from_mirror(file, mirror)
    return _from_cache(file, cache_dir())


def load_json(relpath: str) -> Any:
    """Parse a verified data file: a JSON document, or a list of objects for JSON Lines files.

    The format is the pinned one (`DataFile.format`), not guessed from the file name (the
    paper's JSON Lines files are named `.json`).
    """
    file = _lookup(relpath)
    path = data_path(relpath)
    with path.open(encoding="utf-8") as f:
        if file.format != "jsonl":
            return json.load(f)
        records = []
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataFileError(
                    f"Data file {relpath} at {path} is not valid JSON Lines: line {number}: {exc}"
                ) from exc
        return records
