"""Zero-cost proxies as an evaluator, and as a scorer for `ProxyPrefilter`.

`ProxyEvaluator` builds the network of an architecture (`space.build(arch, task)`) and
scores it, untrained, with one registered proxy on one minibatch of the task's training
data (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021: one
minibatch of 64 training images). The data comes from a `TrainingEvaluator` (the same
loading, validation split and normalisation as training), and the minibatch is a fixed
seeded draw from the training split, the same for every trial, so that architectures are
compared on the same images; the weight initialisation is seeded by the trial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Reporter, Result
from archsearch.estimation.base import EVALUATORS, Evaluator, TrialContext
from archsearch.estimation.loop import intra_op_threads
from archsearch.estimation.proxies.base import PROXIES
from archsearch.estimation.training import TrainingEvaluator
from archsearch.space.base import SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from archsearch.datasets.base import Dataset


@EVALUATORS.register("proxy")
class ProxyEvaluator(Evaluator):
    """Scores an untrained network with the zero-cost proxy `proxy` (a `PROXIES` name).

    Metrics: the proxy's score under its own name (the study's metric, to maximise),
    `params` and `flops` (one sample). `Result.cost` is the trial's wall seconds (build,
    proxy and counts; loading the data once per evaluator is not charged). A proxy that
    is undefined for a network (e.g. jacob_cov of a cell that disconnects input from
    output) returns NaN or -inf, which a study records as a FAILED trial.
    """

    mode = "max"

    def __init__(
        self,
        proxy: str = "synflow",
        dataset: str | Dataset = "digits",
        *,
        space: SearchSpace | str | None = None,
        data_dir: str | None = None,
        batch_size: int = 64,
        batch_seed: int = 0,
        split_seed: int = 0,
        val_fraction: float = 0.1,
        resolution: int | None = None,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        self.proxy = proxy
        self.score_fn = PROXIES.get(proxy)  # an unknown name is a clear error here
        # The metric is the proxy's name, so it is set per instance (the base class
        # declares a class-wide default).
        object.__setattr__(self, "metric", proxy)
        if int(batch_size) != batch_size or batch_size < 2:
            raise ConfigError(f"batch_size must be a whole number >= 2, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.batch_seed = int(batch_seed)
        self.threads = int(threads)
        self.device = device
        self.trainer = TrainingEvaluator(
            dataset,
            space=space,
            data_dir=data_dir,
            split_seed=split_seed,
            val_fraction=val_fraction,
            resolution=resolution,
            threads=threads,
            device=device,
        )
        self._batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def minibatch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch every trial is scored on: `batch_size` training images drawn
        without replacement by `batch_seed` (all of them, if the split is smaller)."""
        if self._batch is None:
            import torch

            data = self.trainer.train_data()
            generator = torch.Generator().manual_seed(self.batch_seed)
            order = torch.randperm(len(data.y_train), generator=generator)[: self.batch_size]
            order = order.to(data.x_train.device)
            self._batch = (data.x_train[order], data.y_train[order])
        return self._batch

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        import torch
        import torch.nn.functional as F

        from archsearch.nn.measure import count_flops, count_params

        space = self.trainer.space_of(arch)
        space.validate(arch)
        x, y = self.minibatch()
        task = self.trainer.train_data().task
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]), intra_op_threads(self.threads):
            torch.manual_seed(ctx.seed)  # weight initialisation; the caller's RNG comes back
            model = space.build(arch, task).to(self.device)
            value = self.score_fn(model, x, y, F.cross_entropy)
            metrics = {
                self.proxy: float(value),
                "params": float(count_params(model)),
                "flops": float(count_flops(model, x[:1])),
            }
        return Result.complete(metrics, cost=time.perf_counter() - start)

    def supports(self, space: SearchSpace) -> bool:
        return self.trainer.supports(space)

    def describe(self) -> dict[str, Any]:
        trainer = self.trainer.describe()
        return {
            "proxy": self.proxy,
            "dataset": trainer["dataset"],
            "batch_size": self.batch_size,
            "batch_seed": self.batch_seed,
            "split_seed": trainer["split_seed"],
            "resolution": trainer["resolution"],
            "device": self.device,
        }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_batch"] = None  # rebuilt from the trainer's data in a worker
        return state


def proxy_scorer(
    name: str,
    space: SearchSpace,
    dataset: str | Dataset = "digits",
    *,
    seed: int = 0,
    **options: Any,
) -> Callable[[Architecture], float]:
    """A callable arch -> proxy score for `ProxyPrefilter`: a `ProxyEvaluator` for `name`
    on `dataset` (`options` are its settings), every network initialised with `seed`.
    An undefined score (NaN) comes back as -inf, so it ranks last."""
    import math

    evaluator = ProxyEvaluator(name, dataset, space=space, **options)
    ctx = TrialContext(number=0, seed=seed, reporter=Reporter())

    def score(arch: Architecture) -> float:
        value = evaluator.evaluate(arch, ctx).metrics[name]
        return value if not math.isnan(value) else float("-inf")

    return score
