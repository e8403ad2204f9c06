"""Zero-cost proxies: score an untrained network from one minibatch (Abdelfattah et al.,
"Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

`PROXIES` maps short names to `score(model, x, y, loss_fn) -> float` (higher: predicted
better): synflow, snip, grad_norm, grasp, fisher, jacob_cov, naswot, and the baselines
params and flops. `ProxyEvaluator` (registered as the "proxy" evaluator) scores trials
with one of them; `proxy_scorer` makes the scorer a `ProxyPrefilter` takes;
`score_many` computes several at once, sharing the passes they have in common.
Importing this package does not import torch.
"""

from archsearch.estimation.proxies import (  # noqa: F401  (each module registers its proxy)
    baselines,
    fisher,
    grad_norm,
    grasp,
    jacob_cov,
    naswot,
    snip,
    synflow,
)
from archsearch.estimation.proxies.base import PROXIES, LossFn, ProxyFn
from archsearch.estimation.proxies.combined import score_many
from archsearch.estimation.proxies.evaluator import ProxyEvaluator, proxy_scorer

__all__ = ["PROXIES", "LossFn", "ProxyEvaluator", "ProxyFn", "proxy_scorer", "score_many"]
