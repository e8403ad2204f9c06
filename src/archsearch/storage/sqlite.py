"""SQLite storage, the embedded default: one file per study, WAL mode, one writer.

Each write is its own transaction. With WAL and `synchronous=NORMAL` a committed
transaction survives the process being killed (SIGKILL included); only a power loss may
drop the last few commits, which the resume logic then treats as never written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from archsearch.core.errors import StudyError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Trial, TrialState
from archsearch.storage.base import STORAGES, Storage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    number INTEGER PRIMARY KEY,
    arch TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    metrics TEXT NOT NULL,
    score REAL,
    cost REAL NOT NULL,
    error TEXT,
    clock_start REAL NOT NULL,
    clock_end REAL,
    ask_seq INTEGER NOT NULL,
    tell_seq INTEGER,
    started_at REAL NOT NULL,
    finished_at REAL,
    resource REAL,
    parent INTEGER
);
"""
_COLUMNS = (
    "number, arch, seed, state, metrics, score, cost, error, clock_start, clock_end, "
    "ask_seq, tell_seq, started_at, finished_at, resource, parent"
)
# Columns added after the first release: (name, type) added to older databases on open.
_ADDED_COLUMNS = (("resource", "REAL"), ("parent", "INTEGER"))


@STORAGES.register("sqlite")
class SQLiteStorage(Storage):
    """A study database file. `readonly=True` opens an existing file without writing it."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StudyError(f"{self.path}: no such study database")
        try:
            if readonly:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None)
            self._check_readable()
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._add_missing_columns()
        except sqlite3.DatabaseError as e:
            raise StudyError(f"{self.path}: not a usable study database ({e})") from None

    def _check_readable(self) -> None:
        # Reading the schema fails on a file that is not an SQLite database at all.
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and not {"meta", "trials"} <= tables:
            raise sqlite3.DatabaseError("it has tables, but not an archsearch study's")
        if tables:
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {result}")

    def _add_missing_columns(self) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        for name, kind in _ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")

    def _select_columns(self) -> str:
        """The trial columns to read; NULL for those an older database (opened read-only,
        so not upgraded) lacks."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        missing = {name for name, _ in _ADDED_COLUMNS if name not in have}
        return ", ".join(
            f"NULL AS {c}" if c in missing else c for c in (c.strip() for c in _COLUMNS.split(","))
        )

    def get_meta(self, key: str) -> Any | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:  # an empty file opened read-only has no tables
            return None
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    def add_trial(self, trial: Trial) -> None:
        self._db.execute(
            f"INSERT INTO trials({_COLUMNS}) VALUES ({', '.join('?' * 16)})", _row(trial)
        )

    def finish_trial(self, trial: Trial) -> None:
        self._db.execute(
            "UPDATE trials SET state=?, metrics=?, score=?, cost=?, error=?, clock_end=?, "
            "tell_seq=?, finished_at=? WHERE number=?",
            (
                trial.state.value,
                json.dumps(trial.metrics),
                trial.score,
                trial.cost,
                trial.error,
                trial.clock_end,
                trial.tell_seq,
                trial.finished_at,
                trial.number,
            ),
        )

    def requeue_trial(self, trial: Trial) -> None:
        self._db.execute(
            "UPDATE trials SET clock_start=?, started_at=? WHERE number=?",
            (trial.clock_start, trial.started_at, trial.number),
        )

    def trials(self) -> list[Trial]:
        try:
            columns = self._select_columns()
            rows = self._db.execute(f"SELECT {columns} FROM trials ORDER BY number").fetchall()
        except sqlite3.OperationalError:
            return []
        return [_trial(r) for r in rows]

    def close(self) -> None:
        self._db.close()


def _row(t: Trial) -> tuple[Any, ...]:
    return (
        t.number,
        t.arch.to_json(),
        t.seed,
        t.state.value,
        json.dumps(t.metrics),
        t.score,
        t.cost,
        t.error,
        t.clock_start,
        t.clock_end,
        t.ask_seq,
        t.tell_seq,
        t.started_at,
        t.finished_at,
        t.resource,
        t.parent,
    )


def _trial(r: tuple[Any, ...]) -> Trial:
    return Trial(
        number=r[0],
        arch=Architecture.from_json(r[1]),
        seed=r[2],
        state=TrialState(r[3]),
        metrics=json.loads(r[4]),
        score=r[5],
        cost=r[6],
        error=r[7],
        clock_start=r[8],
        clock_end=r[9],
        ask_seq=r[10],
        tell_seq=r[11],
        started_at=r[12],
        finished_at=r[13],
        resource=r[14],
        parent=r[15],
    )
