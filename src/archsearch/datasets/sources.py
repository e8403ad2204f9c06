"""Where dataset files come from: local folders first, a checksummed download second.

Search order, first match wins:

1. the `data_dir` a caller passes (the CLI's `--data-dir`),
2. the folder named by the `ARCHSEARCH_DATA` environment variable,
3. known system places (Debian's `dataset-*` packages install under `/usr/share/datasets/`),
4. archsearch's download cache (`$XDG_CACHE_HOME/archsearch/datasets`, else
   `~/.cache/archsearch/datasets`).

In each place a dataset is looked for in its conventional sub-folders (`mnist/`,
`fashion-mnist/`, `cifar10-jpeg/`, ...); a folder the user names explicitly (1 or 2) is
also searched itself, so `--data-dir ~/data/mnist` works as well as `--data-dir ~/data`.
Only when nothing is found is a download tried, into the first writable place of 1, 2
or 4, from the canonical URL, checked against a SHA-256 before it is kept.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsearch.core.errors import ArchsearchError

ENV_VAR = "ARCHSEARCH_DATA"
SYSTEM_DIRS = (Path("/usr/share/datasets"),)  # Debian: dataset-fashion-mnist and friends
_CHUNK = 1 << 20


class DatasetError(ArchsearchError):
    """A dataset that cannot be found, downloaded or read; the message names what and where."""


@dataclass(frozen=True)
class Remote:
    """One file of a dataset's canonical distribution: mirrors to try in order, and the
    SHA-256 of the file as published (checked before the download is kept)."""

    filename: str
    urls: tuple[str, ...]
    sha256: str


def cache_dir() -> Path:
    """Where downloads go when no data directory is given."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archsearch" / "datasets"


def search_places(data_dir: str | os.PathLike[str] | None) -> list[tuple[Path, bool]]:
    """The places to look in, in order, each with whether it was named explicitly (an
    explicit folder is also searched itself, not only its sub-folders)."""
    places: list[tuple[Path, bool]] = []
    if data_dir is not None:
        places.append((Path(data_dir).expanduser(), True))
    env = os.environ.get(ENV_VAR)
    if env:
        places.append((Path(env).expanduser(), True))
    places += [(p, False) for p in SYSTEM_DIRS]
    places.append((cache_dir(), False))
    return places


def candidate_dirs(folders: Sequence[str], data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Every folder a dataset's files may be in, in search order (existing ones only)."""
    found: list[Path] = []
    for place, explicit in search_places(data_dir):
        options = [place / f for f in folders] + ([place] if explicit else [])
        for d in options:
            if d.is_dir() and d not in found:
                found.append(d)
    return found


def find_file(directory: Path, names: Sequence[str]) -> Path | None:
    """The first of `names` (alternative spellings of one file) present in `directory`."""
    for name in names:
        p = directory / name
        if p.is_file():
            return p
    return None


def looked_in(folders: Sequence[str], data_dir: str | os.PathLike[str] | None) -> str:
    """A readable list of the places searched, for error messages."""
    parts = []
    for place, explicit in search_places(data_dir):
        subs = "{" + ",".join(folders) + "}"
        parts.append(f"{place}/{subs}" + (f" and {place}" if explicit else ""))
    return "; ".join(parts)


def download_dir(folder: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """Where a download of `folder` goes: the explicit data dir, else ARCHSEARCH_DATA,
    else the cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser() / folder
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser() / folder
    return cache_dir() / folder


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(remote: Remote, target_dir: Path, *, timeout: float = 60.0) -> Path:
    """Fetch `remote` into `target_dir`, verifying its SHA-256; returns the file's path.

    The bytes go to a temporary file in the same folder and are renamed into place only
    after the checksum matches, so an interrupted or corrupt download never leaves a file
    that a later load would trust.
    """
    created = [d for d in (target_dir, *target_dir.parents) if not d.exists()]
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / remote.filename
    errors: list[str] = []
    for url in remote.urls:
        fd, tmp_name = tempfile.mkstemp(
            dir=target_dir, prefix=f".{remote.filename}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while chunk := resp.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            if digest != remote.sha256:
                errors.append(
                    f"{url}: checksum mismatch (sha256 {digest}, expected {remote.sha256})"
                )
                continue
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            errors.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    for d in created:  # leave no empty folders behind (innermost first)
        try:
            d.rmdir()
        except OSError:
            break
    raise DatasetError(f"could not download {remote.filename}: " + "; ".join(errors))


def fetch(
    name: str,
    folders: Sequence[str],
    remotes: Sequence[Remote],
    data_dir: str | os.PathLike[str] | None,
    *,
    allow_download: bool = True,
    alternatives: str = "",
) -> list[Path]:
    """Download every file of `remotes` (after a local search found nothing), with an
    error that says where the files were looked for and how to provide them
    (`alternatives`: other local forms the loader also reads, for the message)."""
    wanted = ", ".join(r.filename for r in remotes) + (f" ({alternatives})" if alternatives else "")
    hint = (
        f"put {wanted} in one of those folders, pass a data directory (--data-dir) or set {ENV_VAR}"
    )
    if not allow_download:
        raise DatasetError(
            f"dataset {name!r} not found (looked in {looked_in(folders, data_dir)}) and "
            f"downloads are off; {hint}"
        )
    target = download_dir(folders[0], data_dir)
    try:
        return [download(r, target) for r in remotes]
    except DatasetError as e:
        raise DatasetError(
            f"dataset {name!r} not found (looked in {looked_in(folders, data_dir)}), and {e}; "
            f"{hint}"
        ) from None


# --- IDX (LeCun's MNIST format, also Fashion-MNIST) ----------------------------------------
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not: told by its magic bytes) as a NumPy array.

    Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a dtype
    code, the number of dimensions, then each dimension as a big-endian uint32, then the
    data in C order.
    """
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = memoryview(data)[4 + 4 * ndim :]
    if len(body) != expected:
        raise DatasetError(
            f"{path}: IDX header says {shape} ({expected} bytes), file holds {len(body)}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
