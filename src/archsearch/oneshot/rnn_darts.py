"""DARTS for recurrent cells: Liu, Simonyan and Yang, "DARTS: Differentiable Architecture
Search", ICLR 2019 (Sec. 2.2-2.4 and 3.1.2; Appendix A.1.2 for the settings).

The supernet (`archsearch.oneshot.rnn_supernet`) mixes every (input, activation) pair of
every node with weights softmax(alpha), alpha in R^{edges x 5} initialised at 1e-3 N(0, 1).
Bi-level optimisation, alternating one step each per BPTT window:

* alpha: Adam (lr 3e-3, weight decay 1e-3, default betas, as DARTS' RNN search) on the
  next window of the validation stream, first order (w taken as optimal, eq. 5 with
  xi = 0);
* weights: SGD (lr 20, weight decay 5e-7, gradients clipped at 0.25, constant lr as in
  DARTS' search) on the next window of the training stream.

Each stream carries its own hidden state across windows (truncated BPTT). The derived
cell keeps, for every node, the single incoming edge whose strongest non-`none` op has
the largest weight, with that op (Sec. 2.4: "retain the top-k strongest operations ...
k = 1 for recurrent cells"); the genotype is in the `rnn_cell` space.

Why a loop of its own: `archsearch.oneshot.driver` and the `OneShotMethod`s are built
around image batches (x, y) that are independent of each other, cross-entropy over one
label per image and the NB201 / DARTS-CNN supernets. A language model needs a hidden
state carried between consecutive windows of two token streams, per-token losses and
the corpus' own splits, so this module is the small loop that needs, reusing the
training evaluator's pieces (`intra_op_threads`, `make_optimizer`, `TrainingDiverged`)
and the language-model helpers of `archsearch.estimation.language`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from archsearch.core.errors import ConfigError, require_whole_numbers
from archsearch.core.genotype import Architecture
from archsearch.estimation.language import evaluate_lm, perplexity
from archsearch.estimation.loop import TrainingDiverged, intra_op_threads, make_optimizer, seeded
from archsearch.nn.recurrent import lm_loss
from archsearch.oneshot.rnn_supernet import RNN_OPS, RNNSupernet
from archsearch.space.recurrent import RecurrentSpace

if TYPE_CHECKING:  # pragma: no cover
    from archsearch.datasets.text import Corpus


def derive_rnn_cell(alpha: torch.Tensor, space: RecurrentSpace) -> Architecture:
    """DARTS' derivation for recurrent cells (its `model_search.genotype`): per node, the
    input whose best non-`none` op weight is largest, with that op."""
    probs = torch.softmax(alpha.detach(), dim=-1).clone()
    probs[:, RNN_OPS.index("none")] = -1.0
    pairs: list[tuple[str, int]] = []
    offset = 0
    for i in range(1, space.nodes + 1):
        rows = probs[offset : offset + i]  # inputs 0..i-1
        best, ops = rows.max(dim=1)
        j = int(best.argmax())
        pairs.append((RNN_OPS[int(ops[j])], j))
        offset += i
    return space.from_cell(pairs)


@dataclass
class RNNSearchResult:
    """A finished search: the derived cell, alpha's final softmax, one record per epoch,
    the wall seconds of the search (data loading excluded) and the settings used."""

    arch: Architecture
    genotype: str
    probabilities: list[list[float]]
    history: list[dict[str, Any]] = field(default_factory=list)
    search_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["arch"] = self.arch.to_dict()
        return out


class RNNDarts:
    """The state of one search: supernet, alpha and both optimizers (see the module
    docstring). `arch_step` on a validation window, then `weight_step` on a training
    window, is one alternation; `derive()` is the cell alpha gives now."""

    def __init__(
        self,
        space: RecurrentSpace,
        vocab_size: int,
        *,
        lr: float = 20.0,
        weight_decay: float = 5e-7,
        grad_clip: float = 0.25,
        arch_lr: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        for key, value in (("lr", lr), ("arch_lr", arch_lr), ("grad_clip", grad_clip)):
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{key} must be > 0, got {value}")
        self.space = space
        self.net = RNNSupernet(
            vocab_size,
            space.hidden_size,
            space.nodes,
            dropout=space.dropout,
            dropouth=space.dropouth,
            dropoutx=space.dropoutx,
            dropouti=space.dropouti,
        )
        init = 1e-3 * torch.randn(self.net.n_edges, len(RNN_OPS), generator=generator)
        self.alpha = torch.nn.Parameter(init)
        self.lr, self.grad_clip = float(lr), float(grad_clip)
        self.w_optimizer = make_optimizer(
            "sgd", self.net.parameters(), lr, 0.0, False, weight_decay
        )
        self.arch_optimizer = torch.optim.Adam(
            [self.alpha], lr=arch_lr, weight_decay=arch_weight_decay
        )
        self.weight_params = [p for p in self.net.parameters() if p.requires_grad]

    def weights(self, detach: bool = False) -> torch.Tensor:
        return torch.softmax(self.alpha.detach() if detach else self.alpha, dim=-1)

    def arch_step(
        self, xv: torch.Tensor, yv: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        """One first-order Adam step on alpha from a validation window; returns its loss
        and the carried hidden state."""
        self.net.train()
        logits, hidden_out = self.net(xv, hidden, weights=self.weights())
        loss = lm_loss(logits, yv)
        (grad,) = torch.autograd.grad(loss, [self.alpha])
        self.arch_optimizer.zero_grad(set_to_none=True)
        self.alpha.grad = grad
        self.arch_optimizer.step()
        assert isinstance(hidden_out, torch.Tensor)
        return float(loss.detach()), hidden_out.detach()

    def weight_step(
        self, x: torch.Tensor, y: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[float, torch.Tensor]:
        """One clipped SGD step on the supernet's weights from a training window."""
        self.net.train()
        logits, hidden_out = self.net(x, hidden, weights=self.weights(detach=True))
        loss = lm_loss(logits, y)
        self.w_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.weight_params, self.grad_clip)
        self.w_optimizer.step()
        assert isinstance(hidden_out, torch.Tensor)
        return float(loss.detach()), hidden_out.detach()

    def derive(self) -> Architecture:
        return derive_rnn_cell(self.alpha, self.space)


