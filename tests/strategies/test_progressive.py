"""PNAS (progressive growth, surrogate-ranked beam): the "pnas" strategy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from archsearch.benchmarks.nb201 import NB201Table
from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.estimation.tabular import NB201Evaluator
from archsearch.execution.simulated import SimulatedExecutor
from archsearch.space.chain import ChainSpace
from archsearch.space.darts import DartsSpace
from archsearch.space.encodings import path_encoding
from archsearch.space.nb201 import NB201Space
from archsearch.storage.memory import InMemoryStorage
from archsearch.strategies.base import STRATEGIES
from archsearch.strategies.progressive import ProgressiveSearch, growth_plan
from archsearch.study import Study
from tests.helpers import complete, synthetic_score

NB201 = NB201Space()
# NB201 decisions: 0: 1<-0, 1: 2<-0, 2: 2<-1, 3: 3<-0, 4: 3<-1, 5: 3<-2


def run(strategy: ProgressiveSearch, steps: int) -> list[tuple[Architecture, int]]:
    """Ask/tell sequentially; each proposal with the stage it was asked at."""
    space = strategy.space
    out = []
    for _ in range(steps):
        arch = strategy.ask()
        assert arch is not None
        space.validate(arch)
        out.append((arch, strategy.stage))
        strategy.tell(arch, complete(synthetic_score(space, arch)))
    return out


def test_registered_and_validates_options() -> None:
    assert STRATEGIES.get("pnas") is ProgressiveSearch
    for bad in ({"beam": 0}, {"transform": "rank"}, {"hidden": ()}, {"lr": 0}, {"dedup": "x"}):
        with pytest.raises(ConfigError):
            ProgressiveSearch(NB201, **bad)


def test_nb201_cells_grow_one_node_per_stage() -> None:
    beam = 6
    asked = run(ProgressiveSearch(NB201, seed=0, beam=beam), 5 + 2 * beam)
    stage1 = [a for a, s in asked if s == 1]
    stage2 = [a for a, s in asked if s == 2]
    stage3 = [a for a, s in asked if s == 3]
    # stage 1: the 5 one-op cells (only input -> output), all of them
    assert len(stage1) == 5 and [s for _, s in asked[:5]] == [1] * 5
    assert {a.values[3] for a in stage1} == set(NB201.decisions()[3].options)
    assert all(a.values[:3] + a.values[4:] == ("none",) * 5 for a in stage1)
    # stage 2 adds node 1 (edges 1<-0, 3<-1); node 2's edges are still none
    assert len(stage2) == beam
    assert all(a.values[1] == a.values[2] == a.values[5] == "none" for a in stage2)
    assert all(a.values[0] != "none" and a.values[4] != "none" for a in stage2)
    # stage 3 keeps a stage-2 cell's first two blocks and adds node 2
    prefixes = {(a.values[3], a.values[0], a.values[4]) for a in stage2}
    assert len(stage3) == beam
    assert all((a.values[3], a.values[0], a.values[4]) in prefixes for a in stage3)
    # never the same cell twice, not even an isomorphic one
    archs = [a for a, _ in asked]
    assert len({NB201.canonical(a) for a in archs}) == len(archs)


def test_darts_blocks_are_nodes_of_both_cells_padded_until_added() -> None:
    space = DartsSpace()
    beam = 4
    asked = run(ProgressiveSearch(space, seed=1, beam=beam, n_first=4), 4 * beam + 3)
    assert [s for _, s in asked] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [4] * 3
    growth = growth_plan(space)
    for arch, stage in asked:
        for block in range(stage, growth.n_stages):  # blocks not yet added
            for k in growth.blocks[block]:
                assert arch.values[k] == growth.absent[k]
    # a node not yet added copies the node before it: skip_connect from it, twice
    first = asked[0][0]
    assert space.cell(first, "normal")[2:4] == (("skip_connect", 2), ("skip_connect", 2))
    # each stage-3 cell extends a stage-2 cell (blocks 1 and 2 kept)
    first_blocks = growth.blocks[0] + growth.blocks[1]
    stage2 = {tuple(a.values[k] for k in first_blocks) for a, s in asked if s == 2}
    assert all(tuple(a.values[k] for k in first_blocks) in stage2 for a, s in asked if s == 3)


def test_chain_deepens_one_layer_per_stage() -> None:
    space = ChainSpace(min_layers=2, max_layers=5)
    asked = run(ProgressiveSearch(space, seed=2, beam=3, n_first=3), 3 * 4 + 2)
    for arch, stage in asked:
        assert arch["layers"] == 2 + min(stage, 4) - 1
        assert space.canonicalize(arch) == arch


def test_waits_for_the_stage_then_round_trips_with_pending_trials() -> None:
    a = ProgressiveSearch(NB201, seed=3, beam=4)  # stage 1: 4 of the 5 one-op cells
    first = [a.ask() for _ in range(4)]
    assert all(x is not None for x in first)
    assert a.ask() is None  # stage 1 fully asked, its results pending
    state_before = a.state_dict()
    assert a.ask() is None and a.state_dict() == state_before  # a None ask changes nothing
    for arch in first[:3]:
        assert arch is not None
        a.tell(arch, complete(synthetic_score(NB201, arch)))
    assert a.ask() is None  # one result still missing
    assert first[3] is not None
    a.tell(first[3], Result(TrialState.FAILED, {}, 1.0, error="boom"))
    running = [a.ask(), a.ask()]  # stage 2 starts; two in flight
    assert all(x is not None for x in running)
    state = json.loads(json.dumps(a.state_dict()))
    restored = ProgressiveSearch(NB201, seed=99, beam=4)
    restored.load_state_dict(state)
    for strategy in (a, restored):
        for arch in running:
            assert arch is not None
            strategy.tell(arch, complete(synthetic_score(NB201, arch)))
    assert run(a, 12) == run(restored, 12)


def test_surrogate_ranks_nb201_cells_better_than_chance() -> None:
    # Train the ensemble on 100 random cells' 12-epoch cifar10 accuracy; rank 1,000 others.
    table = NB201Table()
    valid = table.column("cifar10", 12, "valid_mean")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(valid), size=1100, replace=False)
    train, test = idx[:100], idx[100:]
    enc = np.stack([path_encoding(NB201, NB201.from_index(int(i))) for i in idx]).astype(np.float32)
    strategy = ProgressiveSearch(NB201, seed=0)
    y = valid[train]
    target = (y - y.mean()) / y.std()
    folds = rng.permutation(100) % strategy.ensemble_size
    preds = strategy.predict(enc[:100], target, enc[100:], folds, seed=0)
    mean = preds.mean(axis=0)
    assert spearmanr(mean, valid[test]).statistic > 0.6
    top = np.argsort(-mean)[:20]
    # the predicted top 20 are far better than a random 20 (mean ~ 76%): most are > 80%
    assert valid[test][top].mean() > valid[test].mean() + 5.0
    assert valid[test][top].mean() > np.quantile(valid[test], 0.8)


def test_finds_the_nb201_optimum_within_the_protocol_budget() -> None:
    table = NB201Table()
    best = table.best_valid("cifar10", 12)
    for seed in range(2):
        strategy = ProgressiveSearch(NB201, seed=seed)
        study = Study(NB201, strategy, InMemoryStorage(), seed=seed)
        study.optimize(
            NB201Evaluator("cifar10", fidelity=12), budget="12000s", executor=SimulatedExecutor()
        )
        score = study.best().score
        assert score is not None and best - score < 0.3  # over 8 seeds: always 0


def test_resume_through_a_study_with_parallel_workers() -> None:
    storage = InMemoryStorage()
    evaluator = NB201Evaluator("cifar10", fidelity=12)
    Study(NB201, ProgressiveSearch(NB201, seed=4), storage, seed=4).optimize(
        evaluator, budget="30trials", executor=SimulatedExecutor(n_workers=3)
    )
    resumed = Study(NB201, ProgressiveSearch(NB201, seed=4), storage, seed=4)
    resumed.optimize(evaluator, budget="40trials", executor=SimulatedExecutor(n_workers=3))
    assert len(resumed.trials) == 40
    assert len({t.arch for t in resumed.trials}) == 40
