"""The shipped NAS-Bench-201 tables against figures documented with the source data."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.benchmarks import NB201Table, dataset_name
from archsearch.core.errors import ConfigError
from archsearch.estimation import NB201Evaluator, Reporter, TrialContext
from archsearch.space import NB201Space

TABLE = NB201Table()
SPACE = NB201Space()


def test_known_optima_and_landmark_cells() -> None:
    assert TABLE.test_acc(6111, "cifar10") == pytest.approx(94.3733, abs=1e-4)
    assert TABLE.valid_acc(6111, "cifar10") == pytest.approx(91.6067, abs=1e-4)
    assert int(np.argmax(TABLE.column("cifar100", 200, "test_acc"))) == 9930
    assert int(np.argmax(TABLE.column("ImageNet16-120", 200, "test_acc"))) == 857
    # The all-skip cell DARTS collapses to.
    assert TABLE.test_acc(1835, "cifar10") == pytest.approx(54.30, abs=0.01)
    assert TABLE.best_valid("cifar10", 12) == pytest.approx(84.89, abs=0.01)
    assert int(np.argmax(TABLE.column("cifar10", 12, "valid_mean"))) == 13714


def test_seeds_cost_and_aliases() -> None:
    seeds = TABLE.column("cifar10", 200, "valid_seeds")
    assert (np.isfinite(seeds).sum(axis=1) == 3).sum() == 8169
    # the mean and the seeds are each rounded to the table's 1e-4 points
    assert TABLE.valid_acc(0, "cifar10") == pytest.approx(np.nanmean(seeds[0]), abs=1e-4)
    draws = {TABLE.valid_acc(0, "cifar10", 200, np.random.default_rng(s)) for s in range(50)}
    assert draws == set(seeds[0][np.isfinite(seeds[0])])
    assert TABLE.train_time_s(0, "cifar10", 12) == pytest.approx(1444.2186 * 12 / 200)
    assert dataset_name("imagenet16-120") == "ImageNet16-120"
    with pytest.raises(ConfigError, match="not in NAS-Bench-201"):
        dataset_name("svhn")
    with pytest.raises(ConfigError, match="12 and 200"):
        TABLE.test_acc(0, "cifar10", 50)
    with pytest.raises(ConfigError, match="200 epochs only"):
        TABLE.valid_acc(0, "cifar10", 12, np.random.default_rng(0))


def test_tabular_evaluator_metrics_and_cost() -> None:
    ev = NB201Evaluator("cifar100", fidelity=12)
    arch = SPACE.from_index(9930)
    r = ev.evaluate(arch, TrialContext(0, 0, Reporter()))
    assert r.metrics["val_acc"] == TABLE.valid_acc(9930, "cifar100", 12)
    assert r.metrics["final_test_acc"] == pytest.approx(73.5133, abs=1e-4)
    assert r.cost == pytest.approx(TABLE.train_time_s(9930, "cifar100", 12))
    noisy = NB201Evaluator("cifar10", fidelity=200, seed="random")
    a = noisy.evaluate(arch, TrialContext(0, 7, Reporter())).metrics["val_acc"]
    b = noisy.evaluate(arch, TrialContext(0, 7, Reporter())).metrics["val_acc"]
    assert a == b  # the draw is fixed by the trial seed
    with pytest.raises(ConfigError, match="fidelity 200"):
        NB201Evaluator("cifar10", fidelity=12, seed="random")


def test_query_by_architecture_index_or_string() -> None:
    text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    by_string = TABLE.query(text, "cifar10", 200)
    assert (
        by_string
        == TABLE.query(6111, "cifar10", 200)
        == TABLE.query(SPACE.from_index(6111), "cifar10")
    )
    assert by_string["index"] == 6111 and by_string["test_acc"] == pytest.approx(94.3733, abs=1e-4)
    low = TABLE.query(6111, "cifar10", 12)
    assert low["cost_s"] == pytest.approx(by_string["train_time_s"] * 12 / 200)


def test_equal_accuracies_are_ties_not_float_noise() -> None:
    """The two best cifar100 12-epoch cells both score 61.32 (the stored means differ
    by 7e-8): the table must report them equal, so the tie goes to the search's
    earliest find instead of to the noise."""
    table = NB201Table()
    valid = table.column("cifar100", 12, "valid_mean")
    top = np.flatnonzero(valid == valid.max())
    assert len(top) == 2 and valid.max() == pytest.approx(61.32, abs=1e-9)
    tests = sorted(round(table.test_acc(int(i), "cifar100"), 2) for i in top)
    assert tests == [72.28, 73.09]  # different networks, one validation accuracy
    # every accuracy is a multiple of 1e-4 points: no column keeps sub-resolution noise
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        column = table.column(dataset, 200, "test_acc")
        assert np.allclose(column, np.round(column, 4), rtol=0, atol=1e-9)
