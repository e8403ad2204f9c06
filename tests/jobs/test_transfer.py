"""NASNet's search-small-transfer-large workflow (Zoph et al., CVPR 2018) on digits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from archsearch.cli.transfer import add_parser, main
from archsearch.core.errors import ConfigError
from archsearch.jobs.transfer import RESNET_STYLE, search_and_transfer
from archsearch.space.darts import DartsSpace

TINY = {
    "trials": 2,
    "proxy_cells": 3,
    "proxy_channels": 4,
    "proxy_epochs": 1,
    "data_fraction": 0.3,
    "target_cells": 4,
    "target_channels": 6,
    "target_epochs": 2,
    "drop_path_prob": 0.2,
    "batch_size": 64,
}


def test_cli_runs_search_then_transfer_and_reports_both(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "transfer.json"
    args = parser.parse_args(
        [
            "transfer",
            "--dataset",
            "digits",
            "--trials",
            "2",
            "--proxy-cells",
            "3",
            "--proxy-channels",
            "4",
            "--proxy-epochs",
            "1",
            "--data-fraction",
            "0.3",
            "--target-cells",
            "4",
            "--target-channels",
            "6",
            "--target-epochs",
            "2",
            "--output",
            str(out),
            "--study",
            str(tmp_path / "job"),
            "--quiet",
        ]
    )
    assert args.command == "transfer" and main(args) == 0
    result = json.loads(out.read_text())
    assert result["proxy_trials"] == 2
    # both accuracies, together; 10 digit classes: chance is 10 %
    assert 0.0 <= result["proxy_val_acc"] <= 100.0
    assert result["target_test_acc"] > 20.0
    # ScheduledDropPath: epoch e of E trains with p * e / E (0, then 0.1 for E = 2)
    assert result["drop_path_schedule"] == pytest.approx([0.0, 0.1])
    # the target is the proxy's genotype stacked larger: more cells and channels
    assert result["target"]["cells"] == 4 and result["proxy"]["cells"] == 3
    space = DartsSpace()
    space.validate(space.parse(json.dumps(result["genotype"])))
    proxy_params = sum(
        p.numel()
        for p in DartsSpace(channels=4, cells=3)
        .build(space.parse(json.dumps(result["genotype"])), _digits_task())
        .parameters()
    )
    assert result["target_params"] > proxy_params


def _digits_task():  # type: ignore[no-untyped-def]
    from archsearch.core.genotype import TaskSpec

    return TaskSpec((1, 8, 8), 10)


def test_resnet_style_baseline_is_a_valid_darts_genotype() -> None:
    space = DartsSpace()
    arch = space.from_cells(*RESNET_STYLE)
    normal = space.cell(arch, "normal")
    # each node adds a separable conv of the previous state to that state itself
    assert normal[0] == ("sep_conv_3x3", 1) and normal[1] == ("skip_connect", 1)
    assert normal[-2:] == (("sep_conv_3x3", 4), ("skip_connect", 4))


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="trials"):
        search_and_transfer("digits", **{**TINY, "trials": 0})
    with pytest.raises(ConfigError, match="larger than the proxy"):
        search_and_transfer("digits", **{**TINY, "target_cells": 3, "target_channels": 4})
