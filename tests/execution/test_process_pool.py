"""The process-pool executor: parallel trials, and every fault it must survive.

`Probe` is the fault-injection evaluator (also used by test_faults.py and
test_ray_executor.py): it sleeps a little, records its process id per attempt, and can be
told to raise, hang (sleep or freeze itself with SIGSTOP), kill its own worker, or wait
for the test to kill it.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter, Result, Trial, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.execution.process_pool import (
    ProcessPoolExecutor,
    load_payload,
    write_payload,
)
from archsearch.space.nb201 import NB201Space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
SPACE = NB201Space()


def probe_score(arch: Architecture) -> float:
    """A fixed pseudo-accuracy per architecture, the same in every process."""
    digest = hashlib.sha256(arch.to_json().encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000 / 100.0


class Probe(Evaluator):
    """Evaluates after `delay` seconds; `faults` maps a trial number to what goes wrong on
    its first attempt ("<fault>") or on every attempt ("<fault>!"):

    raise: raises RuntimeError; sleep: sleeps for an hour; stop: freezes its own process
    (SIGSTOP: even the heartbeat thread stops); die: SIGKILLs its own process; wait:
    writes its pid to `<folder>/wait-<number>` and sleeps until killed; checkpoint: writes
    a checkpoint (atomically, hash recorded), waits to be killed, and the next attempt
    resumes from it.

    Each attempt leaves `<folder>/<number>.<attempt>.pid` holding the worker's pid.
    """

    def __init__(self, folder: Path, delay: float = 0.05, faults: dict[int, str] | None = None):
        self.folder = str(folder)
        self.delay = delay
        self.faults = dict(faults or {})

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # Each unpickling leaves a mark: the evaluator should travel once per worker.
        Path(self.folder, f"loaded.{os.getpid()}.{time.time_ns()}").touch()

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        folder = Path(self.folder)
        attempt = sum(1 for _ in folder.glob(f"{ctx.number}.*.pid"))
        (folder / f"{ctx.number}.{attempt}.pid").write_text(str(os.getpid()))
        fault = self.faults.get(ctx.number, "")
        fault = fault.rstrip("!") if fault.endswith("!") or attempt == 0 else ""
        metrics = {
            "val_acc": probe_score(arch),
            "omp_threads": float(os.environ.get("OMP_NUM_THREADS", "0")),
            "pid": float(os.getpid()),
        }
        if fault == "checkpoint" or self.faults.get(ctx.number) == "checkpoint":
            # every attempt: the first checkpoints and waits, a later one resumes
            return self._with_checkpoint(folder, ctx, metrics)
        if fault == "raise":
            raise RuntimeError(f"probe failure on trial {ctx.number}")
        if fault == "sleep":
            time.sleep(3600)
        if fault == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
        if fault == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "wait":
            (folder / f"wait-{ctx.number}").write_text(str(os.getpid()))
            time.sleep(3600)
        time.sleep(self.delay)
        return Result.complete(metrics, cost=self.delay)

    def _with_checkpoint(self, folder: Path, ctx: TrialContext, metrics: dict) -> Result:
        """Half the work, a checkpoint, then (first attempt) wait to be killed; a later
        attempt resumes from the checkpoint, checked against its recorded hash."""
        path, digest_file = folder / f"ckpt-{ctx.number}.pkl", folder / f"ckpt-{ctx.number}.sha"
        if digest_file.exists():
            state = load_payload(path, digest_file.read_text())  # raises if corrupt
            return Result.complete({**metrics, "resumed_from": float(state["step"])}, 0.0)
        sha = write_payload(path, {"step": 5})
        digest_file.write_text(sha)
        (folder / f"wait-{ctx.number}").write_text(str(os.getpid()))
        time.sleep(3600)
        raise AssertionError("unreachable")


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    """Bound each test: a hang dumps every thread's stack and ends the run."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is dead for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def kill_when_ready(folder: Path, number: int, timeout: float = 60.0) -> threading.Thread:
    """SIGKILL the worker of trial `number` once it says it is waiting."""

    def run() -> None:
        flag, deadline = folder / f"wait-{number}", time.monotonic() + timeout
        while time.monotonic() < deadline:
            if flag.exists() and flag.read_text():
                os.kill(int(flag.read_text()), signal.SIGKILL)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def new_study(seed: int = 0) -> Study:
    return Study(SPACE, RegularizedEvolution(SPACE, seed=seed), InMemoryStorage(), seed=seed)


