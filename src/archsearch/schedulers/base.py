"""The scheduler contract: WHEN to start, promote or stop trials. A scheduler returns
decisions; the study carries them out (it never starts or kills anything itself).

A multi-fidelity scheduler runs trials at increasing *resources* (epochs, or an NB201
table's training epochs). Each evaluation is a trial of its own: a promotion is a new
trial of the same architecture at a higher resource whose `parent` is the trial it
continues from (training resumes from the parent's checkpoint; it does not start over).
The scheduler's state is a function of the trials it was shown (`on_start`,
`on_result`), so a study that resumes after a crash rebuilds it by showing the stored
trials again, in their original order.
"""

from __future__ import annotations

from dataclasses import dataclass

from archsearch.core.errors import ConfigError
from archsearch.core.registry import Registry
from archsearch.core.trial import Reporter, Trial, TrialState


@dataclass(frozen=True)
class Start:
    """Start a new architecture (the strategy's next proposal) at `resource`
    (None: the evaluator's own default, e.g. its configured epochs)."""

    resource: float | None = None


@dataclass(frozen=True)
class Promote:
    """Continue trial number `trial`'s architecture up to `resource`."""

    trial: int
    resource: float


Decision = Start | Promote


class Scheduler:
    """Decides what the next free worker does, and whether a running trial goes on.

    `next(can_start)` returns a `Start`, a `Promote`, or None ("nothing until a running
    trial finishes"); `can_start` is False once the budget allows no new architecture
    (promotions of those already started may still go on). The base scheduler starts
    every trial at the evaluator's default resource and never stops one (FIFO).
    """

    #: True for schedulers that run trials at several resources (and so need checkpoints)
    multi_fidelity: bool = False
    #: the largest resource a trial may reach (learning-rate schedules span it)
    max_resource: float | None = None

    def next(self, can_start: bool) -> Decision | None:
        return Start() if can_start else None

    def on_start(self, trial: Trial) -> None:
        """`trial` was created from this scheduler's last decision (or is replayed)."""

    def on_result(self, trial: Trial) -> None:
        """`trial` finished (COMPLETE, PRUNED or FAILED; its score is set)."""

    def reporter(self, trial: Trial) -> Reporter:
        """The reporter the evaluator of `trial` reports intermediate results to."""
        return Reporter()


SCHEDULERS: Registry[type[Scheduler]] = Registry("scheduler")


class RungScheduler(Scheduler):
    """A multi-fidelity scheduler over rungs: `resources` if given (e.g. NB201's 12 and
    200 epochs), else the geometric ladder from `min_resource` to `max_resource` by
    `eta`, which is also the promotion ratio (the best 1/eta of a rung go up)."""

    multi_fidelity = True

    def __init__(
        self,
        min_resource: float = 1,
        max_resource: float = 27,
        eta: float = 3,
        resources: tuple[float, ...] | None = None,
    ) -> None:
        self.resources = rung_resources(min_resource, max_resource, eta, resources)
        self.eta = float(eta)
        self.max_resource = self.resources[-1]


def rung_resources(
    min_resource: float, max_resource: float, eta: float, resources: tuple[float, ...] | None
) -> tuple[float, ...]:
    """The rung levels: `resources` if given (e.g. NB201's (12, 200)), else the
    geometric ladder max_resource * eta^-k down to min_resource (rounded to whole units,
    as epochs are), lowest first."""
    if eta <= 1:
        raise ConfigError(f"eta must be > 1, got {eta}")
    if resources is not None:
        levels = tuple(float(r) for r in resources)
        if not levels or any(r <= 0 for r in levels) or list(levels) != sorted(set(levels)):
            raise ConfigError(f"resources must be positive and increasing, got {resources}")
        return levels
    if not 0 < min_resource <= max_resource:
        raise ConfigError(
            f"resources: need 0 < min_resource <= max_resource, got {min_resource}, {max_resource}"
        )
    levels_desc = [float(max_resource)]
    while levels_desc[-1] / eta >= min_resource * (1 - 1e-9):
        levels_desc.append(float(max(1, round(levels_desc[-1] / eta))))
    return tuple(sorted(set(levels_desc)))


def ranked(trials: list[Trial]) -> list[Trial]:
    """COMPLETE trials, best score first (earliest first among equals)."""
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.score is not None]
    return sorted(done, key=lambda t: (-(t.score or 0.0), t.number))
