"""The study: ask -> run -> report -> tell -> store, with storage the single source of truth.

This is the only module that knows every part (space, strategy, evaluator, scheduler,
executor, storage). A study resumes from its storage after any crash: the strategy is
rebuilt from the same seed and the stored asks and tells are replayed in their original
order (checking that each replayed ask proposes the stored architecture), trials left
RUNNING are run again with the same number and seed, and no finished trial is repeated.
"""

from __future__ import annotations

import math
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archsearch.core.errors import ConfigError, DeterminismError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Budget, Result, Trial, TrialState
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.execution.base import Executor, Finished
from archsearch.execution.inline import InlineExecutor
from archsearch.schedulers.base import Promote, Scheduler
from archsearch.schedulers.fifo import FIFOScheduler
from archsearch.space.base import SearchSpace
from archsearch.storage.base import Storage
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.base import Strategy
from archsearch.study.selection import best_trial, pareto_front

Callback = Callable[["Study", Trial], None]
Constraint = Callable[[Architecture], "str | None"]  # a violation message, or None
MAX_CONSECUTIVE_REJECTIONS = 1000
_MASK64 = (1 << 64) - 1


def trial_seed(study_seed: int, number: int) -> int:
    """A well-mixed 31-bit seed per trial (SplitMix64 of the pair): re-running a trial
    after a crash gives it the same seed, and neighbouring trials get unrelated ones."""
    z = (study_seed * 0x9E3779B97F4A7C15 + number + 1) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & 0x7FFFFFFF


def run_job(evaluator: Evaluator, arch: Architecture, ctx: TrialContext) -> Result:
    """Evaluate, turning any exception into a FAILED result with its error text."""
    start = time.perf_counter()
    try:
        return evaluator.evaluate(arch, ctx)
    except Exception as e:  # a failing trial must never stop the search
        where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        at = f" (at {where.name}:{where.lineno})" if where else ""
        return Result.failed(f"{type(e).__name__}: {e}{at}", cost=time.perf_counter() - start)


@dataclass(frozen=True)
class TrialJob:
    """One evaluation, as a picklable callable: executors may run it in another process
    (a process pool or a Ray worker), where it needs nothing from the driver."""

    evaluator: Evaluator
    arch: Architecture
    ctx: TrialContext

    def __call__(self) -> Result:
        return run_job(self.evaluator, self.arch, self.ctx)


