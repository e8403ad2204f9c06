"""A hardware-aware search from the command line: accuracy against a device's latency,
the device named in the objective, a bad device name one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.storage import SQLiteStorage


def test_search_for_accuracy_and_device_latency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["search", "--strategy", "pareto-re", "--objectives", "val_acc:max,latency@pixel2:min"]
    assert main([*argv, "--budget", "60trials", "--study", str(tmp_path / "s"), "--quiet"]) == 0
    with SQLiteStorage(tmp_path / "s" / "study.db", readonly=True) as storage:
        trials = storage.trials()
        config = storage.get_meta("config")
    assert all("latency@pixel2" in t.metrics for t in trials)
    assert config["strategy_options"]["objectives"] == [
        ["val_acc", "max"],
        ["latency@pixel2", "min"],
    ]
    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        main(
            [
                *argv[:3],
                "--objectives",
                "val_acc:max,latency@nokia:min",
                "--study",
                str(tmp_path / "b"),
            ]
        )
    assert bad.value.code == 2
    err = capsys.readouterr()
    assert "device 'nokia'" in err.err and err.out == "" and not (tmp_path / "b").exists()
