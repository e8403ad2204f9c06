"""Distributed execution on Ray: each trial is a Ray task with its CPU and GPU request.

`address=None` starts a private local Ray (no dashboard, services on 127.0.0.1) and stops
it at `shutdown()`; `address="auto"` (or "ray://host:port", "host:port") joins a cluster
that is already running and leaves it running. Ray is an optional dependency, imported
only here: `pip install 'archsearch[ray]'`.

Faults surface as in the process pool: a task whose worker process or node dies comes
back `lost` (Ray's own task retries are off, so the study decides: retry, then FAILED); a
trial whose heartbeat stops (the task's thread beats to a small actor) is cancelled with
force and comes back `lost`; a trial past `trial_timeout` is cancelled and recorded
FAILED; a trial that raises is FAILED with its error text.

The evaluator goes into Ray's object store once (`ray.put`) and each worker process keeps
the copy it loaded for the trials that follow, with whatever the evaluator caches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
import uuid
from types import ModuleType
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.core.trial import Result, Trial
from archsearch.execution.base import EXECUTORS, Executor, Finished, Job
from archsearch.execution.process_pool import WallClock, describe_error, evaluator_of, limit_threads

INSTALL_HINT = "the Ray executor needs Ray: pip install 'archsearch[ray]' (or pip install ray)"


def import_ray(local: bool = False) -> ModuleType:
    """Ray, or a ConfigError that says how to install it.

    `local`: this process will start a single-machine Ray. Imported that way for the
    first time, Ray takes the loopback address as the node's, and its services listen on
    127.0.0.1 only (by default they listen on every interface).
    """
    if local and "ray" not in sys.modules:
        # Ray reads this when imported; 0 makes its node address the loopback one.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


# --- in the Ray worker process -------------------------------------------------------------------
_EVALUATORS: dict[str, Any] = {}  # this worker process's loaded evaluators, by key
_KEEP_EVALUATORS = 4


def _run_trial(
    job: Any,
    key: str | None,
    boxed: list[Any],
    monitor: Any,
    token: str,
    interval: float,
    threads: int,
) -> Result:
    """A Ray task: run one trial, beating to `monitor` from a thread while it runs.

    `boxed` holds the evaluator's ObjectRef inside a list, so Ray does not fetch and
    unpickle it for every task: only a worker that has not loaded it yet does."""
    ray = import_ray()
    limit_threads(threads)
    stop = threading.Event()
    if monitor is not None:
        where = (os.getpid(), ray.get_runtime_context().get_node_id())
        # The first beat is acknowledged before the trial starts: a trial that freezes at
        # once (its later beats never leave) is then still known to have started.
        with contextlib.suppress(ray.exceptions.RayError):  # no monitor: run unwatched
            ray.get(monitor.beat.remote(token, *where))

        def beat() -> None:
            while not stop.wait(interval):
                monitor.beat.remote(token, *where)  # fire and forget

        threading.Thread(target=beat, name="archsearch-heartbeat", daemon=True).start()
    start = time.perf_counter()
    try:
        if key is not None:
            evaluator = _EVALUATORS.get(key)
            if evaluator is None:
                evaluator = ray.get(boxed[0])
                while len(_EVALUATORS) >= _KEEP_EVALUATORS:
                    _EVALUATORS.pop(next(iter(_EVALUATORS)))
                _EVALUATORS[key] = evaluator
            job = dataclasses.replace(job, evaluator=evaluator)
        result = job()
        if not isinstance(result, Result):
            raise TypeError(f"a job returned {type(result).__name__}, not a Result")
    except BaseException as e:  # one trial's failure, whatever it is
        result = Result.failed(describe_error(e), cost=time.perf_counter() - start)
    finally:
        stop.set()
    return result


class _Heartbeats:
    """A Ray actor that counts each running trial's heartbeats. The driver reads the
    counts and times the changes on its own clock, so the nodes' clocks never matter."""

    def __init__(self) -> None:
        self.beats: dict[str, tuple[int, int, str]] = {}  # token -> (count, pid, node id)

    def beat(self, token: str, pid: int, node: str) -> None:
        count = self.beats.get(token, (0, 0, ""))[0]
        self.beats[token] = (count + 1, pid, node)

    def snapshot(self, forget: list[str]) -> dict[str, tuple[int, int, str]]:
        for token in forget:
            self.beats.pop(token, None)
        return dict(self.beats)


# --- the driver side -----------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class _Task:
    trial: Trial
    ref: Any  # ray.ObjectRef
    token: str
    submitted: float  # driver's monotonic clock
    beats: int = 0
    started: float | None = None  # when its first heartbeat was seen
    last_beat: float | None = None  # when the count last changed
    pid: int | None = None
    node: str | None = None


