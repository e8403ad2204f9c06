"""DrNAS: Chen, Wang, Cheng, Tang and Hsieh, "DrNAS: Dirichlet Neural Architecture
Search", ICLR 2021.

DrNAS treats each edge's op mixing weights as a random variable with a Dirichlet
distribution, theta_e ~ Dir(beta_e), and learns the concentration beta_e by gradient
descent on the validation loss through pathwise (reparameterised) Dirichlet samples. The
concentration is parameterised as beta = elu(alpha) + 1 > 0, so alpha starts near 0
(beta near 1, the uniform Dirichlet) as in DARTS. Every forward pass of the search draws
a fresh theta, for the architecture step and for the weight step alike: the noise keeps
the supernet's weights trained under many mixtures (the paper's exploration) and
smooths the validation loss the architecture follows, which the paper credits for
avoiding DARTS's collapse onto parameter-free ops. The anchor regulariser is the L2
penalty on alpha of the architecture optimizer (`arch_weight_decay`, 1e-3, the paper's
`reg_scale` for L2); the optimizer and the bi-level schedule are DARTS's (first or second
order). The cell is the op with the largest concentration on each edge, `none` excluded
(the argmax of the Dirichlet mean).

Progressive learning (section 3.3) is the option `keep`: after the first half of the
search every edge keeps only its `keep` ops of largest concentration (the Dirichlet runs
over those ops; the others get weight 0 and are never chosen), and the second half
trains the pruned supernet. The paper's NAS-Bench-201 search prunes from 5 ops to 3
between two stages of 50 epochs, and also widens the partial-channel fraction from 1/4
to 1/2 at that point to save GPU memory; here the channel fraction stays what the
search's `partial_channels` says for the whole search. The paper's search also freezes
the concentration for the first 10 epochs of each stage while the weights train; here
that is the `warmup` option every gradient method has (a fraction of the whole search).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.oneshot.base import METHODS, Batches, StepContext, Supernet, argmax_cell
from archsearch.oneshot.darts import DARTS
from archsearch.space.base import SearchSpace


@METHODS.register("drnas")
class DrNAS(DARTS):
    """DARTS with Dirichlet-distributed op weights (see the module docstring)."""

    name = "drnas"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        keep: int | None = None,
        **options: Any,
    ) -> None:
        if space.name != "nb201":  # its per-edge pruning and projection follow NB201's cell
            raise ConfigError("drnas is implemented for the nb201 space only")
        super().__init__(supernet, space, seed, **options)
        n_ops = len(supernet.op_names)
        if keep is not None and (int(keep) != keep or not 1 <= keep <= n_ops):
            raise ConfigError(f"keep must be a whole number between 1 and {n_ops}, got {keep!r}")
        self.keep = None if keep is None else int(keep)
        #: ops still in the search on each edge (all of them until the pruning)
        self.mask = torch.ones(supernet.n_edges, n_ops, dtype=torch.bool)

    def concentration(self) -> torch.Tensor:
        """beta = elu(alpha) + 1, the Dirichlet concentration of every edge [E, K]."""
        return F.elu(self.alpha) + 1.0

    def op_weights(self) -> torch.Tensor:
        """A pathwise Dirichlet sample of every edge's op weights (a fresh one per call)."""
        # torch's Dirichlet sampler takes no generator: seed a forked global generator
        # from the method's own, so the search is reproducible and resumable.
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        beta = self.concentration()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if bool(self.mask.all()):
                return torch.distributions.Dirichlet(beta).rsample()
            # Pruned ops get weight 0: the Dirichlet runs over each edge's kept ops.
            kept = int(self.mask[0].sum())
            theta = torch.distributions.Dirichlet(beta[self.mask].view(-1, kept)).rsample()
        weights = torch.zeros_like(beta)
        return weights.masked_scatter(self.mask, theta)

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        if self.keep is not None and ctx.progress >= 0.5 and bool(self.mask.all()):
            self.prune()
        return super().train_step(batches, w_optimizer, ctx)

    def prune(self) -> None:
        """Keep the `keep` ops of largest concentration on every edge (progressive stage)."""
        assert self.keep is not None
        top = self.alpha.detach().topk(self.keep, dim=1).indices
        self.mask = torch.zeros_like(self.mask).scatter_(1, top, True)

    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        scores = self.alpha.detach().masked_fill(~self.mask, -float("inf"))
        return self.arch_of(argmax_cell(scores))

    def arch_probabilities(self) -> list[list[float]]:
        """The Dirichlet mean of every edge's op weights."""
        beta = self.concentration().detach() * self.mask
        return (beta / beta.sum(dim=1, keepdim=True)).tolist()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "mask": self.mask.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.mask = state["mask"].clone()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "ops_kept": int(self.mask[0].sum())}
