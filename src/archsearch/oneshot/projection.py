"""A remedy for DARTS's collapse that changes how the cell is chosen, not how the supernet
is trained: perturbation-based architecture selection, DARTS-PT (Wang, Cheng, Chen, Tang
and Hsieh, "Rethinking Architecture Selection in Differentiable NAS", ICLR 2021).

The paper's finding: the magnitude of alpha does not say how much an op contributes to
the supernet; skip_connect's alpha grows because a residual path eases the supernet's
optimisation, and the argmax picks it. DARTS-PT measures each op's contribution
directly. One edge at a time, chosen at random among the undecided ones, it removes each
candidate op from that edge in turn (its weight set to 0, the others left as they are),
scores the supernet on validation data, and keeps the op whose removal costs the most
accuracy; the edge is then fixed to that op (a one-hot weight) for the rest of the
search. Between two decisions the supernet trains on for `tune_epochs` epochs, so the
other edges adapt to the fixed one (the paper's projection interval).

Here the projections take the last `tune_epochs * (edges - 1)` epochs of the search:
the first edge is decided at the end of epoch `epochs - tune_epochs * (edges - 1)`
(at least epoch 1), the next ones every `tune_epochs` epochs, and any edge still open
when the search ends is decided by `derive`, one after the other without tuning
(`tune_epochs=0` decides every edge there: selection on the finished supernet at no
extra training). The paper instead adds the tuning epochs after a full search, with a
tenth of the weight learning rate; here the cosine schedule is already near its end.
Everything else, the supernet's training included, is first- or second-order DARTS.
The accuracy is measured on the search's evaluation images (`eval_size`); ties go to
the op whose removal raises the loss most.
"""

from __future__ import annotations

from typing import Any

import torch

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.oneshot.base import METHODS, StepContext, Supernet, argmax_cell, supernet_score
from archsearch.oneshot.darts import DARTS
from archsearch.oneshot.supernet import PathSpec
from archsearch.space.base import SearchSpace


@METHODS.register("darts-pt")
class DARTSPT(DARTS):
    """DARTS with perturbation-based selection (see the module docstring)."""

    name = "darts-pt"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        tune_epochs: int = 1,
        **options: Any,
    ) -> None:
        if space.name != "nb201":  # its per-edge pruning and projection follow NB201's cell
            raise ConfigError("darts-pt is implemented for the nb201 space only")
        super().__init__(supernet, space, seed, **options)
        if int(tune_epochs) != tune_epochs or tune_epochs < 0:
            raise ConfigError(f"tune_epochs must be a whole number >= 0, got {tune_epochs!r}")
        self.tune_epochs = int(tune_epochs)
        #: the op fixed on each edge, -1 while the edge is open
        self.decided = [-1] * supernet.n_edges

    def op_weights(self) -> torch.Tensor:
        weights = torch.softmax(self.alpha, dim=-1)
        fixed = torch.tensor([d >= 0 for d in self.decided])
        if not fixed.any():
            return weights
        one_hot = torch.zeros_like(weights)
        for edge, op in enumerate(self.decided):
            if op >= 0:
                one_hot[edge, op] = 1.0
        return torch.where(fixed[:, None], one_hot, weights)

    def first_projection_epoch(self, epochs: int) -> int:
        return max(1, epochs - self.tune_epochs * (len(self.decided) - 1))

    def end_epoch(self, val_x: torch.Tensor, val_y: torch.Tensor, ctx: StepContext) -> None:
        if self.tune_epochs == 0:
            return
        since = ctx.epoch - self.first_projection_epoch(ctx.epochs)
        if since >= 0 and since % self.tune_epochs == 0 and -1 in self.decided:
            self.project_edge(val_x, val_y)

    def project_edge(self, val_x: torch.Tensor, val_y: torch.Tensor) -> tuple[int, int]:
        """Decide one open edge, chosen at random: keep the op whose removal lowers the
        supernet's validation accuracy most. Returns (edge, op)."""
        open_edges = [e for e, op in enumerate(self.decided) if op < 0]
        pick = int(torch.randint(len(open_edges), (1,), generator=self.generator))
        edge = open_edges[pick]
        base = self.op_weights().detach()
        worst: tuple[float, float] | None = None
        chosen = 0
        for op in range(base.shape[1]):
            weights = base.clone()
            weights[edge, op] = 0.0
            acc, loss = supernet_score(self.supernet, PathSpec(weights=weights), val_x, val_y)
            if worst is None or (acc, -loss) < worst:
                worst, chosen = (acc, -loss), op
        self.decided[edge] = chosen
        return edge, chosen

    def epoch_arch(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        """The decided edges, and alpha's argmax on the open ones (a projection per epoch
        would cost a search of its own)."""
        cell = argmax_cell(self.alpha)
        return self.arch_of(
            [op if op >= 0 else c for op, c in zip(self.decided, cell, strict=True)]
        )

    def derive(self, val_x: torch.Tensor, val_y: torch.Tensor) -> Architecture:
        while -1 in self.decided:
            self.project_edge(val_x, val_y)
        return self.arch_of(self.decided)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "decided": list(self.decided)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.decided = [int(op) for op in state["decided"]]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "decided_edges": sum(op >= 0 for op in self.decided)}
