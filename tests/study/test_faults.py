"""Fault injection through the whole study on the process pool: workers SIGKILLed
mid-trial, a frozen worker, a corrupt checkpoint, a trial that raises, and the driver
itself SIGKILLed and resumed. In every case the study completes, each trial is stored
once with its final state, and failures carry their error."""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archsearch.core.genotype import Architecture
from archsearch.core.trial import TrialState
from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.space.nb201 import NB201Space
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study
from tests.execution.test_process_pool import Probe, alive, kill_when_ready, pids, probe_score

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
SPACE = NB201Space()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def rows(db: Path) -> list[tuple[int, str, str, str, str | None]]:
    with sqlite3.connect(db) as con:
        found = con.execute(
            "SELECT number, arch, state, metrics, error FROM trials ORDER BY number"
        ).fetchall()
    return [(int(n), str(a), str(s), str(m), e) for n, a, s, m, e in found]


def corrupt_then_kill(folder: Path, number: int) -> threading.Thread:
    """Once trial `number` has checkpointed and waits, flip bytes in its checkpoint and
    SIGKILL its worker: the retry finds a checkpoint that fails its hash check."""

    def run() -> None:
        flag, deadline = folder / f"wait-{number}", time.monotonic() + 60
        while time.monotonic() < deadline and not (flag.exists() and flag.read_text()):
            time.sleep(0.02)
        ckpt = folder / f"ckpt-{number}.pkl"
        data = bytearray(ckpt.read_bytes())
        data[len(data) // 2] ^= 0xFF
        ckpt.write_bytes(bytes(data))
        os.kill(int(flag.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_every_fault_at_once_the_study_completes(tmp_path: Path) -> None:
    folder = tmp_path / "probe"
    folder.mkdir()
    faults = {2: "raise", 4: "die", 5: "checkpoint", 7: "stop", 9: "wait", 11: "checkpoint"}
    db = tmp_path / "study.db"
    threads = [corrupt_then_kill(folder, 5), kill_when_ready(folder, 9)]
    # Trial 11 checkpoints too, but is killed without corruption: it resumes.
    threads.append(kill_when_ready(folder, 11))
    with (
        SQLiteStorage(db) as storage,
        ProcessPoolExecutor(3, heartbeat_interval=0.2, heartbeat_timeout=1.5) as pool,
    ):
        study = Study(SPACE, RegularizedEvolution(SPACE, seed=1), storage, seed=1)
        study.optimize(Probe(folder, faults=faults), budget="16trials", executor=pool)
    for thread in threads:
        thread.join(timeout=5)
    stored = rows(db)
    assert [r[0] for r in stored] == list(range(16))  # each trial once, none missing
    state = {n: s for n, _, s, _, _ in stored}
    error = {n: e or "" for n, _, _, _, e in stored}
    assert state[2] == "FAILED" and "RuntimeError: probe failure on trial 2" in error[2]
    assert state[5] == "FAILED" and "ckpt-5.pkl is corrupt" in error[5]
    assert state[11] == "COMPLETE"
    assert json.loads(stored[11][3])["resumed_from"] == 5.0
    for n in (4, 7, 9):  # killed, frozen or killed from outside: run again, completed
        assert state[n] == "COMPLETE" and len(pids(folder, n)) == 2
        assert not alive(pids(folder, n)[0])
    assert all(state[n] == "COMPLETE" for n in range(16) if n not in (2, 5))
    for _, arch, s, metrics, _ in stored:
        if s == "COMPLETE":
            assert json.loads(metrics)["val_acc"] == probe_score(Architecture.from_json(arch))
    # The stored study resumes cleanly: the replayed strategy agrees with every trial.
    with SQLiteStorage(db) as storage:
        again = Study(SPACE, RegularizedEvolution(SPACE, seed=1), storage, seed=1)
        assert len(again.completed()) == 14


DRIVER = """
import sys
from pathlib import Path
from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.core.genotype import Architecture
from archsearch.space.nb201 import NB201Space
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study
from tests.execution.test_process_pool import Probe

db, folder, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
space = NB201Space()
with SQLiteStorage(db) as storage, ProcessPoolExecutor(2, heartbeat_interval=0.2) as pool:
    study = Study(space, RegularizedEvolution(space, seed=3), storage, seed=3)
    study.optimize(Probe(folder, delay=0.05), budget=f"{n}trials", executor=pool)
"""


def complete_count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            query = "SELECT COUNT(*) FROM trials WHERE state='COMPLETE'"
            return int(con.execute(query).fetchone()[0])
    except sqlite3.Error:
        return 0


def test_driver_sigkilled_mid_search_resumes_without_losing_a_trial(tmp_path: Path) -> None:
    folder, db, n = tmp_path / "probe", tmp_path / "study.db", 60
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(db), str(folder), str(n)],
        env=env,
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while complete_count(db) < 20 and time.monotonic() < deadline:
            assert driver.poll() is None, driver.stderr.read() if driver.stderr else ""
            time.sleep(0.01)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
    finally:
        if driver.poll() is None:
            driver.kill()
        if driver.stderr:
            driver.stderr.close()
    before = rows(db)
    assert 20 <= sum(s == "COMPLETE" for _, _, s, _, _ in before) < n
    # The orphaned workers notice that the driver is gone and exit.
    workers = {int(p.read_text()) for p in folder.glob("*.pid")}
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in workers)

    with SQLiteStorage(db) as storage, ProcessPoolExecutor(2) as pool:
        study = Study(SPACE, RegularizedEvolution(SPACE, seed=3), storage, seed=3)
        study.optimize(Probe(folder, delay=0.01), budget=f"{n}trials", executor=pool)
    after = rows(db)
    assert [r[0] for r in after] == list(range(n))
    assert all(s == TrialState.COMPLETE.value for _, _, s, _, _ in after)
    for old in before:  # finished trials untouched; those left RUNNING ran again
        if old[2] == "COMPLETE":
            assert after[old[0]] == old
        else:
            assert old[2] == "RUNNING" and after[old[0]][1] == old[1]
