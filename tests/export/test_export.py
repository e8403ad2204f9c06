"""Export: genotype JSON, weights (weights_only loading), rebuild from the genotype alone,
ONNX parity with onnxruntime; every file written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from archsearch.core.errors import GenotypeError
from archsearch.core.genotype import Architecture, TaskSpec
from archsearch.export import (
    ExportError,
    atomic_write_text,
    check_onnx,
    export_onnx,
    load_genotype,
    rebuild_model,
    save_genotype,
    save_model,
)
from archsearch.export.files import atomic_write
from archsearch.space.base import SearchSpace
from archsearch.space.chain import ChainSpace
from archsearch.space.darts import DartsSpace
from archsearch.space.nb201 import NB201Space

SPACES: dict[str, Any] = {
    "nb201": lambda: NB201Space(channels=4, cells_per_stage=1),
    "chain": lambda: ChainSpace(),
    "darts": lambda: DartsSpace(channels=4, cells=3),
}
CASES = [("nb201", 0), ("chain", 0), ("chain", 1), ("darts", 0), ("nb201", 5), ("darts", 7)]


def _trained(space: SearchSpace, seed: int, task: TaskSpec) -> tuple[Architecture, torch.nn.Module]:
    """A sampled network whose BN statistics have moved off their initial values (so a
    rebuild that forgot the buffers would be caught)."""
    arch = space.sample(np.random.default_rng(seed))
    model = space.build(arch, task)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(_batch(task.input_shape, n=8, seed=seed + 100))
    return arch, model.eval()


def _batch(shape: tuple[int, ...], n: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", sorted(SPACES))
def test_genotype_json_round_trip(name: str, tmp_path: Path) -> None:
    space = SPACES[name]()
    arch = space.sample(np.random.default_rng(4))
    path = save_genotype(arch, tmp_path / "arch.json")
    assert json.loads(path.read_text())["space"] == space.id
    assert load_genotype(path) == arch
    assert _leftovers(tmp_path) == []


def test_genotype_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"not-there\.json"):
        load_genotype(tmp_path / "not-there.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenotypeError, match=r"bad\.json"):
        load_genotype(tmp_path / "bad.json")


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_rebuild_from_genotype_alone_gives_identical_outputs(
    name: str, seed: int, tmp_path: Path
) -> None:
    space = SPACES[name]()
    task = TaskSpec((1, 28, 28) if seed % 2 else (3, 32, 32), 10)
    arch, model = _trained(space, seed, task)
    save_genotype(arch, tmp_path / "arch.json")
    save_model(model, tmp_path / "weights.pt")
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    assert set(state) == set(model.state_dict())

    # a fresh space object and only the files: nothing carried over from `model`
    rebuilt = rebuild_model(SPACES[name](), tmp_path / "arch.json", task, tmp_path / "weights.pt")
    assert not rebuilt.training
    x = _batch(task.input_shape, seed=seed)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
        untrained = space.build(arch, task).eval()
        assert not torch.allclose(untrained(x), model(x))  # the weights did matter
    assert _leftovers(tmp_path) == []


def test_rebuild_accepts_json_text_and_a_space_name(tmp_path: Path) -> None:
    space = NB201Space()
    arch = space.from_index(11472)
    task = TaskSpec((3, 8, 8), 10)
    model = space.build(arch, task).eval()
    save_model(model, tmp_path / "w.pt")
    rebuilt = rebuild_model("nb201", arch.to_json(), task, tmp_path / "w.pt")
    x = _batch((3, 8, 8))
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_rebuild_with_other_build_options_is_a_clear_error(tmp_path: Path) -> None:
    space = NB201Space(channels=4, cells_per_stage=1)
    arch = space.from_index(0)
    task = TaskSpec((3, 8, 8), 10)
    save_model(space.build(arch, task), tmp_path / "w.pt")
    with pytest.raises(ExportError, match="do not fit"):
        rebuild_model(NB201Space(channels=8, cells_per_stage=1), arch, task, tmp_path / "w.pt")
    with pytest.raises(ExportError, match="not found"):
        rebuild_model(space, arch, task, tmp_path / "missing.pt")
    with pytest.raises(GenotypeError):
        rebuild_model(DartsSpace(), arch, task, tmp_path / "w.pt")


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_onnx_matches_pytorch(name: str, seed: int, tmp_path: Path) -> None:
    space = SPACES[name]()
    task = TaskSpec((1, 28, 28) if seed % 2 else (3, 32, 32), 10)
    _, model = _trained(space, seed, task)
    model.train()  # export_onnx and check_onnx use eval mode and restore the mode
    x = _batch(task.input_shape, seed=seed)
    path = export_onnx(model, x, tmp_path / "model.onnx")
    assert model.training
    assert check_onnx(path, model, x, atol=1e-4) <= 1e-4
    assert model.training
    # the batch dimension is dynamic
    assert check_onnx(path, model, _batch(task.input_shape, n=5, seed=9), atol=1e-4) <= 1e-4
    assert _leftovers(tmp_path) == []


def test_check_onnx_raises_on_a_mismatch(tmp_path: Path) -> None:
    space = SPACES["nb201"]()
    model = space.build(space.from_index(6111), TaskSpec((3, 8, 8), 10)).eval()
    x = _batch((3, 8, 8))
    path = export_onnx(model, x, tmp_path / "model.onnx")
    with torch.no_grad():
        model.classifier.bias.add_(1e-2)
    with pytest.raises(ExportError, match="differs from PyTorch"):
        check_onnx(path, model, x)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ExportError, match="not a valid model"):
        check_onnx(tmp_path / "junk.onnx", model, x)


def test_a_failed_write_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []
