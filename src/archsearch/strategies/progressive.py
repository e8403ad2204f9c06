"""PNAS: Liu, Zoph, Neumann, Shlens, Hua, Li, Fei-Fei, Yuille, Huang and Murphy,
"Progressive Neural Architecture Search", ECCV 2018 (Algorithm 1).

Cells are grown block by block, simplest first. Stage 1 trains cells of one block; at
each later stage every one-block expansion of the K cells kept from the previous stage
is enumerated (sampled where there are too many), a surrogate trained on every cell
measured so far, across stages, ranks them, and only the top K are trained. Since the
surrogate has seen small cells, it must generalise to cells one block larger: the
paper's point is that it does so well enough to rank them.

How a space grows is a `Growth`: which decisions each block sets, in growth order, and
what they hold before their block is added (the "absent" value). Each partial cell is
then a full, valid genotype of the space, trained like any other:

* NAS-Bench-201 (nodes 0 = input, 1, 2, 3 = output; 6 edges): the output node is there
  from the start, and the intermediate nodes are added one at a time, each with all its
  edges: block 1 is the edge 0->3 (input -> output: a one-op cell), block 2 adds node 1
  (edges 0->1 and 1->3), block 3 adds node 2 (edges 0->2, 1->2 and 2->3). Edges not yet
  added are `none`. Why not "nodes 1, 2, 3 in order, with their incoming edges": until
  node 3 is added the output would get no input, so the first two stages would train
  only all-zero networks and teach the surrogate nothing. In the order used here every
  stage is a working cell with one more node than the last, the NB201 analogue of a
  PNAS cell with one more block (PNAS cells also always produce an output, the sum of
  their unused blocks); stage b holds exactly the NB201 cells of b + 1 nodes.
* DARTS / NASNet cells (`darts`: 4 nodes of two (input, op) pairs, a normal and a
  reduction cell): block b is node b + 1 of both cells (PNAS searches one cell, used
  with stride 2 for reduction; here the two cells grow together). The space has no
  genotype with fewer than 4 nodes, since its output concatenates all four, so a node
  not yet added holds `skip_connect` from the node before it, twice: a parameter-free
  copy that carries exactly the smaller cell's features into the concatenation.
* The chain space (`chain`): a block is a layer; stage 1 holds the `min_layers`-deep
  chains, each later stage adds one layer (progressive deepening).
* Any other space: its decisions in order, in up to 4 contiguous blocks; absent decisions
  hold their first option.

Surrogate: the paper uses an ensemble of 5 predictors (an LSTM, or an MLP reading the
mean of the blocks' embeddings), each trained on 4/5 of the measured cells, with an L1
loss, and ranks by the ensemble's mean. Here: an ensemble of MLPs (torch, imported
lazily) with one member per fold, the L1 loss, the mean for ranking, on the genotype's
fixed-length encoding (`encodings.vector_encoding`: the BANANAS path encoding on
NAS-Bench-201, one-hot decisions elsewhere). The paper's averaged embeddings exist to
feed cells of different lengths to one MLP; here a partial cell is a full genotype with
its absent blocks at fixed values, so a fixed-length encoding already covers every
stage, and an MLP's first layer on a one-hot is an embedding.

After the last stage (full-size cells) the paper stops. A budget that is not spent by
then keeps the same loop at full size: each round takes the K best full-size cells,
enumerates their one-block changes (one block chosen again, any value), ranks them with
the retrained surrogate and asks the top K.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.space.capabilities import GrowableSpace, Growth, default_growth
from archsearch.space.encodings import vector_encoding
from archsearch.strategies.base import STRATEGIES, Strategy, require_minimums
from archsearch.strategies.bayesopt.gp import check_transform, copula_transform, standardise
from archsearch.strategies.mlp_ensemble import check_mlp, ensemble_forward, init_ensemble
from archsearch.strategies.seen import SeenArchitectures

if TYPE_CHECKING:  # pragma: no cover
    import torch

_MAX_FEATURES = 200_000  # cached encodings before the cache starts afresh


def growth_plan(space: SearchSpace) -> Growth:
    """The block-by-block growth of `space`: its own (`GrowableSpace`), else a default."""
    return space.growth() if isinstance(space, GrowableSpace) else default_growth(space)


@STRATEGIES.register("pnas")
class ProgressiveSearch(Strategy):
    """Progressive NAS (Liu et al., ECCV 2018): a beam of `beam` (the paper's K) cells
    grown one block per stage, ranked by a surrogate ensemble.

    * Stage 1 asks `n_first` cells of one block (all of them when there are fewer;
      NAS-Bench-201 has 5), in a random order.
    * Each later round fits the surrogate to every complete trial so far (scores mapped
      to normal quantiles of their ranks, `transform="copula"`, or standardised), builds
      the one-block expansions of the `beam` best cells of the stage just measured
      (at most `n_candidates`, sampled uniformly when there are more) and asks the
      `beam` of them the surrogate ranks highest, one per ask. Past the last stage
      the rounds go on with one-block changes of the `beam` best full-size cells.
    * `ask()` returns None while the current round's proposals are all asked and some
      of their results are still pending (the next stage needs them), as with
      parallel workers.
    * It never proposes an architecture it has proposed or been told about; with
      `dedup="canonical"` (the default) not one isomorphic to it either. Failed and
      pruned trials are not modelled and are not expanded. If a round finds no new
      candidate, a random new architecture is asked instead.

    Surrogate: `ensemble_size` MLPs (hidden widths `hidden`, ReLU, Adam with learning
    rate `lr` for `epochs` full-batch steps, L1 loss), member m trained without the
    m-th of `ensemble_size` random folds of the data (the paper's 4/5 each for 5
    members), all seeded from `self.rng`; candidates are ranked by the members' mean.

    Defaults: K = 20 (the paper's K = 256 trains about 1,200 cells; NAS-Bench-201's
    budgets allow 100-180 queries). On NAS-Bench-201 (12-epoch signal, the protocol's
    budgets, seeds 0-7) K = 10 stalled every run on cifar10 in one cell 0.85 below the
    optimum (its stage-1 winner, a 3x3 conv on input -> output, is not the optimum's
    skip connection, and a beam of 10 kept nothing else), while K = 20 and 30 found the
    optimum in all 8 runs on each of the three datasets. State: the told history, the
    rounds and the rng; the surrogate is retrained from them, so a restored strategy
    proposes identically.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        beam: int = 20,
        n_first: int | None = None,
        n_candidates: int = 2000,
        ensemble_size: int = 5,
        hidden: Sequence[int] = (32, 32),
        epochs: int = 150,
        lr: float = 0.01,
        dedup: str = "canonical",
        transform: str = "copula",
    ) -> None:
        super().__init__(space, seed)
        check_transform(transform)
        n_first = beam if n_first is None else n_first
        require_minimums(
            [
                ("beam", beam, 1),
                ("n_first", n_first, 1),
                ("n_candidates", n_candidates, 1),
                ("ensemble_size", ensemble_size, 1),
                ("epochs", epochs, 1),
            ]
        )
        check_mlp(hidden, lr)
        self.beam = int(beam)
        self.n_first = int(n_first)
        self.n_candidates = int(n_candidates)
        self.ensemble_size = int(ensemble_size)
        self.hidden = tuple(int(h) for h in hidden)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.dedup = dedup
        self.transform = transform
        self.growth = growth_plan(space)
        self._size = space.size()
        SeenArchitectures(space, dedup)  # checks the option now
        self._features: dict[Architecture, np.ndarray] = {}
        self._reset()

    def _reset(self) -> None:
        self._seen = SeenArchitectures(self.space, self.dedup)
        self._told: list[tuple[Architecture, float | None]] = []
        self._score: dict[Architecture, float | None] = {}  # told: score, None if failed
        self._stage_of: dict[Architecture, int] = {}  # asked: its number of blocks
        self._pending: dict[Architecture, None] = {}  # asked, not told; ordered
        self._stage = 0  # blocks of the cells the current round asks; 0: not started
        self._round: list[Architecture] = []  # the current round's asked cells
        self._queue: list[Architecture] = []  # its proposals still to ask

    # --- ask / tell ----------------------------------------------------------------------
    @property
    def stage(self) -> int:
        """The number of blocks of the cells being asked (0 before the first ask)."""
        return self._stage

    def ask(self) -> Architecture | None:
        if self._size is not None and len(self._seen) >= self._size:
            return None  # a finite space, every genotype proposed: nothing changes
        # A queued proposal may have been told about meanwhile (another source): skip it.
        self._queue = [a for a in self._queue if self._seen.is_new(a)]
        if not self._queue:
            if any(a in self._pending for a in self._round):
                return None  # the next round ranks from this round's results
            self._queue = self._next_round()
            self._round = []
        if self._queue:
            arch = self._queue.pop(0)
        else:  # no new candidate: a random new full-size cell keeps the search going
            arch = self._seen.random_new(self.rng)
            self._stage = self.growth.n_stages
        self._seen.add(arch)
        self._stage_of[arch] = self._stage
        self._pending[arch] = None
        self._round.append(arch)
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        self._pending.pop(arch, None)
        self._seen.add(arch)
        score = result.score if result.state is TrialState.COMPLETE else None
        value = None if score is None else float(score)
        self._told.append((arch, value))
        self._score[arch] = value

    # --- rounds --------------------------------------------------------------------------
    def _best(self, stage: int) -> list[Architecture]:
        """The `beam` best complete cells of `stage` blocks (ties: the earliest told)."""
        scored = [
            (a, s)
            for a, s in self._score.items()
            if s is not None and self._stage_of.get(a) == stage
        ]
        scored.sort(key=lambda item: -item[1])  # stable
        return [a for a, _ in scored[: self.beam]]

    def _next_round(self) -> list[Architecture]:
        growth = self.growth
        if self._stage == 0:
            self._stage = 1
            candidates = self._candidates([(growth.absent, (0,))], 1)
            order = self.rng.permutation(len(candidates))
            return [candidates[int(i)] for i in order[: self.n_first]]
        parents = self._best(self._stage)
        if self._stage < growth.n_stages and parents:
            self._stage += 1
            sources: list[tuple[Sequence[Any], tuple[int, ...]]] = [
                (p.values, (self._stage - 1,)) for p in parents
            ]
        else:
            self._stage = growth.n_stages
            every_block = tuple(range(growth.n_stages))
            sources = [(p.values, every_block) for p in self._best(self._stage)]
        candidates = self._candidates(sources, self._stage)
        if not candidates:
            return []
        return self._rank(candidates)[: self.beam]

    def _candidates(
        self, sources: list[tuple[Sequence[Any], tuple[int, ...]]], n_blocks: int
    ) -> list[Architecture]:
        """New cells (distinct up to `dedup`) made from each source's values by setting
        one of its blocks to any assignment: all of them, or `n_candidates` drawn
        uniformly over (source, block, assignment) when there are more."""
        growth = self.growth
        moves = [(s, b) for s, (_, blocks) in enumerate(sources) for b in blocks]
        if not moves:
            return []
        sizes = np.array([growth.sizes[b] for _, b in moves], dtype=float)
        total = float(sizes.sum())
        if total <= self.n_candidates:
            triples: Any = ((s, b, c) for s, b in moves for c in range(growth.sizes[b]))
        else:
            picks = self.rng.choice(len(moves), size=self.n_candidates, p=sizes / total)
            codes = [int(self.rng.integers(growth.sizes[moves[int(m)][1]])) for m in picks]
            triples = ((*moves[int(m)], c) for m, c in zip(picks, codes, strict=True))
        found: dict[Hashable, Architecture] = {}
        for s, b, code in triples:
            values = growth.set_block(sources[s][0], b, code)
            arch = growth.arch(values, n_blocks)
            key = self._seen.key(arch)
            if key not in found and self._seen.is_new(arch):
                found[key] = arch
        return list(found.values())

    # --- the surrogate -------------------------------------------------------------------
    def _encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        if len(self._features) > _MAX_FEATURES:
            self._features.clear()
        rows = []
        for arch in archs:
            vec = self._features.get(arch)
            if vec is None:
                vec = self._features[arch] = np.asarray(
                    vector_encoding(self.space, arch), dtype=np.float32
                )
            rows.append(vec)
        return np.stack(rows)

    def _rank(self, candidates: list[Architecture]) -> list[Architecture]:
        """`candidates` best first by the surrogate's mean prediction (random order while
        fewer than two cells have a score)."""
        obs = [a for a, s in self._told if s is not None]
        y = np.array([s for _, s in self._told if s is not None], dtype=float)
        if len(obs) < 2 or float(y.std()) == 0.0:
            order = self.rng.permutation(len(candidates))
            return [candidates[int(i)] for i in order]
        target = standardise(copula_transform(y) if self.transform == "copula" else y)
        x, x_new = self._encode(obs), self._encode(candidates)
        # Features no observed or candidate cell has are zero inputs: dropping them
        # changes no prediction, only the cost.
        used = np.flatnonzero(x.any(axis=0) | x_new.any(axis=0))
        folds = self.rng.permutation(len(obs)) % self.ensemble_size
        torch_seed = int(self.rng.integers(2**62))
        mean = self.predict(x[:, used], target, x_new[:, used], folds, torch_seed).mean(axis=0)
        order = np.argsort(-mean, kind="stable")
        return [candidates[int(i)] for i in order]

    def predict(
        self, x: np.ndarray, y: np.ndarray, x_new: np.ndarray, folds: np.ndarray, seed: int
    ) -> np.ndarray:
        """Train the ensemble on (x, y), member m without the rows of fold m (all rows
        when there are fewer rows than members), and return its predictions at x_new,
        shape (ensemble_size, len(x_new))."""
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is the library's framework
            raise ImportError("pnas needs PyTorch: pip install 'archsearch[torch]'") from None
        n_members = self.ensemble_size
        weights = np.ones((n_members, len(y)), dtype=np.float32)
        if n_members > 1 and len(y) >= n_members:
            weights[folds[None, :] == np.arange(n_members)[:, None]] = 0.0
        weights /= weights.sum(axis=1, keepdims=True)
        gen = torch.Generator().manual_seed(seed)
        params = self._init_params(x.shape[1], gen)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(y.astype(np.float32))
        wt = torch.from_numpy(weights)
        opt = torch.optim.Adam(params, lr=self.lr, foreach=True)
        for _ in range(self.epochs):
            opt.zero_grad()
            # L1 loss, as in the paper; the sum over members trains each on its own rows
            loss = ((ensemble_forward(params, xt) - yt).abs() * wt).sum()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out = ensemble_forward(params, torch.from_numpy(np.ascontiguousarray(x_new)))
        return out.numpy().astype(np.float64)

    def _init_params(self, n_in: int, gen: torch.Generator) -> list[torch.Tensor]:
        return init_ensemble(n_in, self.hidden, self.ensemble_size, gen)

    # --- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "seen": sorted(a.to_json() for a in self._seen),
            "told": [[a.to_json(), s] for a, s in self._told],
            "stage_of": [[a.to_json(), b] for a, b in self._stage_of.items()],
            "pending": [a.to_json() for a in self._pending],
            "stage": self._stage,
            "round": [a.to_json() for a in self._round],
            "queue": [a.to_json() for a in self._queue],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._reset()
        for text, score in state["told"]:
            arch = Architecture.from_json(text)
            value = None if score is None else float(score)
            self._told.append((arch, value))
            self._score[arch] = value
        for text in state["seen"]:
            self._seen.add(Architecture.from_json(text))
        self._stage_of = {Architecture.from_json(a): int(b) for a, b in state["stage_of"]}
        self._pending = {Architecture.from_json(a): None for a in state["pending"]}
        self._stage = int(state["stage"])
        self._round = [Architecture.from_json(a) for a in state["round"]]
        self._queue = [Architecture.from_json(a) for a in state["queue"]]


__all__ = ["Growth", "ProgressiveSearch", "growth_plan"]
