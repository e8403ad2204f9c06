"""Local parallel execution: one long-lived worker process per slot.

Each slot is a worker process started with the "spawn" (or "forkserver") method, never
"fork": a forked child inherits the driver's PyTorch thread pools and locks in whatever
state they were in, which can deadlock it. The driver and a worker talk over a pipe; the
worker only ever returns results, the driver alone writes the study database.

Faults, and how each surfaces in the study:

* a worker that dies mid-trial (killed, crashed, out of memory) is seen through its
  process sentinel; its trial comes back `lost` (the study retries it, then records it
  FAILED) and a fresh worker takes the slot;
* a worker that stops sending its heartbeat (a thread that writes to the pipe every
  `heartbeat_interval` seconds) for `heartbeat_timeout` seconds is hung (stopped, or stuck
  in native code that holds the GIL): it is killed and its trial comes back `lost`;
* a trial that runs past `trial_timeout` is killed with its worker and recorded FAILED
  ("timed out after ... s"): running it again would only time out again;
* a trial that raises is FAILED with its error text, as in the inline executor.

An evaluator is large (a tabular benchmark, a dataset it loaded) and the same for every
trial, so it travels once per worker, not with every job: the driver pickles it once to
a file in the executor's folder, written atomically, and each worker loads it the first
time it needs it after checking the file's SHA-256, then keeps it (and whatever the
evaluator caches, such as its prepared tensors) for the trials that follow.

Jobs and evaluators are pickled with cloudpickle, which sends classes and functions
defined in `__main__` or a notebook by value: a worker process started by `spawn` has
no such module to import them from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import weakref
from multiprocessing import connection, get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import cloudpickle

from archsearch.core.errors import ArchsearchError, ConfigError
from archsearch.core.trial import Result, Trial
from archsearch.execution.base import EXECUTORS, Executor, Finished, Job

#: environment variables that size native thread pools (OpenMP, MKL, OpenBLAS, ...)
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


class WorkerStartError(ArchsearchError):
    """Worker processes die before they are ready, again and again (a broken install,
    an import error in the evaluator's module): retrying trials would never end."""


# --- the worker process -------------------------------------------------------------------------
def limit_threads(n: int) -> None:
    """Size this process's native thread pools to `n`: the environment for libraries not
    yet loaded, and torch's intra-op pool if torch already is (it may have been imported
    while the worker unpickled its job, before the environment could matter)."""
    for name in THREAD_ENV:
        os.environ[name] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def describe_error(e: BaseException) -> str:
    """An exception as one line: type, message and the innermost frame."""
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" (at {where.name}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {e}{at}"


def write_payload(path: str | os.PathLike[str], obj: Any) -> str:
    """Pickle `obj` to `path` atomically (a temporary file beside it, then `os.replace`,
    so no reader ever sees half a file) and return the bytes' SHA-256, to record and
    check when the file is loaded (`load_payload`)."""
    data = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return hashlib.sha256(data).hexdigest()


def load_payload(path: str | os.PathLike[str], sha256: str) -> Any:
    """Unpickle a file written by `write_payload`, refusing one whose bytes are not the
    ones hashed (a truncated or corrupted file must fail loudly, not load as garbage)."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"payload {Path(path).name} is corrupt: sha256 {digest[:12]}..., "
            f"expected {sha256[:12]}..."
        )
    return pickle.loads(data)


def _worker_main(conn: Connection, threads: int, heartbeat_interval: float) -> None:
    """A worker's life: announce itself, then run jobs until told to stop or the driver
    disappears. A heartbeat thread proves the process is alive and not frozen; if the
    driver is gone (the pipe breaks) the worker exits instead of running on as an
    orphan."""
    limit_threads(threads)
    lock = threading.Lock()  # the main thread and the heartbeat thread share the pipe

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            conn.send(message)

    def beat() -> None:
        parent = os.getppid()
        while True:
            time.sleep(heartbeat_interval)
            try:
                send(("beat",))
            except (OSError, ValueError):
                os._exit(1)
            if os.getppid() != parent:  # re-parented: the driver died
                os._exit(1)

    threading.Thread(target=beat, name="archsearch-heartbeat", daemon=True).start()
    send(("ready", os.getpid()))
    payloads: dict[str, tuple[str, str]] = {}
    evaluators: dict[str, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        if message[0] == "payload":
            _, key, path, sha256 = message
            payloads[key] = (path, sha256)
            continue
        _, number, data, key = message
        start = time.perf_counter()
        try:
            limit_threads(threads)  # an evaluator may have changed it
            job = pickle.loads(data)  # here, so a job that cannot load fails alone
            if key is not None:
                if key not in evaluators:
                    evaluators[key] = load_payload(*payloads[key])
                job = dataclasses.replace(job, evaluator=evaluators[key])
            result = job()
            if not isinstance(result, Result):
                raise TypeError(f"a job returned {type(result).__name__}, not a Result")
        except BaseException as e:  # SystemExit, KeyboardInterrupt: still one trial's failure
            result = Result.failed(describe_error(e), cost=time.perf_counter() - start)
        try:
            send(("done", number, result))
        except (OSError, ValueError):
            break
        except Exception as e:  # the result would not pickle
            send(("done", number, Result.failed(f"result could not be sent back: {e}")))


# --- the driver side ----------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    started: float  # driver's monotonic clock
    pid: int | None = None  # known once the worker says it is ready
    last_seen: float = 0.0
    trial: Trial | None = None
    job_started: float = 0.0
    sent_payloads: set[str] = dataclasses.field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.pid is not None


def _kill(process: BaseProcess) -> int | None:
    """SIGKILL (a stopped process ignores SIGTERM until continued) and reap."""
    if process.is_alive():
        process.kill()
    process.join(timeout=5.0)
    return process.exitcode


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _cleanup(workers: list[_Worker], folder: str) -> None:
    """Stop every worker: ask, then kill what is left. Runs at shutdown, or when the
    executor is garbage collected or the interpreter exits without a shutdown."""
    for w in workers:
        with contextlib.suppress(OSError, ValueError):
            w.conn.send(None)
    deadline = time.monotonic() + 2.0
    for w in workers:
        w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        _kill(w.process)
        w.conn.close()
    workers.clear()
    shutil.rmtree(folder, ignore_errors=True)


class WallClock:
    """An executor clock of wall seconds that the study may set: `clock = t` makes it
    read t now and go on from there (a resumed study continues from its last clock)."""

    _origin: float = 0.0  # clock = perf_counter() - origin

    @property
    def clock(self) -> float:
        return time.perf_counter() - self._origin

    @clock.setter
    def clock(self, value: float) -> None:
        self._origin = time.perf_counter() - float(value)


@EXECUTORS.register("pool")
class ProcessPoolExecutor(WallClock, Executor):
    """Runs trials in `n_workers` local worker processes, `threads_per_worker` native
    threads each (torch's intra-op pool and the OpenMP/BLAS pools).

    The clock is wall seconds since the executor started, shifted so that the study can
    set it (`executor.clock = t` at the start of `optimize`, to go on from a resumed
    study's last clock). Workers are started at once and live until `shutdown()` (or the
    `with` block ends); a worker replaced after a fault is started fresh.

    Args:
        n_workers: worker processes (trials in flight at once).
        threads_per_worker: native threads per worker.
        trial_timeout: seconds a trial may run before it is killed and recorded FAILED
            (None: no limit).
        heartbeat_interval: seconds between a worker's heartbeats.
        heartbeat_timeout: seconds of silence after which a busy worker is hung.
        startup_timeout: seconds a new worker may take to start (imports included).
        start_method: "spawn" or "forkserver".

    Workers are daemonic processes, so an evaluator cannot start processes of its own
    inside them (a DataLoader with `num_workers > 0`, say): use threads there.
    """

    def __init__(
        self,
        n_workers: int = 2,
        *,
        threads_per_worker: int = 1,
        trial_timeout: float | None = None,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 30.0,
        startup_timeout: float = 120.0,
        start_method: str = "spawn",
    ) -> None:
        if int(n_workers) != n_workers or n_workers < 1:
            raise ConfigError(f"n_workers must be a whole number >= 1, got {n_workers!r}")
        if int(threads_per_worker) != threads_per_worker or threads_per_worker < 1:
            raise ConfigError(
                f"threads_per_worker must be a whole number >= 1, got {threads_per_worker!r}"
            )
        if trial_timeout is not None and not trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be > 0 seconds, got {trial_timeout}")
        if not 0 < heartbeat_interval < heartbeat_timeout:
            raise ConfigError(
                "heartbeat_timeout must exceed heartbeat_interval (both > 0), got "
                f"{heartbeat_timeout} and {heartbeat_interval}"
            )
        if start_method not in ("spawn", "forkserver"):
            # "fork" copies the driver's torch thread pools mid-state: it can deadlock.
            raise ConfigError(f"start_method: choose 'spawn' or 'forkserver', not {start_method!r}")
        self.n_workers = int(n_workers)
        self.threads_per_worker = int(threads_per_worker)
        self.trial_timeout = trial_timeout
        self.heartbeat_interval = float(heartbeat_interval)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.startup_timeout = float(startup_timeout)
        self._context = (
            get_context("spawn") if start_method == "spawn" else get_context("forkserver")
        )
        self.clock = 0.0
        self._folder = tempfile.mkdtemp(prefix="archsearch-pool-")
        self._payloads: dict[int, tuple[Any, str, str, str]] = {}  # id -> (obj, key, path, sha)
        self._workers: list[_Worker] = []
        self._start_failures = 0  # consecutive workers that died before they were ready
        self._closed = False
        # Workers are stopped even if shutdown() is never called.
        self._finalizer = weakref.finalize(self, _cleanup, self._workers, self._folder)
        for _ in range(self.n_workers):
            self._workers.append(self._start_worker())

    # --- the contract ------------------------------------------------------------------------
    def free_slots(self) -> int:
        return 0 if self._closed else sum(w.trial is None for w in self._workers)

    def pending(self) -> int:
        return sum(w.trial is not None for w in self._workers)

    def submit(self, trial: Trial, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the process pool has been shut down")
        worker = next((w for w in self._workers if w.trial is None), None)
        if worker is None:
            raise RuntimeError("submit() with no free worker: check free_slots() first")
        key = None
        messages: list[tuple[Any, ...]] = []
        try:
            evaluator = evaluator_of(job)
            if evaluator is not None:
                _, key, path, sha256 = self._payload(evaluator)
                if key not in worker.sent_payloads:
                    messages.append(("payload", key, path, sha256))
                job = dataclasses.replace(job, evaluator=None)  # type: ignore[type-var]
            data = cloudpickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise ConfigError(
                f"trial {trial.number}: its job cannot be sent to a worker process ({e}); "
                "the evaluator, the architecture and the scheduler's reporter must pickle"
            ) from e
        worker.trial = trial
        worker.job_started = time.monotonic()
        try:
            for message in messages:
                worker.conn.send(message)
            worker.conn.send(("run", trial.number, data, key))
        except OSError:
            return  # the worker just died: wait() sees its sentinel and reports the trial lost
        if key is not None:
            worker.sent_payloads.add(key)

    def wait(self) -> list[Finished]:
        """Block until at least one trial finishes, is lost or times out."""
        while self.pending() > 0:
            finished = self._poll(self._next_check())
            finished += self._check_deadlines()
            if finished:
                return finished
        return []

    def shutdown(self) -> None:
        """Stop the workers (a running trial is abandoned: it stays RUNNING in storage and
        runs again on resume) and delete the payload files."""
        self._closed = True
        self._finalizer()

    def __enter__(self) -> ProcessPoolExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until every worker has started (its imports done), e.g. so that a timing
        leaves the start-up out. Only while no trial is pending."""
        if self.pending():
            raise RuntimeError("wait_ready() while trials are pending: use wait()")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not all(w.ready for w in self._workers):
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                raise TimeoutError(f"workers not ready after {timeout:g} s")
            self._poll(left)
            self._check_deadlines()

    @property
    def worker_pids(self) -> list[int | None]:
        """The worker processes' ids (None for one still starting)."""
        return [w.pid for w in self._workers]

    # --- workers -------------------------------------------------------------------------------
    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(theirs, self.threads_per_worker, self.heartbeat_interval),
            name="archsearch-worker",
            daemon=True,
        )
        process.start()
        theirs.close()  # the child holds its end: EOF here means the child is gone
        now = time.monotonic()
        return _Worker(process, ours, started=now, last_seen=now)

    def _replace(self, worker: _Worker) -> None:
        index = self._workers.index(worker)
        worker.conn.close()
        if not worker.ready:
            self._start_failures += 1
            if self._start_failures >= 3:
                raise WorkerStartError(
                    f"{self._start_failures} worker processes in a row died while starting "
                    f"({_exit_text(worker.process.exitcode)}); see their error output above"
                )
        self._workers[index] = self._start_worker()

    def _payload(self, evaluator: Any) -> tuple[Any, str, str, str]:
        """Pickle an evaluator once, to a file written atomically; keyed by identity (the
        object is held, so its id is not reused while the executor lives)."""
        entry = self._payloads.get(id(evaluator))
        if entry is None:
            key = str(len(self._payloads))
            path = os.path.join(self._folder, f"evaluator-{key}.pkl")
            sha256 = write_payload(path, evaluator)
            entry = (evaluator, key, path, sha256)
            self._payloads[id(evaluator)] = entry
        return entry

    def _next_check(self) -> float:
        """Seconds until the next deadline (a timeout or a heartbeat limit) could pass."""
        now = time.monotonic()
        limits = [self.heartbeat_interval]
        for w in self._workers:
            if not w.ready:
                limits.append(w.started + self.startup_timeout - now)
            else:
                limits.append(w.last_seen + self.heartbeat_timeout - now)
                if w.trial is not None and self.trial_timeout is not None:
                    limits.append(self._trial_start(w) + self.trial_timeout - now)
        return max(0.0, min(limits))

    @staticmethod
    def _trial_start(w: _Worker) -> float:
        # A trial sent to a worker still starting begins when the worker is ready (for a
        # ready worker, `started` is when it said so).
        return max(w.job_started, w.started)

    def _poll(self, timeout: float) -> list[Finished]:
        waitables: list[Any] = [w.conn for w in self._workers]
        waitables += [w.process.sentinel for w in self._workers]
        ready = set(connection.wait(waitables, timeout))
        finished: list[Finished] = []
        for w in list(self._workers):
            if w.conn in ready:
                done, alive = self._drain(w)
                finished += done
                if not alive:
                    finished += self._lost(w, _exit_text(_kill(w.process)))
                    continue
            if w.process.sentinel in ready:
                done, _ = self._drain(w)  # a result sent just before dying still counts
                finished += done
                finished += self._lost(w, _exit_text(_kill(w.process)))
        return finished

    def _drain(self, w: _Worker) -> tuple[list[Finished], bool]:
        """Read every message waiting from `w`; False once its pipe is closed."""
        finished: list[Finished] = []
        try:
            while w.conn.poll():
                message = w.conn.recv()
                w.last_seen = time.monotonic()
                if message[0] == "ready":
                    if w.pid is None:
                        w.started = w.last_seen  # a queued trial's time starts now
                    w.pid = message[1]
                    self._start_failures = 0
                elif message[0] == "done" and w.trial is not None and w.trial.number == message[1]:
                    finished.append(Finished(w.trial, message[2], self.clock))
                    w.trial = None
        except (EOFError, OSError):
            return finished, False
        return finished, True

    def _lost(self, w: _Worker, why: str) -> list[Finished]:
        """The worker is gone: its trial (if any) is lost, and a new worker takes the slot."""
        trial = w.trial
        w.trial = None
        out = []
        if trial is not None and not self._closed:
            error = f"worker process {w.pid or '?'} died ({why}) while running trial {trial.number}"
            cost = time.monotonic() - self._trial_start(w)
            out.append(Finished(trial, Result.failed(error, cost), self.clock, lost=True))
        if not self._closed:
            self._replace(w)
        return out

    def _check_deadlines(self) -> list[Finished]:
        """Kill workers past their startup time, their heartbeat limit or their trial's
        timeout (a trial's time counts from when its worker was ready)."""
        now = time.monotonic()
        finished: list[Finished] = []
        for w in list(self._workers):
            if not w.ready:
                if now - w.started > self.startup_timeout:
                    _kill(w.process)
                    finished += self._lost(w, f"not started after {self.startup_timeout:g} s")
            elif now - w.last_seen > self.heartbeat_timeout:
                # Anything queued in the pipe first: it may hold the result and a beat.
                done, alive = self._drain(w)
                finished += done
                silent = time.monotonic() - w.last_seen
                if not alive or silent > self.heartbeat_timeout:
                    _kill(w.process)
                    finished += self._lost(w, f"hung: no heartbeat for {silent:.1f} s")
            elif (
                w.trial is not None
                and self.trial_timeout is not None
                and now - self._trial_start(w) > self.trial_timeout
            ):
                trial, cost = w.trial, now - self._trial_start(w)
                _kill(w.process)
                w.trial = None
                error = f"timed out after {self.trial_timeout:g} s"
                finished.append(Finished(trial, Result.failed(error, cost), self.clock))
                self._replace(w)
        return finished


def evaluator_of(job: Job) -> Any | None:
    """The evaluator a dataclass job carries (the study's `TrialJob`), to send separately."""
    if not dataclasses.is_dataclass(job) or isinstance(job, type):
        return None
    if any(f.name == "evaluator" for f in dataclasses.fields(job)):
        return getattr(job, "evaluator", None)
    return None
