from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from archsearch.core.errors import StudyError
from archsearch.core.trial import Trial, TrialState
from archsearch.space import NB201Space
from archsearch.storage import InMemoryStorage, SQLiteStorage, Storage

SPACE = NB201Space()


def _fill(storage: Storage) -> list[Trial]:
    trials = []
    for i in range(5):
        t = Trial(
            number=i,
            arch=SPACE.from_index(i * 7),
            seed=i + 10,
            clock_start=float(i),
            ask_seq=2 * i,
            started_at=100.0 + i,
        )
        storage.add_trial(t)
        if i < 4:  # the last stays RUNNING
            t.state = TrialState.FAILED if i == 2 else TrialState.COMPLETE
            t.metrics = {} if i == 2 else {"val_acc": 80.0 + i, "nan_metric": float("inf")}
            t.score = None if i == 2 else 80.0 + i
            t.error = "boom" if i == 2 else None
            t.cost, t.clock_end, t.tell_seq, t.finished_at = 1.5, i + 1.5, 2 * i + 1, 200.0 + i
            storage.finish_trial(t)
        trials.append(t)
    storage.set_meta("config", {"a": [1, 2], "b": None})
    return trials


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_round_trip(kind: str, tmp_path: Path) -> None:
    storage: Storage = InMemoryStorage() if kind == "memory" else SQLiteStorage(tmp_path / "s.db")
    written = _fill(storage)
    if kind == "sqlite":
        storage.close()
        storage = SQLiteStorage(tmp_path / "s.db", readonly=True)
    assert storage.trials() == written
    assert storage.get_meta("config") == {"a": [1, 2], "b": None}
    assert storage.get_meta("missing") is None
    assert [t.state for t in storage.trials()][-1] is TrialState.RUNNING
    storage.close()


def test_sqlite_uses_wal_and_readonly_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStorage(path) as s:
        _fill(s)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    before = path.read_bytes()
    with SQLiteStorage(path, readonly=True) as ro, pytest.raises(sqlite3.OperationalError):
        ro.set_meta("x", 1)
    assert path.read_bytes() == before


def test_corrupt_or_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    for readonly in (True, False):
        with pytest.raises(StudyError, match="not a usable study database"):
            SQLiteStorage(bad, readonly=readonly)
    assert bad.read_bytes() == b"this is not a database at all" * 100
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE x (y)")
    with pytest.raises(StudyError, match="not an archsearch study"):
        SQLiteStorage(foreign)
    with pytest.raises(StudyError, match="no such study database"):
        SQLiteStorage(tmp_path / "absent.db", readonly=True)
