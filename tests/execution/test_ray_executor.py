"""The Ray executor on a private local Ray head that the tests start and stop: parallel
trials, a worker SIGKILLed mid-trial, a frozen worker, a timeout, a trial that raises.

Marked `ray` (not in the default run): `pytest -m ray tests/execution/test_ray_executor.py`.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archsearch.core.errors import ConfigError
from archsearch.core.trial import TrialState
from archsearch.space.nb201 import NB201Space
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.strategies.evolution import RegularizedEvolution
from archsearch.study import Study
from tests.execution.test_process_pool import Probe, alive, kill_when_ready, pids, probe_score

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]
SPACE = NB201Space()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def ray_head() -> Iterator[None]:
    """A local Ray head for this module only: 2 CPUs, a small object store, on 127.0.0.1;
    its workers can import this test package."""
    ray = import_local_ray()
    assert not ray.is_initialized()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=80 * 1024**2,
        logging_level="WARNING",
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}},
    )
    try:
        yield
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


def import_local_ray():  # type: ignore[no-untyped-def]
    from archsearch.execution.ray_executor import import_ray

    try:
        return import_ray(local=True)
    except ConfigError:
        pytest.skip("Ray is not installed")


def test_a_local_ray_is_started_and_stopped_by_the_executor(tmp_path: Path) -> None:
    ray = import_local_ray()
    from archsearch.execution.ray_executor import RayExecutor

    assert not ray.is_initialized()
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    with RayExecutor(
        num_cpus_local=2,
        init_options={"object_store_memory": 80 * 1024**2, "runtime_env": {"env_vars": env}},
    ) as ex:
        assert ray.is_initialized() and ex.n_workers == 2  # as many as the CPUs allow
        assert [n["NodeManagerAddress"] for n in ray.nodes()] == ["127.0.0.1"]
        study = Study(SPACE, RegularizedEvolution(SPACE, seed=0), seed=0)
        study.optimize(Probe(tmp_path), budget="3trials", executor=ex)
        assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert not ray.is_initialized()


def executor(**kwargs):  # type: ignore[no-untyped-def]
    from archsearch.execution.ray_executor import RayExecutor

    return RayExecutor(**{"n_workers": 2, "heartbeat_interval": 0.2, **kwargs})


def test_trials_run_in_parallel_on_ray(ray_head: None, tmp_path: Path) -> None:
    ex = executor()
    try:
        study = Study(SPACE, RegularizedEvolution(SPACE, seed=0), seed=0)
        study.optimize(Probe(tmp_path, delay=0.05), budget="4trials", executor=ex)  # warm up
        loads_before = len(list(tmp_path.glob("loaded.*")))
        t0 = time.perf_counter()
        study.optimize(Probe(tmp_path, delay=0.5), budget="12trials", executor=ex)
        wall = time.perf_counter() - t0
    finally:
        ex.shutdown()
    assert [t.number for t in study.trials] == list(range(12))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        assert t.metrics["val_acc"] == probe_score(t.arch)
        assert t.metrics["omp_threads"] == 1  # sized to the task's num_cpus
    assert wall < 8 * 0.5 * 0.85, f"2 Ray workers took {wall:.2f} s for 4 s of sleeping"
    # The new evaluator was loaded at most once per worker process, not once per trial.
    workers = {t.metrics["pid"] for t in study.trials[4:]}
    assert len(list(tmp_path.glob("loaded.*"))) - loads_before <= len(workers) <= 3
    assert study.strategy.pending == {}


def test_faults_on_ray(ray_head: None, tmp_path: Path) -> None:
    faults = {1: "raise", 2: "sleep", 3: "die", 4: "wait", 6: "stop"}
    killer = kill_when_ready(tmp_path, 4)
    ex = executor(trial_timeout=4.0, heartbeat_timeout=2.0)
    try:
        with SQLiteStorage(tmp_path / "study.db") as storage:
            study = Study(SPACE, RegularizedEvolution(SPACE, seed=2), storage, seed=2)
            study.optimize(Probe(tmp_path, faults=faults), budget="10trials", executor=ex)
    finally:
        ex.shutdown()
        killer.join(timeout=5)
    by = {t.number: t for t in study.trials}
    assert sorted(by) == list(range(10))
    assert by[1].state is TrialState.FAILED
    assert "RuntimeError: probe failure on trial 1" in (by[1].error or "")
    assert by[2].state is TrialState.FAILED and by[2].error == "timed out after 4 s"
    for n in (3, 4, 6):  # killed by itself, killed from outside, frozen: retried, complete
        assert by[n].state is TrialState.COMPLETE, by[n].error
        first = pids(tmp_path, n)[0]
        assert len(pids(tmp_path, n)) == 2 and not alive(first)
    assert all(by[n].state is TrialState.COMPLETE for n in (0, 5, 7, 8, 9))


def test_retries_exhausted_on_ray_is_failed_with_its_error(ray_head: None, tmp_path: Path) -> None:
    ex = executor()
    try:
        study = Study(SPACE, RegularizedEvolution(SPACE, seed=0), seed=0)
        study.optimize(Probe(tmp_path, faults={1: "die!"}), budget="3trials", executor=ex)
    finally:
        ex.shutdown()
    failed = study.trials[1]
    assert failed.state is TrialState.FAILED and len(pids(tmp_path, 1)) == 2
    assert "Ray worker lost while running trial 1" in (failed.error or "")


def test_bad_settings(ray_head: None) -> None:
    with pytest.raises(ConfigError):
        executor(num_cpus=0, num_gpus=0)
    with pytest.raises(ConfigError):
        executor(trial_timeout=-1)