def pids(folder: Path, number: int) -> list[int]:
    files = sorted(folder.glob(f"{number}.*.pid"), key=lambda p: int(p.name.split(".")[1]))
    return [int(p.read_text()) for p in files]


def test_trials_run_in_parallel_with_one_evaluator_copy_per_worker(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2, threads_per_worker=2) as pool:
        study = new_study()
        pool.wait_ready(timeout=60)
        assert all(pool.worker_pids)
        t0 = time.perf_counter()
        study.optimize(Probe(tmp_path, delay=0.4), budget="8trials", executor=pool)
        wall = time.perf_counter() - t0
        assert [t.number for t in study.trials] == list(range(8))
        assert all(t.state is TrialState.COMPLETE for t in study.trials)
        for t in study.trials:  # the driver got each worker's result for its own trial
            assert t.metrics["val_acc"] == probe_score(t.arch)
            assert t.metrics["omp_threads"] == 2
        assert len({t.metrics["pid"] for t in study.trials}) == 2
        assert wall < 8 * 0.4 * 0.8, f"two workers took {wall:.2f} s for 3.2 s of sleeping"
        loads = list(tmp_path.glob("loaded.*"))
        assert len(loads) == 2  # once per worker, not once per trial
        assert study.strategy.pending == {}
        # The clock is wall seconds on the executor, set by the study to go on from there.
        ends = [t.clock_end or 0.0 for t in study.trials]
        assert 0 < max(ends) <= wall + 0.5
        pool.clock = 1000.0
        assert 1000.0 <= pool.clock < 1001.0
        workers = [p for p in pool.worker_pids if p is not None]
    for pid in workers:  # shutdown stops every worker
        assert not alive(pid)


def test_resumed_study_continues_the_clock(tmp_path: Path) -> None:
    storage = InMemoryStorage()
    with ProcessPoolExecutor(1) as pool:
        s = Study(SPACE, RegularizedEvolution(SPACE, seed=0), storage, seed=0)
        s.optimize(Probe(tmp_path, delay=0.01), budget="3trials", executor=pool)
        last = s.trials[-1]
        last.clock_end = 500.0  # as if the first run had lasted 500 s
        storage.finish_trial(last)
        again = Study(SPACE, RegularizedEvolution(SPACE, seed=0), storage, seed=0)
        again.optimize(Probe(tmp_path, delay=0.01), budget="5trials", executor=pool)
    assert [t.number for t in again.trials] == list(range(5))
    assert all((t.clock_end or 0.0) > 500.0 for t in again.trials[3:])


def test_a_worker_killed_mid_trial_is_replaced_and_the_trial_retried(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2) as pool:
        study = new_study()
        killer = kill_when_ready(tmp_path, 3)
        study.optimize(
            Probe(tmp_path, faults={3: "wait", 6: "die!"}), budget="10trials", executor=pool
        )
        killer.join()
    states = {t.number: t.state for t in study.trials}
    assert sorted(states) == list(range(10))
    assert states[3] is TrialState.COMPLETE  # killed once, then run again
    first, second = pids(tmp_path, 3)
    assert first != second and not alive(first)
    # Trial 6 kills its worker every time: retried once (max_retries=1), then FAILED.
    assert states[6] is TrialState.FAILED and len(pids(tmp_path, 6)) == 2
    error = study.trials[6].error or ""
    assert "died (killed by SIGKILL)" in error and "trial 6" in error
    done = [t for t in study.trials if t.number not in (6,)]
    assert all(t.state is TrialState.COMPLETE for t in done)


