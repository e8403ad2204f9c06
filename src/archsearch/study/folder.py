"""One folder per job, the same for every job:

    study.db       the trials, and as meta: the job's name and config, the library
                   version that made it, the search config and budget (for status,
                   report and resume), and the result of each finished step
    checkpoints/   what a step needs to continue after a kill (trial and epoch checkpoints)
    report.html    the report; the job's other artefacts (model files, JSON) beside it
    summary.json   written last: the job is complete

`StudyFolder.open(job, config)` creates the folder or reopens it for the same job and
config; another job, another config or an incompatible library version is a
`StudyError` naming the difference, and nothing is written. `step(name, compute)` runs
`compute` once: its JSON result is stored in the same transaction that marks the step
done, so a job killed at any moment and started again skips every step it finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from archsearch.core.atomic import atomic_write_text
from archsearch.core.errors import StudyError
from archsearch.core.version import VERSION, compatible
from archsearch.storage.sqlite import SQLiteStorage

DB_NAME = "study.db"
SUMMARY = "summary.json"
T = TypeVar("T")


def _plain(value: Any) -> Any:
    """The JSON form of a value (tuples as lists), as the database gives it back."""
    return json.loads(json.dumps(value))


class StudyFolder:
    """A job's folder (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = self.path / DB_NAME
        self.checkpoints = self.path / "checkpoints"
        self.report = self.path / "report.html"
        self.summary_file = self.path / SUMMARY
        self._storage: SQLiteStorage | None = None

    # --- what is stored -----------------------------------------------------------------
    def stored_job(self) -> tuple[str, dict[str, Any]]:
        """The job's name and config, read without writing anything."""
        if not self.db.exists():
            raise StudyError(f"{self.path}: no study here (missing {DB_NAME})")
        with SQLiteStorage(self.db, readonly=True) as storage:
            job, config = storage.get_meta("job"), storage.get_meta("job_config")
        if job is None or config is None:
            raise StudyError(f"{self.db}: holds no job config")
        return str(job), dict(config)

    def summary(self) -> dict[str, Any] | None:
        """The finished job's summary, or None."""
        if not self.summary_file.exists():
            return None
        return dict(json.loads(self.summary_file.read_text(encoding="utf-8")))

    # --- opening ------------------------------------------------------------------------
    def open(
        self, job: str, config: dict[str, Any], *, free: tuple[str, ...] = ()
    ) -> SQLiteStorage:
        """The folder's storage, for `job` with `config` (fields in `free` may differ on
        a resume, such as a search's budget). Checks everything before writing."""
        config = _plain(config)
        if self.db.exists():
            with SQLiteStorage(self.db, readonly=True) as stored:
                meta = {k: stored.get_meta(k) for k in ("job", "job_config", "library_version")}
            if meta["job"] is not None:
                self._check(job, config, meta, free)
        self.path.mkdir(parents=True, exist_ok=True)
        storage = SQLiteStorage(self.db)
        if storage.get_meta("job") is None:
            storage.set_meta("job", job)
            storage.set_meta("library_version", VERSION)
            storage.set_meta("created_at", time.time())
        storage.set_meta("job_config", config)
        self._storage = storage
        return storage

    def _check(
        self, job: str, config: dict[str, Any], meta: dict[str, Any], free: tuple[str, ...]
    ) -> None:
        if meta["job"] != job:
            raise StudyError(f"{self.path} holds a {meta['job']} job, not a {job} job")
        version = str(meta["library_version"])
        if not compatible(version):
            raise StudyError(
                f"{self.path} was made by archsearch {version}, which this version "
                f"({VERSION}) cannot continue; use another folder"
            )
        stored = meta["job_config"] or {}
        diff = [k for k in config if k not in free and stored.get(k) != config[k]]
        if diff:
            raise StudyError(
                f"{self.path} holds a {job} job with a different config ({', '.join(diff)}); "
                "use another folder, or `archsearch resume` to continue that one"
            )

    @property
    def storage(self) -> SQLiteStorage:
        """The storage `open` returned."""
        if self._storage is None:
            raise RuntimeError("StudyFolder.storage before open()")
        return self._storage

    # --- steps --------------------------------------------------------------------------
    def step(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()`'s JSON result, computed once: a finished step is read back."""
        storage = self._storage
        if storage is None:
            raise RuntimeError("StudyFolder.step before open()")
        key = f"step:{name}"
        done = storage.get_meta(key)
        if done is not None:
            return done["value"]
        value = compute()
        storage.set_meta(key, {"value": _plain(value)})
        return _plain(value)

    def finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Write summary.json: the job is complete (written last, atomically)."""
        atomic_write_text(self.summary_file, json.dumps(_plain(summary), indent=2) + "\n")
        return summary

    def close(self) -> None:
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def __enter__(self) -> StudyFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