@EXECUTORS.register("ray")
class RayExecutor(WallClock, Executor):
    """Runs trials as Ray tasks, at most `n_workers` at once.

    Args:
        n_workers: trials in flight at once; None: as many as the cluster's CPUs (or
            GPUs, when `num_gpus > 0`) allow at the request below.
        num_cpus, num_gpus: what each trial asks Ray for (fractions allowed). The task's
            native thread pools are sized to `num_cpus` (at least one thread).
        address: None starts a local Ray; "auto" joins the running cluster.
        trial_timeout: seconds a trial may run (from its first heartbeat) before it is
            cancelled and recorded FAILED; None: no limit.
        heartbeat_interval, heartbeat_timeout: a running trial beats every interval; one
            silent for longer than the timeout is hung. `heartbeat_interval=None` turns
            heartbeats off (and with them the hung-trial check).
        start_timeout: seconds a task may wait to start (no heartbeat yet) before it is
            treated as lost; None: wait as long as it takes (a busy cluster queues it).
        init_options: extra keyword arguments for `ray.init`.

    With `address=None` a Ray that is already initialised in this process is used as it
    is (and left running); otherwise a local one starts with `num_cpus_local` CPUs
    (default: this machine's), no dashboard, and its services on 127.0.0.1 only if Ray
    was first imported through this module (`import_ray(local=True)`).
    """

    def __init__(
        self,
        n_workers: int | None = None,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        address: str | None = None,
        trial_timeout: float | None = None,
        heartbeat_interval: float | None = 1.0,
        heartbeat_timeout: float = 30.0,
        start_timeout: float | None = None,
        num_cpus_local: int | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        if n_workers is not None and (int(n_workers) != n_workers or n_workers < 1):
            raise ConfigError(f"n_workers must be a whole number >= 1, got {n_workers!r}")
        if num_cpus < 0 or num_gpus < 0 or num_cpus + num_gpus == 0:
            raise ConfigError(
                f"a trial must ask for some CPUs or GPUs, got num_cpus={num_cpus}, "
                f"num_gpus={num_gpus}"
            )
        if trial_timeout is not None and not trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be > 0 seconds, got {trial_timeout}")
        if heartbeat_interval is not None and not 0 < heartbeat_interval < heartbeat_timeout:
            raise ConfigError(
                "heartbeat_timeout must exceed heartbeat_interval (both > 0), got "
                f"{heartbeat_timeout} and {heartbeat_interval}"
            )
        ray = import_ray(local=address is None)
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"logging_level": "WARNING", "namespace": "archsearch"}
            if address is None:
                options.update(
                    num_cpus=num_cpus_local,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                )
            options.update(init_options or {})
            ray.init(address=address, **options)
            self._owns_ray = True
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.trial_timeout = trial_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.start_timeout = start_timeout
        if n_workers is None:
            resources = ray.cluster_resources()
            fits = [resources.get("CPU", 0.0) / num_cpus] if num_cpus > 0 else []
            fits += [resources.get("GPU", 0.0) / num_gpus] if num_gpus > 0 else []
            n_workers = max(1, int(min(fits)))
        self.n_workers = int(n_workers)
        self._remote = ray.remote(_run_trial).options(
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            max_retries=0,  # the study retries lost trials itself, and counts them
            retry_exceptions=False,
        )
        self._monitor = None
        if heartbeat_interval is not None:
            # No CPU: the actor only counts, and must not take a trial's slot.
            self._monitor = ray.remote(num_cpus=0)(_Heartbeats).remote()
        self._node = ray.get_runtime_context().get_node_id()
        self._evaluators: dict[int, tuple[Any, str, Any]] = {}  # id -> (obj, key, ref)
        self._tasks: list[_Task] = []
        self._forget: list[str] = []  # tokens of finished tasks, dropped at the next read
        self._last_read = 0.0
        self._seq = 0
        self._closed = False
        self.clock = 0.0

    # --- the contract ------------------------------------------------------------------------
    def free_slots(self) -> int:
        return 0 if self._closed else self.n_workers - len(self._tasks)

    def pending(self) -> int:
        return len(self._tasks)

    def submit(self, trial: Trial, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the Ray executor has been shut down")
        key, boxed = None, []
        evaluator = evaluator_of(job)
        if evaluator is not None:
            entry = self._evaluators.get(id(evaluator))
            if entry is None:
                key = uuid.uuid4().hex  # unique across executors: Ray's workers outlive them
                entry = (evaluator, key, self._ray.put(evaluator))
                self._evaluators[id(evaluator)] = entry
            _, key, ref = entry
            boxed = [ref]
            job = dataclasses.replace(job, evaluator=None)  # type: ignore[type-var]
        self._seq += 1
        token = f"{trial.number}-{self._seq}"
        threads = max(1, int(self.num_cpus))
        ref = self._remote.remote(
            job, key, boxed, self._monitor, token, self.heartbeat_interval or 0.0, threads
        )
        self._tasks.append(_Task(trial, ref, token, time.monotonic()))

    def wait(self) -> list[Finished]:
        """Block until at least one trial finishes, is lost or times out."""
        while self._tasks:
            refs = [t.ref for t in self._tasks]
            ready, _ = self._ray.wait(refs, num_returns=1, timeout=self._next_check())
            if ready:  # everything else already done too, without waiting again
                ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
            finished = [self._collect(t) for t in self._tasks if t.ref in set(ready)]
            done = {id(f.trial) for f in finished}
            self._tasks = [t for t in self._tasks if id(t.trial) not in done]
            finished += self._check_deadlines()
            if finished:
                return finished
        return []

    def shutdown(self) -> None:
        """Cancel running trials (they stay RUNNING in storage and run again on resume);
        stop Ray if this executor started it."""
        if self._closed:
            return
        self._closed = True
        for t in self._tasks:
            self._cancel(t)
        self._tasks.clear()
        if self._monitor is not None:
            self._ray.kill(self._monitor)
        self._evaluators.clear()
        if self._owns_ray:
            self._ray.shutdown()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # --- internals -----------------------------------------------------------------------------
    def _collect(self, task: _Task) -> Finished:
        exceptions = self._ray.exceptions
        self._forget.append(task.token)
        try:
            result = self._ray.get(task.ref)
        except exceptions.RayTaskError as e:  # raised past _run_trial's own handler
            return Finished(task.trial, Result.failed(str(e).splitlines()[0]), self.clock)
        except exceptions.RayError as e:  # worker or node died, object lost, OOM-killed
            error = f"Ray worker lost while running trial {task.trial.number}: {type(e).__name__}"
            detail = str(e).strip().splitlines()
            if detail:
                error += f" ({detail[0]})"
            cost = time.monotonic() - (task.last_beat or task.submitted)
            return Finished(task.trial, Result.failed(error, cost), self.clock, lost=True)
        return Finished(task.trial, result, self.clock)

    def _next_check(self) -> float:
        now = time.monotonic()
        limits = [self.heartbeat_interval or 1.0]
        for t in self._tasks:
            if t.last_beat is None:
                if self.start_timeout is not None:
                    limits.append(t.submitted + self.start_timeout - now)
            elif self.trial_timeout is not None and t.started is not None:
                limits.append(t.started + self.trial_timeout - now)
        return max(0.0, min(limits))

    def _read_heartbeats(self) -> None:
        """Update each task's heartbeat count from the monitor, at most once per interval."""
        if self._monitor is None or self.heartbeat_interval is None:
            return
        now = time.monotonic()
        if now - self._last_read < self.heartbeat_interval:
            return
        forget, self._forget = self._forget, []
        try:
            beats = self._ray.get(self._monitor.snapshot.remote(forget), timeout=60)
        except self._ray.exceptions.RayError:  # the monitor is gone: no hang detection
            self._monitor = None
            return
        self._last_read = now = time.monotonic()
        for t in self._tasks:
            count, pid, node = beats.get(t.token, (0, 0, ""))
            if count > t.beats:
                if t.started is None:
                    t.started = now
                t.beats, t.last_beat, t.pid, t.node = count, now, pid, node

    def _check_deadlines(self) -> list[Finished]:
        self._read_heartbeats()
        now = time.monotonic()
        finished: list[Finished] = []
        for t in list(self._tasks):
            started = t.started
            outcome: Finished | None = None
            hung = False
            if t.last_beat is None:
                if self.start_timeout is not None and now - t.submitted > self.start_timeout:
                    error = f"trial {t.trial.number} did not start within {self.start_timeout:g} s"
                    outcome = Finished(t.trial, Result.failed(error), self.clock, lost=True)
            elif (
                self.trial_timeout is not None
                and started is not None
                and now - started > self.trial_timeout
            ):
                error = f"timed out after {self.trial_timeout:g} s"
                outcome = Finished(t.trial, Result.failed(error, now - started), self.clock)
            elif self._monitor is not None and now - t.last_beat > self.heartbeat_timeout:
                silent = now - t.last_beat
                error = (
                    f"Ray worker {t.pid} hung: no heartbeat for {silent:.1f} s while running "
                    f"trial {t.trial.number}"
                )
                cost = now - (started or t.submitted)
                outcome = Finished(t.trial, Result.failed(error, cost), self.clock, lost=True)
                hung = True
            if outcome is not None:
                self._cancel(t, kill=hung)
                self._tasks.remove(t)
                self._forget.append(t.token)
                finished.append(outcome)
        return finished

    def _cancel(self, task: _Task, kill: bool = False) -> None:
        """Stop a task and its worker process (Ray's forced cancel kills the worker). With
        `kill`, for a hung worker on this node, it is also killed here at once: a frozen
        process (SIGSTOP) takes Ray seconds to stop, and cannot have moved on to another
        task in the meantime."""
        with contextlib.suppress(Exception):  # already finished or gone: nothing to stop
            self._ray.cancel(task.ref, force=True)
        if kill and task.pid and task.node == self._node and task.pid != os.getpid():
            with contextlib.suppress(OSError):
                os.kill(task.pid, signal.SIGKILL)