def test_timeouts_hangs_and_errors(tmp_path: Path) -> None:
    faults = {1: "raise", 2: "sleep", 4: "stop"}
    with ProcessPoolExecutor(
        2, trial_timeout=2.0, heartbeat_interval=0.2, heartbeat_timeout=1.5
    ) as pool:
        study = new_study()
        t0 = time.perf_counter()
        study.optimize(Probe(tmp_path, faults=faults), budget="8trials", executor=pool)
        wall = time.perf_counter() - t0
    by = {t.number: t for t in study.trials}
    assert sorted(by) == list(range(8))
    assert by[1].state is TrialState.FAILED
    assert "RuntimeError: probe failure on trial 1" in (by[1].error or "")
    assert len(pids(tmp_path, 1)) == 1  # an exception is a result: not retried
    # The sleeping trial is killed at its timeout and recorded FAILED, not retried.
    assert by[2].state is TrialState.FAILED and by[2].error == "timed out after 2 s"
    assert by[2].cost >= 2.0 and len(pids(tmp_path, 2)) == 1
    assert not alive(pids(tmp_path, 2)[0])
    # The frozen worker misses its heartbeats: killed, and the trial runs again.
    assert by[4].state is TrialState.COMPLETE and len(pids(tmp_path, 4)) == 2
    assert not alive(pids(tmp_path, 4)[0])
    assert all(by[n].state is TrialState.COMPLETE for n in (0, 3, 5, 6, 7))
    assert wall < 30


def test_payload_files_are_checked_against_their_hash(tmp_path: Path) -> None:
    path = tmp_path / "state.pkl"
    sha = write_payload(path, {"step": 3})
    assert load_payload(path, sha) == {"step": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pkl"]  # no temporary left
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"state\.pkl is corrupt"):
        load_payload(path, sha)


def test_bad_settings_and_unpicklable_jobs_are_clear_errors(tmp_path: Path) -> None:
    for kwargs in (
        {"n_workers": 0},
        {"threads_per_worker": 0},
        {"trial_timeout": 0},
        {"heartbeat_interval": 5.0, "heartbeat_timeout": 1.0},
        {"start_method": "fork"},
    ):
        with pytest.raises(ConfigError):
            ProcessPoolExecutor(**kwargs)  # type: ignore[arg-type]

    class Local(Probe):  # defined in a function: sent by value (cloudpickle)
        pass

    class Unsendable(Probe):  # holds a lock: no pickler can send it
        def __init__(self, folder: Path) -> None:
            super().__init__(folder)
            self.lock = threading.Lock()

    with ProcessPoolExecutor(1) as pool:
        study = new_study()
        study.optimize(Local(tmp_path), budget="2trials", executor=pool)
        assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
        with pytest.raises(ConfigError, match="cannot be sent to a worker process"):
            new_study().optimize(Unsendable(tmp_path), budget="2trials", executor=pool)
        assert pool.pending() == 0


def test_jobs_that_are_not_trial_jobs_run_too() -> None:
    from archsearch.study import TrialJob

    job = TrialJob(_Constant(), SPACE.from_index(7), TrialContext(0, 1, Reporter()))
    with ProcessPoolExecutor(1) as pool:
        trial = Trial(number=0, arch=SPACE.from_index(7), seed=1)
        pool.submit(trial, _Plain(job))
        (done,) = pool.wait()
        assert done.result.metrics == {"val_acc": 1.0} and not done.lost
        assert pool.wait() == []


class _Constant(Evaluator):
    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        return Result.complete({"val_acc": 1.0})


class _Plain:
    """A job that is not a dataclass: sent whole with every submission."""

    def __init__(self, job: object) -> None:
        self.job = job

    def __call__(self) -> Result:
        return self.job()  # type: ignore[operator,no-any-return]
