"""The NAS-Bench-201 benchmark scripts' tie rule and the query-budget protocol."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from nb201_protocol import Job, best_cells, run_chunk, uniform
from nb201_queries import ceiling, query_chunk

from archsearch.benchmarks.nb201 import NB201Table
from archsearch.core.trial import Trial, TrialState
from archsearch.space import NB201Space


def _trial(number: int, index: int, score: float | None, resource: float | None = None) -> Trial:
    state = TrialState.COMPLETE if score is not None else TrialState.FAILED
    arch = NB201Space().from_index(index)
    return Trial(number, arch, 0, state, score=score, resource=resource)


def test_best_cells_are_the_distinct_tied_cells_in_the_order_asked() -> None:
    space = NB201Space()
    trials = [_trial(3, 7, 61.32), _trial(0, 5, 60.0), _trial(1, 9, 61.32), _trial(2, 4, None)]
    trials.append(_trial(4, 9, 61.32))  # the same cell again counts once
    pruned = _trial(5, 11, 99.0)
    pruned.state = TrialState.PRUNED  # not complete: never the best, as in Study.best
    trials.append(pruned)
    assert best_cells(trials, space) == [9, 7]
    # under a scheduler only the highest resource reached competes
    mixed = [_trial(0, 1, 90.0, 12.0), _trial(1, 2, 80.0, 200.0), _trial(2, 3, 80.0, 200.0)]
    assert best_cells(mixed, space) == [2, 3]


def test_uniform_rule_is_the_mean_over_tied_cells() -> None:
    assert uniform([72.28, 73.09]) == pytest.approx(72.685)
    assert uniform([94.37]) == 94.37


def test_protocol_row_credits_the_uniform_rule_and_keeps_first_found() -> None:
    (row,) = run_chunk(Job("ls", (), "cifar100", (0,)))
    table = NB201Table()
    assert row["tied"] >= 1
    for ds in ("cifar10", "cifar100", "ImageNet16-120"):
        assert min(table.column(ds, 200, "test_acc")) <= row[f"first/{ds}"] <= 100
        if row["tied"] == 1:
            assert row[f"test/{ds}"] == row[f"first/{ds}"]


def test_query_chunk_reads_every_budget_off_one_run() -> None:
    (row,) = query_chunk(Job("random", (), "cifar10", (3,)), {"random": 50}, (25, 50, 100))
    assert row["queries"] == 50
    assert "test@100" not in row  # beyond the run's queries
    assert row["regret@50"] <= row["regret@25"]
    table = NB201Table()
    valid = table.column("cifar10", 200, "valid_mean")
    best, top_test = ceiling("cifar10")
    assert best == valid.max()
    assert top_test == statistics.fmean(table.column("cifar10", 200, "test_acc")[valid == best])
    assert row["optimum@50"] == (row["regret@50"] == 0.0)
