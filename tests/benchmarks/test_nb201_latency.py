"""NB201 device latency: HELP's table as package data, the evaluator's `latency@DEVICE`
metrics, the exact fronts and the few-shot latency predictor."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

from archsearch.benchmarks import latency
from archsearch.benchmarks.fronts import exact_front, front_indices, volume
from archsearch.benchmarks.latency_predictor import FewShotLatencyPredictor
from archsearch.core.errors import ConfigError
from archsearch.estimation.base import Reporter, TrialContext
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.nb201 import NB201Space
from archsearch.strategies import STRATEGIES
from archsearch.study import Study


def test_table_has_27_devices_and_matches_hw_nas_bench_example() -> None:
    assert len(latency.devices()) == 27
    # HW-NAS-Bench's README example: cell 0 on pixel3, raspi4, eyeriss and fpga.
    expected = {"pixel3": 3.60585, "raspi4": 10.48198, "eyeriss": 3.64562, "fpga": 2.57296}
    for device, value in expected.items():
        assert latency.latency_ms(device)[0] == pytest.approx(value, abs=1e-5)
    assert latency.latency_ms("pixel2").shape == (15_625,)


def test_bad_device_is_a_one_line_error_listing_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        latency.device_name("pixel9")
    message = str(info.value)
    assert "\n" not in message and "pixel2" in message and "eyeriss" in message
    assert latency.device_name("Titan-RTX_256") == "titan_rtx_256"
    assert latency.metric_name("PIXEL2") == "latency@pixel2"
    assert latency.metric_device("latency@fpga") == "fpga" and latency.metric_device("x") is None


def test_evaluator_serves_device_latency() -> None:
    space = NB201Space()
    arch = space.from_index(1)
    ev = NB201Evaluator("cifar100", fidelity=200, devices=["pixel2", "eyeriss"])
    metrics = ev.evaluate(arch, TrialContext(0, 0, Reporter())).metrics
    assert metrics["latency@pixel2"] == 17.0  # the source row of cell 1
    assert metrics["latency@eyeriss"] == pytest.approx(7.57778)
    assert "latency@fpga" not in metrics
    every = NB201Evaluator(devices="all").evaluate(arch, TrialContext(0, 0, Reporter())).metrics
    assert len([m for m in every if m.startswith("latency@")]) == 27
    with pytest.raises(ConfigError, match="choose one of"):
        NB201Evaluator(devices=["nokia"])


def test_front_indices_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    acc = rng.integers(0, 20, 200).astype(float)
    lat = rng.integers(0, 20, 200).astype(float)
    front = set(front_indices(acc, lat).tolist())
    for i in range(200):
        dominated = any(
            acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j], lat[j]) != (acc[i], lat[i])
            for j in range(200)
        )
        duplicate_before = any((acc[j], lat[j]) == (acc[i], lat[i]) for j in range(i))
        assert (i in front) == (not dominated and not duplicate_before)


def test_hypervolume_of_a_staircase() -> None:
    # Two points (acc 2, lat 1) and (acc 3, lat 2) against reference (acc 0, lat 4):
    # 2 x 3 + 1 x 2 = 8.
    assert volume(np.array([2.0, 3.0]), np.array([1.0, 2.0]), (0.0, 4.0)) == pytest.approx(8.0)
    assert volume(np.array([-1.0]), np.array([1.0]), (0.0, 4.0)) == 0.0


def test_exact_front_share() -> None:
    front = exact_front("cifar100", "eyeriss")
    assert front.share(front.indices) == pytest.approx(1.0)
    assert 0.0 < front.share(front.indices[::2]) < 1.0
    assert front.share([]) == 0.0
    valid = NB201Evaluator("cifar100", fidelity=200)._valid[200]
    lat = latency.latency_ms("eyeriss")
    on_front = front.indices
    # No cell of the table dominates a cell of the exact front.
    for i in on_front[:5]:
        better = (valid >= valid[i]) & (lat <= lat[i]) & ((valid > valid[i]) | (lat < lat[i]))
        assert not better.any()


@pytest.mark.parametrize("device", latency.HELP_META_TEST)
def test_few_shot_predictor_ranks_held_out_devices(device: str) -> None:
    target = latency.latency_ms(device)
    predictor = FewShotLatencyPredictor()
    assert not set(predictor.sources) & set(latency.HELP_META_TEST)
    rhos = []
    for seed in range(5):
        cells = np.random.default_rng(seed).choice(len(target), 10, replace=False)
        rhos.append(spearmanr(predictor.fit(cells, target[cells]).predict(), target).statistic)
    # Per device: clearly informative (the benchmark records the 0.93 mean over devices).
    assert np.mean(rhos) > 0.85


def test_few_shot_predictor_mean_over_held_out_devices() -> None:
    rhos = []
    for device, seed in itertools.product(latency.HELP_META_TEST, range(3)):
        target = latency.latency_ms(device)
        cells = np.random.default_rng(100 + seed).choice(len(target), 10, replace=False)
        pred = FewShotLatencyPredictor().fit(cells, target[cells]).predict()
        rhos.append(spearmanr(pred, target).statistic)
    assert np.mean(rhos) >= 0.93


def test_predictor_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        FewShotLatencyPredictor().predict()
    with pytest.raises(ConfigError):
        FewShotLatencyPredictor().fit([1], [2.0])
    with pytest.raises(ConfigError):
        FewShotLatencyPredictor(sources=["nokia"])


def test_latency_limit_rejects_before_training() -> None:
    space = NB201Space()
    limit = latency.LatencyLimit(6.0, "fpga")
    strategy = STRATEGIES.get("re")(space, seed=0)
    study = Study(space, strategy, seed=0, constraints=[limit])
    study.optimize(
        NB201Evaluator("cifar100", fidelity=200, devices=["fpga"]),
        budget="30trials",
        executor=SimulatedExecutor(),
    )
    done = study.completed()
    assert len(done) == 30
    assert all(t.metrics["latency@fpga"] <= 6.0 for t in done)
    assert any(t.state.value == "REJECTED" for t in study.trials)
