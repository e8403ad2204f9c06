"""Jacobian covariance: Mellor, Turner, Storkey and Crowley, "Neural Architecture Search
without Training", arXiv:2006.04647 v1 (2020); the form used by Abdelfattah et al.,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021.

Per-sample input gradients J_i = d(sum of outputs_i)/dx_i over one minibatch; with
Sigma their correlation matrix and lambda its eigenvalues,
score = -sum_i [log(lambda_i + k) + 1 / (lambda_i + k)], k = 1e-5. Networks whose inputs
map to less correlated Jacobians (higher score) tend to train better.
A network whose Jacobian is constant for some sample (e.g. a cell that disconnects
input from output) has no correlation matrix: the score is NaN (a study records such a
trial as FAILED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from archsearch.estimation.proxies.base import PROXIES, LossFn, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

K = 1e-5


def jacobian_score(jacobians: np.ndarray) -> float:
    """The score of per-sample Jacobians, one row per sample (NaN when undefined)."""
    rows = np.asarray(jacobians, dtype=np.float64).reshape(len(jacobians), -1)
    if len(rows) < 2 or np.any(rows.std(axis=1) == 0) or not np.all(np.isfinite(rows)):
        return float("nan")
    corr = np.corrcoef(rows)
    eig = np.linalg.eigvalsh(corr)  # symmetric: real eigenvalues
    return float(-np.sum(np.log(eig + K) + 1.0 / (eig + K)))


@PROXIES.register("jacob_cov")
def jacob_cov(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """Correlation of the per-sample input Jacobians of the summed outputs."""
    net = working_copy(model)
    inputs = x.detach().clone().requires_grad_(True)
    out = net(inputs)
    out.sum().backward()
    assert inputs.grad is not None
    return jacobian_score(inputs.grad.detach().cpu().numpy())