def darts_rnn_search(
    corpus: str | Corpus = "ptb",
    *,
    space: RecurrentSpace | None = None,
    data_dir: str | None = None,
    verify: bool = True,
    epochs: int = 1,
    batch_size: int = 64,
    bptt: int = 35,
    lr: float = 20.0,
    weight_decay: float = 5e-7,
    grad_clip: float = 0.25,
    arch_lr: float = 3e-3,
    arch_weight_decay: float = 1e-3,
    data_fraction: float = 1.0,
    eval_batch_size: int = 10,
    seed: int = 0,
    threads: int = 1,
    diverge_factor: float | None = 10.0,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> RNNSearchResult:
    """Search a recurrent cell with first-order DARTS on a corpus' training stream (the
    first `data_fraction` of it, `batch_size` columns, windows of `bptt`), alpha learned
    on its validation stream; returns the derived `rnn_cell` genotype.

    After each epoch `on_epoch` gets a record: epoch, train and arch losses (mean per
    token), the supernet's validation perplexity with the current alpha (scored on
    `eval_batch_size` columns), the derived cell, and seconds. Same seed, same threads:
    same result. Raises `TrainingDiverged` if the weights' loss diverges.
    """
    from archsearch.datasets.text import batchify, bptt_batches, load_corpus

    space = space if space is not None else RecurrentSpace()
    require_whole_numbers({"epochs": epochs, "batch_size": batch_size, "bptt": bptt})
    if not 0.0 < data_fraction <= 1.0:
        raise ConfigError(f"data_fraction must be in (0, 1], got {data_fraction}")
    data = corpus if not isinstance(corpus, str) else load_corpus(corpus, data_dir, verify=verify)
    train_tokens = data.train[: max(2 * batch_size, math.ceil(data_fraction * len(data.train)))]
    train = batchify(train_tokens, batch_size)
    search_valid = batchify(data.valid, batch_size)
    score_valid = batchify(data.valid, eval_batch_size)
    settings = {
        "corpus": data.name,
        "epochs": epochs,
        "batch_size": batch_size,
        "bptt": bptt,
        "lr": lr,
        "weight_decay": weight_decay,
        "grad_clip": grad_clip,
        "arch_lr": arch_lr,
        "arch_weight_decay": arch_weight_decay,
        "data_fraction": data_fraction,
        "train_tokens": len(train_tokens),
        "hidden_size": space.hidden_size,
        "nodes": space.nodes,
        "seed": seed,
        "threads": threads,
        "order": 1,
    }
    history: list[dict[str, Any]] = []
    start = time.perf_counter()
    with seeded(seed) as generator, intra_op_threads(threads):
        search = RNNDarts(
            space,
            data.vocab_size,
            lr=lr,
            weight_decay=weight_decay,
            grad_clip=grad_clip,
            arch_lr=arch_lr,
            arch_weight_decay=arch_weight_decay,
            generator=generator,
        )
        limit = math.inf
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            hidden = search.net.init_hidden(batch_size)
            hidden_val = search.net.init_hidden(batch_size)
            assert isinstance(hidden, torch.Tensor) and isinstance(hidden_val, torch.Tensor)
            val_windows = bptt_batches(search_valid, bptt)
            sums = {"train": 0.0, "arch": 0.0}
            n = 0
            for x, y in bptt_batches(train, bptt):
                window = next(val_windows, None)
                if window is None:  # the validation stream is shorter: start it again
                    val_windows = bptt_batches(search_valid, bptt)
                    window = next(val_windows)
                    hidden_val = hidden_val.new_zeros(hidden_val.shape)
                arch_loss, hidden_val = search.arch_step(*window, hidden_val)
                train_loss, hidden = search.weight_step(x, y, hidden)
                if not math.isfinite(train_loss) or train_loss > limit:
                    raise TrainingDiverged(
                        f"supernet loss diverged at epoch {epoch}: {train_loss:.4g}"
                    )
                if math.isinf(limit) and diverge_factor is not None:
                    limit = diverge_factor * max(train_loss, math.log(data.vocab_size))
                sums["train"] += train_loss
                sums["arch"] += arch_loss
                n += 1
            arch = search.derive()
            val_loss = _supernet_loss(search, score_valid, bptt)
            record = {
                "epoch": epoch,
                "train_loss": sums["train"] / max(1, n),
                "arch_loss": sums["arch"] / max(1, n),
                "supernet_val_ppl": perplexity(val_loss),
                "arch": space.describe(arch),
                "seconds": time.perf_counter() - started,
            }
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
        arch = search.derive()
        probabilities = search.weights(detach=True).tolist()
    return RNNSearchResult(
        arch,
        space.describe(arch),
        probabilities,
        history,
        time.perf_counter() - start,
        settings,
    )


class _BoundSupernet(torch.nn.Module):
    """The supernet with fixed architecture weights, shaped like a plain language model
    (`init_hidden`, `forward(x, hidden)`) for `evaluate_lm`."""

    def __init__(self, net: RNNSupernet, weights: torch.Tensor) -> None:
        super().__init__()
        self.net, self.weights = net, weights

    def init_hidden(self, batch: int) -> Any:
        return self.net.init_hidden(batch)

    def forward(self, x: torch.Tensor, hidden: Any) -> Any:
        return self.net(x, hidden, weights=self.weights)


def _supernet_loss(search: RNNDarts, data: torch.Tensor, bptt: int) -> float:
    """The supernet's validation loss with the current architecture weights."""
    return evaluate_lm(_BoundSupernet(search.net, search.weights(detach=True)), data, bptt)
