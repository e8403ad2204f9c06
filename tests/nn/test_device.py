"""`--device` and `--precision`: resolved before anything trains, clear errors for what
this machine lacks; GPU training itself runs where CUDA exists (marker `gpu`)."""

from __future__ import annotations

import pytest
import torch

from archsearch.core.errors import ConfigError
from archsearch.estimation.training import TrainingEvaluator
from archsearch.nn.device import check_precision, resolve_device
from archsearch.space.chain import ChainSpace


def test_auto_picks_what_is_there_and_bad_names_are_clear_errors() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="choose auto, cpu"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda:0")
    with pytest.raises(ConfigError, match="needs a GPU"):
        check_precision("bf16", "cpu")
    with pytest.raises(ConfigError, match="precision"):
        check_precision("fp8", "cuda")


def test_the_evaluator_resolves_its_device_on_first_use_and_stores_the_name() -> None:
    evaluator = TrainingEvaluator("digits", space=ChainSpace(), device="auto")
    assert evaluator.describe()["device"] == "auto"
    assert evaluator.device == resolve_device("auto")
    with pytest.raises(ConfigError):
        _ = TrainingEvaluator("digits", device="cpu", precision="fp16").device


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_cuda_with_autocast(precision: str) -> None:
    from archsearch.core.trial import Reporter, TrialState
    from archsearch.estimation.base import TrialContext

    space = ChainSpace(filters=(8, 16))
    evaluator = TrainingEvaluator(
        "digits", space=space, device="cuda", precision=precision, epochs=2
    )
    arch = space.sample(__import__("numpy").random.default_rng(0))
    result = evaluator.evaluate(arch, TrialContext(0, 0, Reporter()))
    assert result.state is TrialState.COMPLETE, result.error
    assert result.metrics["val_acc"] > 30
    fit = evaluator.final_fit(arch, epochs=1)
    assert next(fit.model.parameters()).device.type == "cpu"  # handed back on the CPU
