"""The self-contained model of a run folder, for every space that builds image networks:
`load_model` gives outputs equal to the saved model's within 1e-6, ONNX and torch.export
within 1e-4, and inputs are taken as the data has them (the normalisation is inside)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from archsearch import load_model
from archsearch.core.genotype import TaskSpec
from archsearch.export import ExportError, save_bundle
from archsearch.nn.preprocess import with_preprocessing
from archsearch.space import SPACES, get_space

#: small build options per space (the defaults are full-size networks)
OPTIONS: dict[str, dict[str, object]] = {
    "nb201": {"channels": 4, "cells_per_stage": 1},
    "darts": {"channels": 4, "cells": 3},
    "hierarchical": {"channels": 4},
    "flat": {"channels": 4},
    "chain": {"filters": [8, 16]},
}
IMAGE_SPACES = [n for n in SPACES.names() if get_space(n).modality == "image"]
PREPROCESS = {"scale": 1 / 255, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}


@pytest.mark.parametrize("name", IMAGE_SPACES)
def test_load_model_onnx_and_pt2_match_the_trained_model(name: str, tmp_path: Path) -> None:
    assert name in OPTIONS, f"give {name!r} small build options in OPTIONS"
    space = get_space(name, **OPTIONS[name])
    arch = space.sample(np.random.default_rng(1))
    task = TaskSpec((3, 16, 16), 5)
    torch.manual_seed(0)
    net = space.build(arch, task)
    net.train()
    with torch.no_grad():  # move the BN statistics off their initial values
        net(torch.randn(8, 3, 16, 16))
    report = save_bundle(tmp_path, space, OPTIONS[name], arch, task, net.eval(), PREPROCESS)
    assert report["load_max_abs_diff"] <= 1e-6
    assert report["onnx_max_abs_diff"] <= 1e-4 and report["pt2_max_abs_diff"] <= 1e-4

    pixels = torch.randint(0, 256, (4, 3, 16, 16)).float()  # raw uint8 values
    expected = net(
        (pixels / 255 - torch.tensor(PREPROCESS["mean"]).view(1, 3, 1, 1))
        / torch.tensor(PREPROCESS["std"]).view(1, 3, 1, 1)
    )
    with torch.no_grad():
        loaded = load_model(tmp_path)(pixels)
        program = torch.export.load(str(tmp_path / "model.pt2")).module()(pixels)
    assert torch.allclose(loaded, expected.detach(), atol=1e-5)
    assert torch.allclose(program, loaded, atol=1e-4)
    assert type(load_model(tmp_path)) is type(with_preprocessing(net, PREPROCESS))


def test_a_folder_without_a_model_or_with_a_foreign_one_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"no model\.json"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ExportError, match="format 99"):
        load_model(tmp_path)
