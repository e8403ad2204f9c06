"""DARTS: Liu, Simonyan and Yang, "DARTS: Differentiable Architecture Search", ICLR 2019.

Each edge computes the softmax(alpha)-weighted sum of all its candidate ops (the
continuous relaxation, eq. 2). Weights w and architecture alpha are optimised bi-level
(eq. 3-4): w by SGD on the training half, alpha by Adam on the validation half. The
architecture gradient is

* first order: grad_alpha L_val(w, alpha), w taken as already optimal;
* second order (eq. 6-8): the gradient through one virtual SGD step
  w' = w - xi * grad_w L_train(w, alpha):

      grad_alpha L_val(w', alpha) - xi * grad2_{alpha,w} L_train(w, alpha) . grad_w' L_val(w', a)

  with the Hessian-vector product taken by central finite differences,
  (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
  w+- = w +- eps * v, eps = 0.01 / ||v|| (the paper's choice). The virtual step here is
  plain SGD (the DARTS code adds momentum and weight decay to it; xi is the current
  weight learning rate, as there).

The cell is derived by taking the op with the largest alpha on each edge, `none`
excluded (section 2.4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from archsearch.core.errors import ConfigError
from archsearch.oneshot.base import METHODS, Batches, StepContext, Supernet
from archsearch.oneshot.differentiable import GradientMethod
from archsearch.oneshot.supernet import PathSpec
from archsearch.space.base import SearchSpace

Loss = Callable[[], torch.Tensor]


def _grads(loss: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """d loss / d params, zeros for parameters the loss does not use."""
    grads = torch.autograd.grad(loss, list(params), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def unrolled_arch_grad(
    weights: Sequence[torch.Tensor],
    alphas: Sequence[torch.Tensor],
    train_loss: Loss,
    val_loss: Loss,
    xi: float,
    eps: float = 0.01,
) -> list[torch.Tensor]:
    """DARTS's second-order architecture gradient (eq. 7-8), see the module docstring.

    `train_loss` and `val_loss` recompute their losses from the current values of
    `weights` and `alphas`; the weights are moved in place and restored exactly (from a
    copy) before returning.
    """
    weights = list(weights)
    alphas = list(alphas)
    saved = [w.detach().clone() for w in weights]
    try:
        g_train = _grads(train_loss(), weights)
        with torch.no_grad():
            for w, g in zip(weights, g_train, strict=True):
                w.sub_(xi * g)  # the virtual step w' = w - xi * grad_w L_train
        grads = _grads(val_loss(), alphas + weights)
        d_alpha, v = grads[: len(alphas)], grads[len(alphas) :]
        norm = torch.sqrt(sum((g * g).sum() for g in v))  # type: ignore[arg-type]
        r = eps / float(norm) if float(norm) > 0 else 0.0
        if r == 0.0:
            return d_alpha
        with torch.no_grad():
            for w, s, g in zip(weights, saved, v, strict=True):
                w.copy_(s + r * g)
        g_plus = _grads(train_loss(), alphas)
        with torch.no_grad():
            for w, s, g in zip(weights, saved, v, strict=True):
                w.copy_(s - r * g)
        g_minus = _grads(train_loss(), alphas)
        return [
            d - xi * (gp - gm) / (2 * r) for d, gp, gm in zip(d_alpha, g_plus, g_minus, strict=True)
        ]
    finally:
        with torch.no_grad():
            for w, s in zip(weights, saved, strict=True):
                w.copy_(s)


@METHODS.register("darts")
class DARTS(GradientMethod):
    """DARTS on the NB201 supernet; `order` 1 or 2 (see the module docstring)."""

    name = "darts"

    def __init__(
        self,
        supernet: Supernet,
        space: SearchSpace,
        seed: int,
        order: int = 1,
        **options: Any,
    ) -> None:
        super().__init__(supernet, space, seed, **options)
        if order not in (1, 2):
            raise ConfigError(f"darts order must be 1 or 2, got {order!r}")
        self.order = int(order)

    def aux_skip(self, ctx: StepContext) -> float:
        """The auxiliary skip's weight (0: plain DARTS; DARTS- overrides it)."""
        return 0.0

    def op_weights(self) -> torch.Tensor:
        """The per-edge op weights [E, K] the supernet runs with: softmax(alpha)."""
        return torch.softmax(self.alpha, dim=-1)

    def spec(self) -> PathSpec:
        return PathSpec(weights=self.op_weights())

    def train_step(
        self, batches: Batches, w_optimizer: torch.optim.Optimizer, ctx: StepContext
    ) -> float:
        aux = self.aux_skip(ctx)
        if not self.arch_frozen(ctx.progress):
            self.arch_step(batches, ctx, aux)
        return self.weights_step(
            PathSpec(weights=self.op_weights().detach()), batches, w_optimizer, aux
        )

    def arch_step(self, batches: Batches, ctx: StepContext, aux: float) -> None:
        net = self.supernet
        net.train()

        def val_loss() -> torch.Tensor:
            return F.cross_entropy(net(batches.x_val, self.spec(), aux), batches.y_val)

        def train_loss() -> torch.Tensor:
            return F.cross_entropy(net(batches.x_train, self.spec(), aux), batches.y_train)

        self.arch_optimizer.zero_grad(set_to_none=True)
        if self.order == 1:
            (grad,) = _grads(val_loss(), [self.alpha])
        else:
            weights = [p for p in net.parameters() if p.requires_grad]
            (grad,) = unrolled_arch_grad(weights, [self.alpha], train_loss, val_loss, ctx.w_lr)
        self.alpha.grad = grad.detach()
        self.arch_optimizer.step()
        net.zero_grad(set_to_none=True)

    def describe(self) -> dict[str, Any]:
        return {"order": self.order}