class Study:
    """A search: a space, a strategy and a storage, optimised against an evaluator.

    `metric` and `mode` name the objective; by default the evaluator's. Strategies see
    `result.score`, the metric made "higher is better".
    """

    def __init__(
        self,
        space: SearchSpace,
        strategy: Strategy,
        storage: Storage | None = None,
        *,
        seed: int = 0,
        metric: str | None = None,
        mode: str | None = None,
        objectives: Sequence[tuple[str, str]] | None = None,
        constraints: Sequence[Constraint] = (),
        checkpoint_dir: str | Path | None = None,
    ) -> None:
        if mode not in (None, "max", "min"):
            raise ConfigError(f"mode: choose 'max' or 'min', not {mode!r}")
        if objectives is not None:
            objectives = [(str(m), str(d)) for m, d in objectives]
            bad = [d for _, d in objectives if d not in ("max", "min")]
            if bad or len(objectives) < 2:
                raise ConfigError("objectives: give two or more (metric, 'max' | 'min') pairs")
            if metric is None and mode is None:  # the strategy optimises the first one
                metric, mode = objectives[0]
        self.objectives = objectives
        self.constraints = list(constraints)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self.space = space
        self.strategy = strategy
        self.storage = storage if storage is not None else InMemoryStorage()
        self.seed = seed
        self.metric = metric
        self.mode = mode
        self._trials: list[Trial] = []
        self._seq = 0
        self._restore()

    # --- resume ---------------------------------------------------------------------------
    def _restore(self) -> None:
        """Rebuild the strategy's state by replaying the stored asks and tells in order
        (a scheduler's promotions were never asked; see `_tells_strategy`)."""
        trials = self.storage.trials()
        events: list[tuple[int, str, Trial]] = [(t.ask_seq, "ask", t) for t in trials]
        events += [(t.tell_seq, "tell", t) for t in trials if t.tell_seq is not None]
        events.sort(key=lambda e: e[0])
        for _, kind, t in events:
            if kind == "ask" and not t.promoted:
                arch = self.strategy.ask()
                if arch != t.arch:
                    raise DeterminismError(
                        f"resume: strategy proposed {arch and self.space.describe(arch)!r} "
                        f"where trial {t.number} stored {self.space.describe(t.arch)!r}; "
                        "the study's config or the strategy's code changed"
                    )
            elif kind == "tell" and self._tells_strategy(t):
                self.strategy.tell(t.arch, t.result())
        self._trials = trials
        self._events = events
        self._n_rejected = sum(t.state is TrialState.REJECTED for t in trials)
        self._n_promoted = sum(t.promoted for t in trials)
        self._seq = 1 + max((e[0] for e in events), default=-1)

    def _tells_strategy(self, trial: Trial) -> bool:
        """A strategy hears every trial it asked; a scheduler's promotions only if it
        models several fidelities (`Strategy.multi_fidelity`, e.g. BOHB)."""
        return not trial.promoted or self.strategy.multi_fidelity

    def _replay_scheduler(self, scheduler: Scheduler) -> None:
        """Show a scheduler the stored trials in their original order (resume)."""
        for _, kind, t in self._events:
            if t.state is TrialState.REJECTED:
                continue
            if kind == "ask":
                scheduler.on_start(t)
            else:
                scheduler.on_result(t)
        self._events = []

    # --- the loop ---------------------------------------------------------------------------
    def optimize(
        self,
        evaluator: Evaluator,
        *,
        budget: Budget | str,
        executor: Executor | None = None,
        scheduler: Scheduler | None = None,
        callbacks: Sequence[Callback] = (),
        max_retries: int = 1,
    ) -> None:
        """Search until the budget (trials, seconds on the executor's clock, or both) is
        spent or the strategy has nothing left to propose. Trials left RUNNING by an
        earlier crash run first. A trial whose worker dies is run again (same number and
        seed) up to `max_retries` times, then recorded FAILED.

        `scheduler` decides what each free worker does: FIFO (the default) starts the
        strategy's next proposal; a multi-fidelity scheduler (successive halving,
        Hyperband, ASHA) starts proposals at a low resource and promotes the best to
        higher ones, each promotion a trial of its own that continues from its parent's
        checkpoint. A trial budget counts architectures (promotions are free of it); a
        time budget counts everything. A scheduler belongs to one study: on resume it is
        rebuilt by replaying the stored trials to it."""
        budget = budget if isinstance(budget, Budget) else Budget.parse(budget)
        executor = executor if executor is not None else InlineExecutor()
        scheduler = scheduler if scheduler is not None else FIFOScheduler()
        if self.metric is None:
            self.metric = evaluator.metric
        if self.mode is None:
            self.mode = evaluator.mode
        executor.clock = max(
            [t.clock_end for t in self._trials if t.clock_end is not None], default=0.0
        )
        self._replay_scheduler(scheduler)
        checkpoints = self._checkpoint_dir() if scheduler.multi_fidelity else None
        # Trials a crash left RUNNING run again first, with their number and seed.
        requeue = [t for t in self._trials if t.state is TrialState.RUNNING]
        retries: dict[int, int] = {}
        rejections = 0
        out_of_time = no_proposals = False
        while True:
            while executor.free_slots() > 0:
                if requeue:
                    trial = requeue.pop(0)
                    trial.clock_start, trial.started_at = executor.clock, time.time()
                    self.storage.requeue_trial(trial)
                else:
                    out_of_time = out_of_time or (
                        budget.seconds is not None and executor.clock >= budget.seconds
                    )
                    if out_of_time:
                        break
                    can_start = not no_proposals and not budget.exhausted(
                        self._n_counted(), executor.clock
                    )
                    decision = scheduler.next(can_start)
                    if decision is None:
                        break
                    if isinstance(decision, Promote):
                        parent = self._trials[decision.trial]
                        trial = self._new_trial(
                            parent.arch, executor.clock, decision.resource, parent.number
                        )
                    else:
                        arch = self.strategy.ask()
                        if arch is None:  # nothing to propose until a pending trial finishes
                            no_proposals = executor.pending() == 0
                            break
                        trial = self._new_trial(arch, executor.clock, decision.resource)
                        violation = self._violation(arch)
                        if violation is not None:
                            rejected = Result(TrialState.REJECTED, {}, 0.0, error=violation)
                            self._finish(Finished(trial, rejected, executor.clock), callbacks)
                            rejections += 1
                            if rejections >= MAX_CONSECUTIVE_REJECTIONS:
                                raise ConfigError(
                                    f"constraints rejected {rejections} architectures in a row "
                                    f"(last: {violation}); loosen them"
                                )
                            continue
                        rejections = 0
                    scheduler.on_start(trial)
                if not trial.promoted:
                    self.strategy.pending[trial.number] = trial.arch
                executor.submit(
                    trial,
                    TrialJob(evaluator, trial.arch, self._context(trial, scheduler, checkpoints)),
                )
            if executor.pending() == 0:
                break
            for done in executor.wait():
                if done.lost and retries.get(done.trial.number, 0) < max_retries:
                    retries[done.trial.number] = retries.get(done.trial.number, 0) + 1
                    requeue.append(done.trial)
                    continue
                self.strategy.pending.pop(done.trial.number, None)
                self._finish(done, callbacks)
                scheduler.on_result(done.trial)

    def _context(
        self, trial: Trial, scheduler: Scheduler, checkpoints: Path | None
    ) -> TrialContext:
        parent = None if trial.parent is None else self._trials[trial.parent]
        return TrialContext(
            trial.number,
            trial.seed,
            scheduler.reporter(trial),
            resource=trial.resource,
            horizon=scheduler.max_resource,
            parent=trial.parent,
            parent_resource=None if parent is None else parent.resource,
            checkpoint_dir=None if checkpoints is None else str(checkpoints),
        )

    def _checkpoint_dir(self) -> Path:
        """Where trials keep checkpoints a promotion continues from: `checkpoint_dir`,
        else a `checkpoints` folder beside a study database, else a temporary folder."""
        if self.checkpoint_dir is None:
            db = getattr(self.storage, "path", None)
            if isinstance(db, Path):
                self.checkpoint_dir = db.parent / "checkpoints"
            else:  # removed with the study (or at exit): nothing outlives what can use it
                self._temporary = tempfile.TemporaryDirectory(prefix="archsearch-checkpoints-")
                self.checkpoint_dir = Path(self._temporary.name)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return self.checkpoint_dir

    def _n_counted(self) -> int:
        """Trials that count against a trial budget, i.e. the architectures tried: all
        but those a constraint refused and a scheduler's promotions."""
        return len(self._trials) - self._n_rejected - self._n_promoted

    def _violation(self, arch: Architecture) -> str | None:
        for constraint in self.constraints:
            message = constraint(arch)
            if message is not None:
                return f"constraint: {message}"
        return None

    def _new_trial(
        self,
        arch: Architecture,
        clock: float,
        resource: float | None = None,
        parent: int | None = None,
    ) -> Trial:
        number = len(self._trials)
        trial = Trial(
            number=number,
            arch=arch,
            seed=trial_seed(self.seed, number),
            clock_start=clock,
            ask_seq=self._next_seq(),
            started_at=time.time(),
            resource=resource,
            parent=parent,
        )
        self._n_promoted += trial.promoted
        self.storage.add_trial(trial)
        self._trials.append(trial)
        return trial

    def _finish(self, done: Finished, callbacks: Sequence[Callback]) -> None:
        trial, result = done.trial, self._scored(done.result)
        if trial.resource is not None and "resource" not in result.metrics:
            # a multi-fidelity strategy (BOHB) models each resource apart
            result = Result(
                result.state,
                {**result.metrics, "resource": trial.resource},
                result.cost,
                result.error,
                result.score,
            )
        trial.state, trial.metrics, trial.score = result.state, result.metrics, result.score
        trial.cost, trial.error = result.cost, result.error
        trial.clock_end, trial.finished_at = done.clock_end, time.time()
        trial.tell_seq = self._next_seq()
        self._n_rejected += trial.state is TrialState.REJECTED
        self.storage.finish_trial(trial)
        if self._tells_strategy(trial):
            self.strategy.tell(trial.arch, result)
        for callback in callbacks:
            callback(self, trial)

    def _scored(self, result: Result) -> Result:
        if result.state is not TrialState.COMPLETE:
            return result
        value = result.metrics.get(self.metric or "")
        if value is None:
            return Result.failed(f"the evaluator returned no {self.metric!r} metric", result.cost)
        if not math.isfinite(value):
            return Result(
                TrialState.FAILED, result.metrics, result.cost, f"{self.metric} is {value}"
            )
        return result.with_score(value if self.mode == "max" else -value)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq - 1

    # --- results --------------------------------------------------------------------------
    @property
    def trials(self) -> list[Trial]:
        return list(self._trials)

    def completed(self) -> list[Trial]:
        return [t for t in self._trials if t.state is TrialState.COMPLETE]

    def best(self) -> Trial:
        """The best complete trial by the one rule of `archsearch.study.selection.ranked`
        (highest resource reached, Pareto front first with several objectives, then
        score, then the earliest)."""
        best = best_trial(self._trials, self.objectives)
        if best is None:
            raise ValueError("the study has no complete trial yet")
        return best

    def pareto_front(self, objectives: Sequence[tuple[str, str]] | None = None) -> list[Trial]:
        """Complete trials no other complete trial dominates, for objectives given as
        (metric, "max" | "min") pairs, e.g. [("val_acc", "max"), ("params", "min")];
        by default the study's own `objectives` (its multi-objective mode)."""
        objectives = objectives if objectives is not None else self.objectives
        if not objectives:
            raise ConfigError("pareto_front: give objectives, or create the study with them")
        return pareto_front(self.completed(), objectives)

    def trials_table(self) -> list[dict[str, Any]]:
        """One flat row per trial (number, state, score, cost, clock, metrics,
        architecture): ready for `pandas.DataFrame(rows)` or a CSV writer."""
        return [
            {
                "number": t.number,
                "state": t.state.value,
                "score": t.score,
                "cost": t.cost,
                "clock_end": t.clock_end,
                **t.metrics,
                "error": t.error,
                "arch": self.space.describe(t.arch),
            }
            for t in self._trials
        ]

    def summary(self) -> dict[str, Any]:
        counts = {s.value: 0 for s in TrialState}
        for t in self._trials:
            counts[t.state.value] += 1
        return {"trials": len(self._trials), **counts}
