"""Language modelling from scratch: the evaluator that recurrent cell searches rest on.

Each trial builds the language model of its cell (`space.build(arch, task)`, with
`task = TaskSpec((bptt,), vocabulary size)`) and trains it on the corpus' training stream
by truncated back-propagation through time: the stream is cut into `batch_size` columns
and read in windows of `bptt` tokens, the hidden state carried across windows and
detached between them (Zaremba et al., "Recurrent Neural Network Regularization", 2014).
The optimizer is DARTS' and ENAS' for recurrent cells (Liu et al., ICLR 2019; Pham et
al., ICML 2018): plain SGD with a large learning rate (20), gradients clipped at norm
0.25, weight decay 5e-7; the learning rate is annealed by a cosine over all steps
(`cosine_lr`, shared with the image evaluator) because a few CPU epochs leave no room
for DARTS' "decay when validation stalls". Validation perplexity, exp(mean
cross-entropy per token), is reported after every epoch; it is the search metric,
minimised.

Low fidelity: fewer epochs (or `ctx.resource`), the first `data_fraction` of the
training stream, and the first `eval_fraction` of the validation stream. A NaN, infinite
or exploding loss is `TrainingDiverged`, a FAILED trial. Determinism, threads,
checkpoints for promoted trials and pickling for worker processes follow
`TrainingEvaluator` (`archsearch.estimation.training`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from archsearch.core.errors import ConfigError, require_whole_numbers
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.core.trial import Reporter, Result
from archsearch.estimation.base import EVALUATORS, Evaluator, TrialContext, resolve_space
from archsearch.estimation.loop import (
    FinalFit,
    TrainingDiverged,
    cosine_lr,
    intra_op_threads,
    make_optimizer,
    seeded,
    train_trial,
)
from archsearch.nn.measure import count_params
from archsearch.space.base import SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from archsearch.datasets.text import Corpus


def perplexity(loss: float) -> float:
    """exp(loss), infinite where that overflows."""
    return math.exp(loss) if loss < 700 else math.inf


def train_lm_epochs(
    model: nn.Module,
    data: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    bptt: int,
    lr: float,
    grad_clip: float | None,
    vocab_size: int,
    diverge_factor: float | None = 10.0,
    on_epoch: Callable[[int, float, float], None] | None = None,
    first_epoch: int = 1,
    schedule_epochs: int | None = None,
) -> float:
    """Train on a batchified stream `data` (steps, batch) up to epoch `epochs`; returns
    the last epoch's mean training loss per token.

    Every epoch starts from a zero hidden state and reads the stream in order (the
    dropout masks are the only randomness). The learning rate follows `cosine_lr` per
    window over `schedule_epochs` (default `epochs`), so a run continued from a
    checkpoint follows the schedule of one run straight through. `on_epoch(epoch,
    train_loss, seconds)` runs after each epoch. Raises `TrainingDiverged` on a
    non-finite loss or one above `diverge_factor` times the first window's (floored at
    ln(vocab), a uniform guess).
    """
    import torch

    from archsearch.datasets.text import bptt_batches, n_bptt_batches
    from archsearch.nn.recurrent import detach_hidden, lm_loss

    per_epoch = n_bptt_batches(data, bptt)
    total = max(epochs, schedule_epochs or epochs) * per_epoch
    step = (first_epoch - 1) * per_epoch
    first_step = step
    limit = math.inf
    train_loss = math.nan
    params = [p for p in model.parameters() if p.requires_grad]
    for epoch in range(first_epoch, epochs + 1):
        started = time.perf_counter()
        model.train()
        hidden = cast(Any, model).init_hidden(data.size(1))
        loss_sum, tokens = 0.0, 0
        for x, y in bptt_batches(data, bptt):
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(lr, step, total)
            hidden = detach_hidden(hidden)
            logits, hidden = model(x, hidden)
            loss = lm_loss(logits, y)
            value = loss.item()
            if not math.isfinite(value) or value > limit:
                raise TrainingDiverged(f"loss diverged at epoch {epoch}: {value:.4g}")
            if step == first_step and diverge_factor is not None:
                limit = diverge_factor * max(value, math.log(max(2, vocab_size)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            loss_sum += value * y.numel()
            tokens += y.numel()
            step += 1
        train_loss = loss_sum / max(1, tokens)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, time.perf_counter() - started)
    return train_loss


def evaluate_lm(model: nn.Module, data: torch.Tensor, bptt: int) -> float:
    """Mean cross-entropy per token of `model` (eval mode) on a batchified stream."""
    import torch

    from archsearch.datasets.text import bptt_batches
    from archsearch.nn.recurrent import lm_loss

    model.eval()
    hidden = cast(Any, model).init_hidden(data.size(1))
    loss_sum, tokens = 0.0, 0
    with torch.inference_mode():
        for x, y in bptt_batches(data, bptt):
            logits, hidden = model(x, hidden)
            loss_sum += float(lm_loss(logits, y)) * y.numel()
            tokens += y.numel()
    return loss_sum / max(1, tokens)


@EVALUATORS.register("lm")
class LanguageModelEvaluator(Evaluator):
    """Scores a recurrent cell by training its language model and measuring perplexity.

    Metrics: `val_ppl` (the search signal, minimised), `val_loss`, `train_loss` (per
    token, last epoch), `epochs`, `params` (tied weights counted once) and
    `train_seconds`. `Result.cost` is the trial's wall seconds; the corpus is loaded and
    batchified once per evaluator and not charged to any trial.

    `corpus` is "ptb" or "wikitext-2" (read from `data_dir` / `ARCHSEARCH_DATA`, checked
    against its SHA-256 unless `verify=False`) or a loaded `Corpus`. Training batches
    are `batch_size` columns; validation and test are scored on `eval_batch_size`
    columns (10, as AWD-LSTM and DARTS) with windows of `bptt` tokens.
    `final_fit(arch)` (and `final_fit_baseline()` for the two-layer LSTM) retrain on the
    whole training stream and report validation and test perplexity.
    """

    metric = "val_ppl"
    mode = "min"

    def __init__(
        self,
        corpus: str | Corpus = "ptb",
        *,
        space: SearchSpace | str | None = None,
        data_dir: str | None = None,
        verify: bool = True,
        epochs: int = 1,
        batch_size: int = 64,
        eval_batch_size: int = 10,
        bptt: int = 35,
        lr: float = 20.0,
        grad_clip: float | None = 0.25,
        weight_decay: float = 5e-7,
        data_fraction: float = 1.0,
        eval_fraction: float = 1.0,
        threads: int = 1,
        device: str = "cpu",
        diverge_factor: float | None = 10.0,
        final_epochs: int | None = None,
    ) -> None:
        require_whole_numbers(
            {
                "epochs": epochs,
                "batch_size": batch_size,
                "eval_batch_size": eval_batch_size,
                "bptt": bptt,
                "threads": threads,
                "final_epochs": final_epochs,
            }
        )
        for key, frac in (("data_fraction", data_fraction), ("eval_fraction", eval_fraction)):
            if not 0.0 < frac <= 1.0:
                raise ConfigError(f"{key} must be in (0, 1], got {frac}")
        if not (lr > 0 and math.isfinite(lr)):
            raise ConfigError(f"lr must be > 0, got {lr}")
        if grad_clip is not None and not grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0 (or None), got {grad_clip}")
        if not weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
        if not str(device).startswith(("cpu", "cuda", "mps")):
            raise ConfigError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        self._corpus_arg = corpus
        self.space = get_space(space) if isinstance(space, str) else space
        self.data_dir = data_dir
        self.verify = bool(verify)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size)
        self.bptt = int(bptt)
        self.lr = float(lr)
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.weight_decay = float(weight_decay)
        self.data_fraction = float(data_fraction)
        self.eval_fraction = float(eval_fraction)
        self.threads = int(threads)
        self.device = str(device)
        self.diverge_factor = diverge_factor
        self.final_epochs = None if final_epochs is None else int(final_epochs)
        self._corpus: Corpus | None = None if isinstance(corpus, str) else corpus
        self._streams: dict[str, torch.Tensor] = {}
        self._spaces: dict[str, SearchSpace] = {}

    # --- data ------------------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        """The corpus, loaded on first use."""
        if self._corpus is None:
            from archsearch.datasets.text import load_corpus

            assert isinstance(self._corpus_arg, str)
            self._corpus = load_corpus(self._corpus_arg, self.data_dir, verify=self.verify)
        return self._corpus

    @property
    def task(self) -> TaskSpec:
        return TaskSpec(input_shape=(self.bptt,), num_classes=self.corpus.vocab_size)

    def stream(self, name: str) -> torch.Tensor:
        """A batchified stream, made once: "search_train" (the `data_fraction` prefix of
        train), "search_valid" (the `eval_fraction` prefix of valid), "train", "valid",
        "test"."""
        if name not in self._streams:
            from archsearch.datasets.text import batchify

            c = self.corpus
            base, fraction, columns = {
                "search_train": (c.train, self.data_fraction, self.batch_size),
                "search_valid": (c.valid, self.eval_fraction, self.eval_batch_size),
                "train": (c.train, 1.0, self.batch_size),
                "valid": (c.valid, 1.0, self.eval_batch_size),
                "test": (c.test, 1.0, self.eval_batch_size),
            }[name]
            tokens = base[: max(2 * columns, math.ceil(fraction * len(base)))]
            self._streams[name] = batchify(tokens, columns).to(self.device)
        return self._streams[name]

    # --- trials ----------------------------------------------------------------------------
    def space_of(self, arch: Architecture) -> SearchSpace:
        """The space that builds `arch`: the one given, else the registered one it names."""
        return resolve_space(self.space, self._spaces, arch)

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        space = self.space_of(arch)
        space.validate(arch)
        train, valid = self.stream("search_train"), self.stream("search_valid")
        start = time.perf_counter()
        epochs = self.epochs if ctx.resource is None else max(1, round(ctx.resource))
        horizon = epochs if ctx.horizon is None else max(epochs, round(ctx.horizon))
        metrics: dict[str, float] = {}

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            val_loss = evaluate_lm(model, valid, self.bptt)
            val_ppl = perplexity(val_loss)
            metrics.update(val_ppl=val_ppl, val_loss=val_loss, train_loss=train_loss, epochs=epoch)
            metrics["train_seconds"] = metrics.get("train_seconds", 0.0) + seconds
            ctx.reporter.report(
                epoch, {"val_ppl": val_ppl, "val_loss": val_loss, "train_loss": train_loss}
            )

        with seeded(ctx.seed, self.device) as generator, intra_op_threads(self.threads):
            model = space.build(arch, self.task).to(self.device)
            metrics["params"] = count_params(model)
            optimizer = self._optimizer(model)
            stopped = train_trial(
                ctx,
                model,
                optimizer,
                generator,
                lambda first: self._train(
                    model, train, optimizer, epochs, on_epoch, first, horizon
                ),
                epochs,
                metrics,
                start,
            )
            if stopped is not None:
                return stopped
            if "val_ppl" not in metrics:  # promoted to no more epochs than its parent had
                metrics["val_loss"] = evaluate_lm(model, valid, self.bptt)
                metrics["val_ppl"] = perplexity(metrics["val_loss"])
        return Result.complete(metrics, cost=time.perf_counter() - start)

    # --- the final stage -------------------------------------------------------------------
    def final_fit(
        self,
        arch: Architecture,
        *,
        seed: int = 0,
        epochs: int | None = None,
        reporter: Reporter | None = None,
    ) -> FinalFit:
        """Retrain `arch` on the whole training stream and score it once on the
        validation and test streams (`test_ppl`, `val_ppl`). `epochs` defaults to
        `final_epochs`, else `epochs`. Raises `TrainingDiverged` if the loss diverges."""
        space = self.space_of(arch)
        space.validate(arch)
        return self._fit(lambda task: space.build(arch, task), seed, epochs, reporter)

    def final_fit_baseline(
        self,
        *,
        seed: int = 0,
        epochs: int | None = None,
        layers: int = 2,
        reporter: Reporter | None = None,
    ) -> FinalFit:
        """`final_fit` for the hand-designed baseline of the evaluator's space (a
        `layers`-layer LSTM of the same size, `archsearch.nn.recurrent.build_baseline`)."""
        from archsearch.nn.recurrent import build_baseline
        from archsearch.space.recurrent import RecurrentSpace

        space = self.space if self.space is not None else get_space("rnn_cell")
        if not isinstance(space, RecurrentSpace):
            raise ConfigError(f"final_fit_baseline needs an rnn_cell space, not {space.id}")
        return self._fit(lambda task: build_baseline(space, task, layers), seed, epochs, reporter)

    def _fit(
        self,
        build: Callable[[TaskSpec], nn.Module],
        seed: int,
        epochs: int | None,
        reporter: Reporter | None,
    ) -> FinalFit:
        start = time.perf_counter()
        train = self.stream("train")
        n_epochs = epochs or self.final_epochs or self.epochs
        history: list[dict[str, float]] = []

        def on_epoch(epoch: int, train_loss: float, seconds: float) -> None:
            history.append({"epoch": epoch, "train_loss": train_loss, "seconds": seconds})
            if reporter is not None:
                reporter.report(epoch, {"train_loss": train_loss})

        with seeded(seed, self.device), intra_op_threads(self.threads):
            model = build(self.task).to(self.device)
            train_loss = self._train(model, train, self._optimizer(model), n_epochs, on_epoch)
            train_seconds = time.perf_counter() - start
            val_loss = evaluate_lm(model, self.stream("valid"), self.bptt)
            test_loss = evaluate_lm(model, self.stream("test"), self.bptt)
        metrics = {
            "val_ppl": perplexity(val_loss),
            "test_ppl": perplexity(test_loss),
            "val_loss": val_loss,
            "test_loss": test_loss,
            "train_loss": train_loss,
            "epochs": n_epochs,
            "params": count_params(model),
            "train_seconds": train_seconds,
        }
        return FinalFit(model.cpu().eval(), metrics, time.perf_counter() - start, history)

    # --- helpers ---------------------------------------------------------------------------
    def _train(
        self,
        model: nn.Module,
        data: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        epochs: int,
        on_epoch: Callable[[int, float, float], None],
        first_epoch: int = 1,
        horizon: int | None = None,
    ) -> float:
        return train_lm_epochs(
            model,
            data,
            optimizer,
            epochs=epochs,
            bptt=self.bptt,
            lr=self.lr,
            grad_clip=self.grad_clip,
            vocab_size=self.corpus.vocab_size,
            diverge_factor=self.diverge_factor,
            on_epoch=on_epoch,
            first_epoch=first_epoch,
            schedule_epochs=horizon,
        )

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return make_optimizer("sgd", model.parameters(), self.lr, 0.0, False, self.weight_decay)

    def supports(self, space: SearchSpace) -> bool:
        """Spaces that build language models (the recurrent cell space)."""
        return space.modality == "language"

    def describe(self) -> dict[str, Any]:
        name = self._corpus_arg if isinstance(self._corpus_arg, str) else self._corpus_arg.name
        return {
            "corpus": name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "bptt": self.bptt,
            "optimizer": "sgd",
            "lr": self.lr,
            "grad_clip": self.grad_clip,
            "weight_decay": self.weight_decay,
            "data_fraction": self.data_fraction,
            "eval_fraction": self.eval_fraction,
            "threads": self.threads,
            "device": self.device,
        }

    def __getstate__(self) -> dict[str, Any]:
        # Sent to a worker process: drop the tensors when the worker can load them itself.
        state = self.__dict__.copy()
        state["_streams"] = {}
        if isinstance(self._corpus_arg, str):
            state["_corpus"] = None
        return state
