"""Optuna's multi-objective samplers behind the `Strategy` interface: NSGA-II (Deb, Pratap,
Agarwal and Meyarivan, "A Fast and Elitist Multiobjective Genetic Algorithm: NSGA-II",
IEEE TEVC 2002) as `NSGAIISampler`, and multi-objective TPE (Ozaki, Tanigaki, Watanabe
and Onishi, "Multiobjective Tree-Structured Parzen Estimator for Computationally
Expensive Optimization Problems", GECCO 2020) as `TPESampler` on a multi-objective study.

Everything but the objectives is `OptunaSearch`'s (see `tpe.py`): one categorical
parameter per decision, deduplication, and the state as a replayed log of Optuna calls.
Limits reach Optuna as constraint values on the trial (`Trial.set_constraint`, Optuna 5;
`constraints_func` on Optuna 4; a value <= 0 is feasible), which both samplers rank by
Deb's constrained domination, as the archsearch strategies do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES
from archsearch.strategies.multiobjective import ObjectiveReader, parse_limits, parse_objectives
from archsearch.strategies.tpe import OptunaSearch, _quiet

_CONSTRAINTS_ATTR = "archsearch_constraints"


def _constraints(trial: Any) -> Sequence[float]:
    # Read back what `_optuna_tell` stored on the trial before telling it.
    return list(trial.user_attrs.get(_CONSTRAINTS_ATTR, ()))


class OptunaMultiObjective(OptunaSearch):
    """An Optuna multi-objective sampler driving an in-memory study with one direction per
    objective. `objectives` and `constraints` as for `pareto-re` (default: the study's
    score alone, a single-objective Optuna study). A result told to Optuna carries its
    objective values and, with limits, the limit excesses (metric minus bound for "<=")."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        sampler: str = "nsga2",
        objectives: str | Sequence[Sequence[str]] | None = None,
        constraints: str | Sequence[Sequence[Any]] | None = None,
        dedup: bool = True,
        max_resample: int = 20,
        sampler_options: dict[str, Any] | None = None,
    ) -> None:
        if sampler not in ("nsga2", "motpe"):
            raise ConfigError(f"sampler: choose 'nsga2' or 'motpe', not {sampler!r}")
        self.objectives = parse_objectives(objectives)
        self.limits = parse_limits(constraints)
        self.reader = ObjectiveReader(self.objectives, self.limits)
        self.mo_sampler = sampler
        self._trials: dict[int, Any] = {}  # Optuna trials asked, by number (to set attrs)
        # Known results by architecture: {"values", "constraints"} instead of a score.
        self._scores: dict[Architecture, Any] = {}
        # OptunaSearch builds the study through `_new_study` below.
        super().__init__(
            space,
            seed,
            sampler="tpe",
            dedup=dedup,
            max_resample=max_resample,
            sampler_options=sampler_options,
        )

    def _new_study(self) -> Any:
        optuna = self._optuna
        options = dict(self.sampler_options)
        if self.limits and not self._native_constraints():
            options["constraints_func"] = _constraints
        with _quiet(optuna):
            try:
                if self.mo_sampler == "nsga2":
                    sampler = optuna.samplers.NSGAIISampler(seed=self._sampler_seed, **options)
                else:
                    options.setdefault("multivariate", True)
                    sampler = optuna.samplers.TPESampler(seed=self._sampler_seed, **options)
            except TypeError as e:
                raise ConfigError(
                    f"sampler_options for the {self.mo_sampler} sampler: {e}"
                ) from None
            directions = ["maximize" if d == "max" else "minimize" for _, d in self.objectives]
            return optuna.create_study(directions=directions, sampler=sampler)

    def _native_constraints(self) -> bool:
        """Optuna 5 takes constraints on the trial (`Trial.set_constraint`) and deprecates
        `constraints_func`; Optuna 4 has only the latter."""
        return hasattr(self._optuna.trial.Trial, "set_constraint")

    def _optuna_ask(self) -> tuple[int, list[int]]:
        with _quiet(self._optuna):
            trial = self._study.ask(fixed_distributions=self._distributions())
        self._trials[trial.number] = trial
        choices = [int(trial.params[d.name]) for d in self._decisions]
        self._log.append(["ask", trial.number, choices])
        return trial.number, choices

    def _optuna_tell(self, number: int, state: str, value: Any) -> None:
        """`value`: {"values": [...], "constraints": [...]} for a complete trial."""
        states = self._optuna.trial.TrialState
        trial = self._trials.pop(number)
        with _quiet(self._optuna):
            if state == "complete":
                if self.limits and self._native_constraints():
                    for j, excess in enumerate(value["constraints"]):
                        trial.set_constraint(f"limit{j}", float(excess))
                elif self.limits:
                    trial.set_user_attr(_CONSTRAINTS_ATTR, list(value["constraints"]))
                self._study.tell(trial, list(value["values"]))
            else:
                self._study.tell(trial, state=states.FAIL if state == "fail" else states.PRUNED)
        self._log.append(["tell", number, state, value])

    def _told_value(self, result: Result) -> dict[str, list[float]] | None:
        point = self.reader.read(result)
        if point is None:
            return None
        values = [
            v if d == "max" else -v for v, (_, d) in zip(point.values, self.objectives, strict=True)
        ]
        excess = []
        for name, op, bound in self.limits:
            v = float(result.metrics[name])
            excess.append(v - bound if op == "<=" else bound - v)
        return {"values": values, "constraints": excess}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._trials = {}
        # The base class reads scores as floats: restore ours after it.
        super().load_state_dict({**state, "scores": []})
        self._scores = {Architecture.from_json(a): s for a, s in state["scores"]}


@STRATEGIES.register("nsga2")
class NSGAIISearch(OptunaMultiObjective):
    """Optuna's `NSGAIISampler` (population 50 by default: `sampler_options`)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: str | Sequence[Sequence[str]] | None = None,
        constraints: str | Sequence[Sequence[Any]] | None = None,
        dedup: bool = True,
        max_resample: int = 20,
        sampler_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            space, seed, "nsga2", objectives, constraints, dedup, max_resample, sampler_options
        )


@STRATEGIES.register("motpe")
class MOTPESearch(OptunaMultiObjective):
    """Optuna's `TPESampler` on a multi-objective study (multivariate, as `tpe`)."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        objectives: str | Sequence[Sequence[str]] | None = None,
        constraints: str | Sequence[Sequence[Any]] | None = None,
        dedup: bool = True,
        max_resample: int = 20,
        sampler_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            space, seed, "motpe", objectives, constraints, dedup, max_resample, sampler_options
        )
