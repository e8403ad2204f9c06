"""Reinforcement learning: Zoph and Le, "Neural Architecture Search with Reinforcement
Learning", ICLR 2017.

An LSTM controller emits the space's decisions in order, one softmax per decision, each
step fed the embedding of the previous choice; it is trained with REINFORCE (Williams
1992) against an exponential moving-average baseline, with an entropy bonus that keeps
it exploring. `Controller` works on option indices only, so that ENAS (Pham et al. 2018)
can reuse it with rewards from a supernet.

torch is imported lazily: importing this module never needs it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result, TrialState
from archsearch.space.base import SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - the test environments have torch
        raise ImportError(
            "the RL controller needs PyTorch: pip install 'archsearch[torch]'"
        ) from None
    return torch


@contextlib.contextmanager
def _one_thread(torch: Any) -> Iterator[None]:
    """Run the controller's tiny tensor ops on one intra-op thread, restoring the
    caller's setting after. Its matrices hold a few thousand numbers, so threads only add
    synchronisation (on a busy 2-core machine, 2 OpenMP threads made an update 30x
    slower), and the results then do not depend on the machine's thread count."""
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class Controller:
    """An LSTM policy over a fixed list of categorical decisions, trained by REINFORCE.

    `n_options[k]` is the number of options of decision k. A choice vector is a list of
    option indices, one per decision. Step k feeds the LSTM cell the embedding of the
    choice made at step k-1 (a learned start token at step 0) and samples decision k from
    `softmax(head_k(h) / temperature)`, squashed to `tanh_constant * tanh(.)` first when
    `tanh_constant` is set (ENAS's trick against early collapse).

    `update(choices, rewards)` takes one REINFORCE step on the batch:
    loss = -mean((r - b) * log p(choices)) - entropy_weight * mean(entropy), where b is an
    exponential moving average of past rewards (Zoph & Le's baseline; the first batch's
    mean starts it). With `normalize=True` the advantage r - b is divided by a moving
    root-mean-square of past advantages, so the step size does not depend on the scale of
    the rewards (accuracies in percent, fractions, negative losses).

    The optimizer is Adam, as in the paper (whose 2-layer, 35-unit controller used
    lr 6e-4 over thousands of architectures; the default here is for ~100).

    All randomness comes from the controller's own `torch.Generator` (parameter
    initialisation included: the modules are built uninitialised and filled from it, so
    the global torch RNG is never touched).
    """

    def __init__(
        self,
        n_options: Sequence[int],
        *,
        seed: int = 0,
        hidden_size: int = 64,
        lr: float = 0.05,
        entropy_weight: float = 1e-3,
        baseline_decay: float = 0.9,
        temperature: float = 1.0,
        tanh_constant: float | None = None,
        normalize: bool = True,
        init_range: float = 0.1,
    ) -> None:
        torch = _torch()
        nn = torch.nn
        if not n_options or any(int(n) < 1 for n in n_options):
            raise ConfigError(
                f"controller: every decision needs >= 1 option, got {list(n_options)}"
            )
        if hidden_size < 1:
            raise ConfigError(f"hidden_size must be >= 1, got {hidden_size}")
        if not 0.0 <= baseline_decay < 1.0:
            raise ConfigError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        self.n_options = [int(n) for n in n_options]
        self.hidden_size = int(hidden_size)
        self.entropy_weight = float(entropy_weight)
        self.baseline_decay = float(baseline_decay)
        self.temperature = float(temperature)
        self.tanh_constant = None if tanh_constant is None else float(tanh_constant)
        self.normalize = bool(normalize)
        self.generator = torch.Generator().manual_seed(int(seed))
        # Step k + 1 reads token offsets[k] + choice_k; step 0 reads the start token. The
        # last decision's choice feeds nothing, so it needs no tokens.
        self._offsets = [0]
        for n in self.n_options[:-1]:
            self._offsets.append(self._offsets[-1] + n)
        self._start_token = self._offsets[-1]
        n_tokens = self._start_token + 1
        skip = nn.utils.skip_init
        self.net = nn.ModuleDict(
            {
                "embed": skip(nn.Embedding, n_tokens, hidden_size),
                "lstm": skip(nn.LSTMCell, hidden_size, hidden_size),
                "heads": nn.ModuleList(skip(nn.Linear, hidden_size, n) for n in self.n_options),
            }
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.uniform_(-init_range, init_range, generator=self.generator)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.baseline: float | None = None
        self.adv_ms: float | None = None  # moving mean square of advantages

    # --- the policy -----------------------------------------------------------------------
    def _logits(self, h: torch.Tensor, k: int) -> torch.Tensor:
        logits = self.net["heads"][k](h) / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * logits.tanh()
        return logits

    def _token(self, k: int, choice: torch.Tensor) -> torch.Tensor:
        """The embedding index that feeds step k + 1 after choosing `choice` at step k."""
        return choice + self._offsets[k]

    def _walk(self, n: int, choices: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """Run the controller for a batch of n: sample (choices None) or teacher-force the
        given choices [n, K]; return choices, summed log-probs [n] and entropies [n]."""
        torch = _torch()
        h = torch.zeros(n, self.hidden_size)
        c = torch.zeros(n, self.hidden_size)
        token = torch.full((n,), self._start_token, dtype=torch.long)
        picked, log_prob, entropy = [], torch.zeros(n), torch.zeros(n)
        for k in range(len(self.n_options)):
            h, c = self.net["lstm"](self.net["embed"](token), (h, c))
            logp = torch.log_softmax(self._logits(h, k), dim=-1)
            if choices is None:
                choice = torch.multinomial(logp.exp(), 1, generator=self.generator).squeeze(1)
            else:
                choice = choices[:, k]
            picked.append(choice)
            log_prob = log_prob + logp.gather(1, choice.unsqueeze(1)).squeeze(1)
            entropy = entropy - (logp.exp() * logp).sum(-1)
            token = self._token(k, choice)
        return torch.stack(picked, dim=1), log_prob, entropy

    def sample(self, n: int = 1) -> list[list[int]]:
        """n choice vectors drawn from the policy (no gradient)."""
        torch = _torch()
        with torch.no_grad(), _one_thread(torch):
            choices, _, _ = self._walk(n, None)
        return [[int(x) for x in row] for row in choices.tolist()]

    def log_prob(self, choices: Sequence[Sequence[int]]) -> torch.Tensor:
        """Log-probabilities [n] of the choice vectors (differentiable)."""
        return self.log_prob_and_entropy(choices)[0]

    def entropy(self, choices: Sequence[Sequence[int]]) -> torch.Tensor:
        """The policy's entropy [n] along each choice vector's path (differentiable)."""
        return self.log_prob_and_entropy(choices)[1]

    def log_prob_and_entropy(
        self, choices: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        torch = _torch()
        tensor = torch.tensor([list(c) for c in choices], dtype=torch.long)
        if tensor.ndim != 2 or tensor.shape[1] != len(self.n_options):
            raise ValueError(f"controller: expected choice vectors of length {len(self.n_options)}")
        with _one_thread(torch):
            _, log_prob, entropy = self._walk(len(tensor), tensor)
        return log_prob, entropy

    def probabilities(self, prefix: Sequence[int] = ()) -> list[float]:
        """The distribution over the options of decision len(prefix), given the prefix."""
        torch = _torch()
        with torch.no_grad(), _one_thread(torch):
            h = torch.zeros(1, self.hidden_size)
            c = torch.zeros(1, self.hidden_size)
            token = torch.full((1,), self._start_token, dtype=torch.long)
            for k in range(len(prefix) + 1):
                h, c = self.net["lstm"](self.net["embed"](token), (h, c))
                if k < len(prefix):
                    token = self._token(k, torch.tensor([int(prefix[k])]))
            probs = torch.softmax(self._logits(h, len(prefix)), dim=-1)[0]
        return [float(p) for p in probs]

    # --- learning -------------------------------------------------------------------------
    def update(
        self, choices: Sequence[Sequence[int]], rewards: Sequence[float]
    ) -> dict[str, float]:
        """One REINFORCE step on a batch of (choice vector, reward); returns statistics."""
        torch = _torch()
        if len(choices) != len(rewards) or not rewards:
            raise ValueError("controller: update needs one reward per choice vector, at least one")
        r = torch.tensor([float(x) for x in rewards], dtype=torch.float32)
        if self.baseline is None:
            self.baseline = float(r.mean())
        advantage = r - self.baseline
        if self.normalize:
            ms = float((advantage**2).mean())
            if self.adv_ms is not None:
                self.adv_ms = self.baseline_decay * self.adv_ms + (1 - self.baseline_decay) * ms
            elif ms > 0:  # the first nonzero advantages start the average (a lone
                self.adv_ms = ms  # first reward has none: it is its own baseline)
            if self.adv_ms is not None:
                advantage = advantage / math.sqrt(self.adv_ms + 1e-12)
        with _one_thread(torch):
            log_prob, entropy = self.log_prob_and_entropy(choices)
            loss = -(advantage * log_prob).mean() - self.entropy_weight * entropy.mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        # The baseline moves after the step: the advantage above used past rewards only.
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * float(
            r.mean()
        )
        return {
            "loss": float(loss.detach()),
            "baseline": self.baseline,
            "entropy": float(entropy.detach().mean()),
        }

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable: parameters, optimizer and generator as base64 torch.save bytes."""
        torch = _torch()
        buffer = io.BytesIO()
        torch.save(
            {
                "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(),
            },
            buffer,
        )
        return {
            "torch": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "baseline": self.baseline,
            "adv_ms": self.adv_ms,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch = _torch()
        blob = base64.b64decode(state["torch"])
        saved = torch.load(io.BytesIO(blob), weights_only=True)
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        self.adv_ms = None if state["adv_ms"] is None else float(state["adv_ms"])


@STRATEGIES.register("rl")
class ReinforceSearch(Strategy):
    """NAS-RL: a `Controller` samples architectures, and every `batch_size` told results
    make one REINFORCE update (Zoph & Le used batches of parallel child networks).

    The reward is `result.score` (`reward="score"`, as in the paper) or, by default, its
    rank among the results told so far scaled to [0, 1] (`reward="rank"`): a few broken
    cells (NAS-Bench-201's 10%-accuracy ones) otherwise dominate the advantages' scale.
    FAILED and PRUNED results give no reward and are left out of the update.
    Architectures asked before an update and told after it are slightly off-policy;
    REINFORCE tolerates that for the small batches used here.

    With `dedup=True` (the default) no architecture is asked twice: the controller
    draws 1 + `max_resample` architectures and the first one not asked before is
    proposed. When the policy has concentrated so much that every draw was seen, the
    strategy walks by single mutations from the first draw to the nearest unseen
    architecture, so the budget is not spent on repeats late in a search. Repeats are
    not fed back as extra rewards: on NAS-Bench-201 that made the policy collapse onto
    one cell within ~50 queries.

    Defaults (batch 5, Adam lr 0.05, entropy weight 1e-3, hidden size 64, rank reward)
    were chosen on NAS-Bench-201 at 100-300 queries, 150-200 runs per setting: every
    setting tried (lr 0.01-0.2, batch 1-10, entropy 1e-3-1e-2, score or rank) gave 93.8
    to 93.97 mean final test accuracy on cifar10, so the choice matters little there;
    Zoph & Le trained 12,800 architectures with a larger controller.
    """

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        batch_size: int = 5,
        hidden_size: int = 64,
        lr: float = 0.05,
        entropy_weight: float = 1e-3,
        baseline_decay: float = 0.9,
        temperature: float = 1.0,
        tanh_constant: float | None = None,
        reward: str = "rank",
        dedup: bool = True,
        max_resample: int = 20,
    ) -> None:
        super().__init__(space, seed)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if reward not in ("rank", "score"):
            raise ConfigError(f"reward: choose 'rank' or 'score', not {reward!r}")
        self.reward = reward
        self.batch_size = int(batch_size)
        self.dedup = bool(dedup)
        self.max_resample = int(max_resample)
        self._size = space.size()
        self._decisions = list(space.decisions())
        self.controller = Controller(
            [len(d.options) for d in self._decisions],
            seed=int(self.rng.integers(2**62)),
            hidden_size=hidden_size,
            lr=lr,
            entropy_weight=entropy_weight,
            baseline_decay=baseline_decay,
            temperature=temperature,
            tanh_constant=tanh_constant,
        )
        self._scores: dict[Architecture, float | None] = {}  # told
        self._pending: dict[Architecture, int] = {}  # asked, not told: how many times
        self._buffer: list[tuple[list[int], float]] = []  # rewards waiting for an update
        self.n_updates = 0

    # --- genotype <-> choice vector -------------------------------------------------------
    def _to_arch(self, choices: Sequence[int]) -> Architecture:
        return self.space.make(
            [d.options[i] for d, i in zip(self._decisions, choices, strict=True)]
        )

    def _to_choices(self, arch: Architecture) -> list[int]:
        return [d.options.index(v) for d, v in zip(self._decisions, arch.values, strict=True)]

    # --- ask / tell -----------------------------------------------------------------------
    def ask(self) -> Architecture | None:
        if not self.dedup:
            arch = self._to_arch(self.controller.sample(1)[0])
        else:
            arch = self._sample_unseen()
        self._pending[arch] = self._pending.get(arch, 0) + 1
        return arch

    def _sample_unseen(self) -> Architecture:
        """The first unseen draw among 1 + max_resample, drawn in one batched pass; if the
        policy has concentrated on seen architectures, an unseen one close to its draw."""
        draws = self.controller.sample(1 + max(self.max_resample, 0))
        for choices in draws:
            arch = self._to_arch(choices)
            if not self._seen(arch):
                return arch
        return self._unseen_near(self._to_arch(draws[0]))

    def tell(self, arch: Architecture, result: Result) -> None:
        count = self._pending.get(arch, 0)
        if count > 1:
            self._pending[arch] = count - 1
        else:
            self._pending.pop(arch, None)
        if result.state is not TrialState.COMPLETE or result.score is None:
            self._scores.setdefault(arch, None)
            return
        score = float(result.score)
        self._scores[arch] = score
        self._learn(self._to_choices(arch), score)

    def _learn(self, choices: list[int], reward: float) -> None:
        if self.reward == "rank":
            # The reward's rank among the complete results so far, in [0, 1] (ties share
            # the mean rank; the reward itself is among the told ones).
            told = [v for v in self._scores.values() if v is not None]
            below = sum(v < reward for v in told) + 0.5 * (sum(v == reward for v in told) - 1)
            reward = below / max(len(told) - 1, 1)
        self._buffer.append((choices, reward))
        if len(self._buffer) >= self.batch_size:
            batch, self._buffer = self._buffer, []
            self.controller.update([c for c, _ in batch], [r for _, r in batch])
            self.n_updates += 1

    def _seen(self, arch: Architecture) -> bool:
        return arch in self._scores or arch in self._pending

    def _unseen_near(self, arch: Architecture) -> Architecture:
        """A random walk of single mutations from `arch` to the first unseen architecture:
        the nearest new ground around what the controller wants."""
        if self._size is not None and len(self._scores) + len(self._pending) >= self._size:
            return arch  # exhausted: a repeat is better than stopping
        for _ in range(10_000):
            arch = self.space.mutate(arch, self.rng)
            if not self._seen(arch):
                return arch
        return arch  # pragma: no cover - a huge space nearly all seen

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "controller": self.controller.state_dict(),
            "scores": [[a.to_json(), s] for a, s in self._scores.items()],
            "pending": [[a.to_json(), n] for a, n in self._pending.items()],
            "buffer": [[c, r] for c, r in self._buffer],
            "n_updates": self.n_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self._scores = {
            Architecture.from_json(a): None if s is None else float(s) for a, s in state["scores"]
        }
        self._pending = {Architecture.from_json(a): int(n) for a, n in state["pending"]}
        self._buffer = [([int(x) for x in c], float(r)) for c, r in state["buffer"]]
        self.n_updates = int(state["n_updates"])
