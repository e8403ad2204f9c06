"""NASWOT: Mellor, Turner, Storkey and Crowley, "Neural Architecture Search without
Training", ICML 2021.

Each ReLU turns a sample into a binary code (which units are active). With c_i the
codes of sample i concatenated over all ReLUs and N_A their length, the kernel is
K_H[i, j] = N_A - d_H(c_i, c_j) (d_H the Hamming distance), i.e. the sum over ReLUs of
c c^T + (1 - c)(1 - c)^T; the score is log |det K_H|. Samples the network tells apart
have distant codes and a K_H near diagonal, so a larger score. ReLUs are found as
`nn.ReLU` modules (functional relu calls are not seen); a network without any gives
K_H = 0 and a score of -inf, as do identical codes for two samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from archsearch.estimation.proxies.base import PROXIES, LossFn, working_copy

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


def hamming_kernel(codes: list[np.ndarray]) -> np.ndarray:
    """K_H from per-layer binary codes (each n x units, 0/1)."""
    n = len(codes[0]) if codes else 0
    kernel = np.zeros((n, n))
    for c in codes:
        c = c.astype(np.float64)
        kernel += c @ c.T + (1.0 - c) @ (1.0 - c).T
    return kernel


def log_det(kernel: np.ndarray) -> float:
    """log |det K| (-inf for a singular kernel)."""
    sign, value = np.linalg.slogdet(kernel)
    return float(value) if sign != 0 else float("-inf")


@PROXIES.register("naswot")
def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> float:
    """log |det K_H| of the ReLU activation codes of one minibatch."""
    import torch
    from torch import nn

    net = working_copy(model)
    n = len(x)
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(_module: nn.Module, inputs: Any, _out: Any) -> None:
        nonlocal kernel
        c = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel += (c @ c.T + (1.0 - c) @ (1.0 - c).T).cpu()

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for handle in handles:
        handle.remove()
    return log_det(kernel.numpy())
