"""BANANAS: White, Neiswanger and Savani, "BANANAS: Bayesian Optimization with Neural
Architectures for Neural Architecture Search", AAAI 2021.

Bayesian optimisation whose surrogate is an ensemble of small neural networks on the
path encoding (`archsearch.space.encodings.path_encoding`): the ensemble's mean and
spread stand in for a GP's posterior, the acquisition is independent Thompson sampling,
and it is maximised over mutations of the best architectures seen.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.space.encodings import vector_encoding
from archsearch.strategies.base import STRATEGIES, Strategy, require_minimums
from archsearch.strategies.bayesopt.gp import check_transform, copula_transform, standardise
from archsearch.strategies.mlp_ensemble import check_mlp, ensemble_forward, init_ensemble
from archsearch.strategies.seen import SeenArchitectures

if TYPE_CHECKING:  # pragma: no cover
    import torch


@STRATEGIES.register("bananas")
class Bananas(Strategy):
    """BANANAS (White et al., AAAI 2021, Algorithm 1).

    * The first `n_init` proposals are random (distinct).
    * Then, each round trains an ensemble of `ensemble_size` MLPs (hidden widths
      `hidden`, ReLU, Adam with learning rate `lr` for `epochs` full-batch steps,
      mean absolute error as in the paper) from independent seeded initialisations to
      predict the score from the path encoding (scores mapped to normal quantiles of
      their ranks, `transform="copula"`, or standardised); builds `n_candidates`
      candidates by mutating the `n_parents` best architectures observed (one or two
      mutations each; `n_random` random cells may be added, none by default, as in the
      paper); and draws, per candidate, one independent Thompson sample (ITS) from
      N(ensemble mean, ensemble standard deviation). The `batch_size` candidates with
      the highest draws are proposed, one per ask, before the ensemble is trained
      again (k = 10 per round, as in the paper).
    * It never proposes an architecture it has proposed or been told about; with
      `dedup="canonical"` (the default) not one isomorphic to it either (same
      `space.canonical`). Failed and pruned trials are not modelled, only avoided.
    * On a space that is not a cell space the networks read the space's one-hot
      `encode()` instead of the path encoding (`encodings.vector_encoding`).

    Defaults, compared on NAS-Bench-201 CIFAR-10 at 12,000 simulated seconds over 30
    seeds: the copula transform beat standardised scores (mean regret 0.24 against
    0.33); proposing 1 or 5 per round instead of 10 did not help (0.36, 0.28) and costs
    up to ten times the training; 300 candidates, 20 parents or 100 random candidates
    did not help either. Runs are heavy-tailed: most find the optimum, some stall in a
    local optimum the path encoding misjudges. On 50 other seeds: mean regret 0.30
    (regularized evolution 0.86, GP-BO with the WL kernel 0.07). A round costs about
    0.12 s of CPU at 150 observations (5 members x 200 Adam steps), once per 10 asks.

    The networks are trained with a `torch.Generator` seeded from `self.rng`, so the
    same seed and the same tells give the same proposals (on one machine and thread
    count: float reductions in torch may differ across thread counts). The state is the
    told history plus the generator state: a restored strategy retrains identically.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_init: int = 10,
        ensemble_size: int = 5,
        hidden: Sequence[int] = (32, 32, 32),
        epochs: int = 200,
        lr: float = 0.01,
        n_parents: int = 10,
        n_candidates: int = 100,
        n_random: int = 0,
        batch_size: int = 10,
        dedup: str = "canonical",
        transform: str = "copula",
    ) -> None:
        super().__init__(space, seed)
        check_transform(transform)
        require_minimums(
            [
                ("n_init", n_init, 2),
                ("ensemble_size", ensemble_size, 2),
                ("epochs", epochs, 1),
                ("n_parents", n_parents, 1),
                ("n_candidates", n_candidates, 1),
                ("n_random", n_random, 0),
                ("batch_size", batch_size, 1),
            ]
        )
        check_mlp(hidden, lr)
        self.n_init = int(n_init)
        self.ensemble_size = int(ensemble_size)
        self.hidden = tuple(int(h) for h in hidden)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.n_parents = int(n_parents)
        self.n_candidates = int(n_candidates)
        self.n_random = int(n_random)
        self.batch_size = int(batch_size)
        self.dedup = dedup
        self.transform = transform
        self._size = space.size()
        SeenArchitectures(space, dedup)  # checks the option now
        self._reset()

    def _reset(self) -> None:
        self._seen = SeenArchitectures(self.space, self.dedup)
        self._told: list[tuple[Architecture, float | None]] = []
        self._obs: list[Architecture] = []
        self._scores: list[float] = []
        self._queue: list[Architecture] = []  # the rest of the current round's proposals

    # --- bookkeeping
    # --- ask / tell
    def ask(self) -> Architecture | None:
        if self._size is not None and len(self._seen) >= self._size:
            return None  # a finite space, every genotype proposed: nothing changes
        # A queued proposal may have been told about meanwhile (another source): skip it.
        self._queue = [a for a in self._queue if self._seen.is_new(a)]
        if not self._queue and len(self._obs) >= self.n_init:
            self._queue = self._round()
        arch = self._queue.pop(0) if self._queue else self._seen.random_new(self.rng)
        self._seen.add(arch)
        return arch

    def tell(self, arch: Architecture, result: Result) -> None:
        self._seen.add(arch)
        score = result.score if result.state is TrialState.COMPLETE else None
        self._told.append((arch, None if score is None else float(score)))
        if score is not None:
            self._obs.append(arch)
            self._scores.append(float(score))

    # --- one BANANAS round -----------------------------------------------------------------------
    def _encode(self, archs: Sequence[Architecture]) -> np.ndarray:
        return np.stack([vector_encoding(self.space, a) for a in archs]).astype(np.float32)

    def _candidates(self) -> list[Architecture]:
        order = sorted(range(len(self._obs)), key=lambda i: -self._scores[i])
        parents = [self._obs[i] for i in order[: self.n_parents]]
        # Candidates are new and distinct up to isomorphism among themselves too, so a
        # round's proposals never include two copies of one network.
        found: dict[Hashable, Architecture] = {}

        def add(arch: Architecture) -> None:
            key = self._seen.key(arch)
            if key not in found and self._seen.is_new(arch):
                found[key] = arch

        # Bounded tries: near an exhausted region most mutants are already seen.
        for attempt in range(10 * self.n_candidates):
            if len(found) >= self.n_candidates:
                break
            arch = self.space.mutate(parents[attempt % len(parents)], self.rng)
            if self.rng.random() < 0.5:  # half the candidates two mutations away
                arch = self.space.mutate(arch, self.rng)
            add(arch)
        for _ in range(self.n_random):  # optional random candidates, for exploration
            add(self.space.sample(self.rng))
        return list(found.values())

    def _round(self) -> list[Architecture]:
        candidates = self._candidates()
        if not candidates:
            return []
        y = np.asarray(self._scores)
        target = standardise(copula_transform(y) if self.transform == "copula" else y)
        torch_seed = int(self.rng.integers(2**62))
        x, x_new = self._encode(self._obs), self._encode(candidates)
        # Paths that neither the observed nor the candidate cells have (on NB201, all
        # through `none`, and most others) are zero inputs: the predictions do not
        # depend on their weights, so dropping them changes nothing but the cost.
        used = np.flatnonzero(x.any(axis=0) | x_new.any(axis=0))
        preds = self._fit_predict(x[:, used], target, x_new[:, used], torch_seed)
        mean, spread = preds.mean(axis=0), preds.std(axis=0)
        # Independent Thompson sampling: one draw per candidate from N(mean, spread).
        draws = mean + spread * self.rng.standard_normal(len(candidates))
        order = np.argsort(-draws, kind="stable")
        return [candidates[int(i)] for i in order[: self.batch_size]]

    def _fit_predict(
        self, x: np.ndarray, y: np.ndarray, x_new: np.ndarray, seed: int
    ) -> np.ndarray:
        """Train the ensemble on (x, y) and return its predictions at x_new,
        shape (ensemble_size, len(x_new))."""
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is the library's framework
            raise ImportError("bananas needs PyTorch: pip install 'archsearch[torch]'") from None
        gen = torch.Generator().manual_seed(seed)
        params = self._init_params(x.shape[1], gen)
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y.astype(np.float32))
        opt = torch.optim.Adam(params, lr=self.lr)
        for _ in range(self.epochs):
            opt.zero_grad()
            loss = (ensemble_forward(params, xt) - yt).abs().mean()  # MAE, as in the paper
            loss.backward()
            opt.step()
        with torch.no_grad():
            return ensemble_forward(params, torch.from_numpy(x_new)).numpy().astype(np.float64)

    def _init_params(self, n_in: int, gen: torch.Generator) -> list[torch.Tensor]:
        return init_ensemble(n_in, self.hidden, self.ensemble_size, gen)

    # --- state
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "seen": sorted(a.to_json() for a in self._seen),
            "told": [[a.to_json(), s] for a, s in self._told],
            "queue": [a.to_json() for a in self._queue],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._reset()
        for text, score in state["told"]:
            arch = Architecture.from_json(text)
            self._told.append((arch, score))
            if score is not None:
                self._obs.append(arch)
                self._scores.append(float(score))
        for text in state["seen"]:
            self._seen.add(Architecture.from_json(text))
        self._queue = [Architecture.from_json(a) for a in state["queue"]]


__all__ = ["Bananas"]
