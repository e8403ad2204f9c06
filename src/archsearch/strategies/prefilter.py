"""Pre-filtering by a cheap score: propose only the best of many candidates.

Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021 (Section 5,
"warmup" and "move proposal"), score many candidates with a zero-cost proxy and train
only the most promising few. `ProxyPrefilter` does that in front of any strategy: it
draws `pool` candidates (from the inner strategy, or uniformly from the space), scores
them with the injected `scorer` and proposes the best `keep`, best first.

The scorer is injected (e.g. `archsearch.estimation.proxies.proxy_scorer`), because a
strategy never builds or scores networks itself. Results of the proposed candidates
pass through to the inner strategy; the candidates filtered out are told to it as
PRUNED (no score), so a strategy that waits for every asked architecture's result is
not left waiting. Not registered in STRATEGIES: it needs a scorer, which a name in a
config file cannot supply.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.strategies.base import Strategy

Scorer = Callable[[Architecture], float]


class ProxyPrefilter(Strategy):
    """Wraps `inner`: each round scores `pool` candidates and proposes the top `keep`.

    `from_space=True` draws the pool uniformly from the space (seeded by `seed`) instead
    of asking `inner` (useful with inner strategies whose proposals are not worth a
    pool, e.g. to warm up an evolution). Candidates are deduplicated within a round; a
    NaN score ranks last; ties keep the order the candidates came in.
    """

    def __init__(
        self,
        inner: Strategy,
        scorer: Scorer,
        pool: int,
        keep: int,
        *,
        from_space: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(inner.space, seed)
        if int(pool) != pool or pool < 1:
            raise ConfigError(f"pool must be a whole number >= 1, got {pool!r}")
        if int(keep) != keep or not 1 <= keep <= pool:
            raise ConfigError(f"keep must be a whole number in 1..pool={pool}, got {keep!r}")
        self.inner = inner
        self.scorer = scorer
        self.pool = int(pool)
        self.keep = int(keep)
        self.from_space = bool(from_space)
        self.pending = inner.pending  # one dict: the study's bookkeeping reaches the inner
        self._queue: deque[Architecture] = deque()
        self.scores: dict[Architecture, float] = {}  # every candidate scored, for reports

    def ask(self) -> Architecture | None:
        if not self._queue:
            self._refill()
        return self._queue.popleft() if self._queue else None

    def tell(self, arch: Architecture, result: Result) -> None:
        self.inner.tell(arch, result)

    def _refill(self) -> None:
        candidates: list[Architecture] = []
        for _ in range(self.pool):
            arch = self.space.sample(self.rng) if self.from_space else self.inner.ask()
            if arch is None:  # the inner strategy has nothing more to offer now
                break
            if arch not in candidates:
                candidates.append(arch)
            elif not self.from_space:  # a repeat still needs its result
                self.inner.tell(arch, _filtered(None))
        scored = []
        for position, arch in enumerate(candidates):
            value = float(self.scorer(arch))
            self.scores[arch] = value
            rank_value = value if value == value else float("-inf")  # NaN ranks last
            scored.append((-rank_value, position, arch))
        scored.sort(key=lambda t: (t[0], t[1]))
        chosen = [arch for _, _, arch in scored[: self.keep]]
        self._queue.extend(chosen)
        if not self.from_space:
            for _, _, arch in scored[self.keep :]:
                self.inner.tell(arch, _filtered(self.scores[arch]))

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "inner": self.inner.state_dict(),
            "queue": [a.to_json() for a in self._queue],
            "scores": [[a.to_json(), s] for a, s in self.scores.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.inner.load_state_dict(state["inner"])
        self._queue = deque(Architecture.from_json(s) for s in state["queue"])
        self.scores = {Architecture.from_json(a): float(s) for a, s in state["scores"]}


def _filtered(score: float | None) -> Result:
    """What the inner strategy is told about a candidate the filter dropped."""
    metrics = {} if score is None else {"proxy": score}
    return Result(TrialState.PRUNED, metrics, 0.0, error="filtered out by the proxy pre-filter")
