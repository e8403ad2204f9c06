"""`archsearch run`: search, final training, export and report, end to end on digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archsearch import RunConfig, run
from archsearch.cli import main
from archsearch.core.errors import StudyError

pytest.importorskip("torch")


def test_run_end_to_end_and_resume(tmp_path: Path) -> None:
    import onnxruntime as ort
    import torch

    from archsearch import load_model

    config = RunConfig(
        time_budget="25s", search_epochs=1, final_epochs=3, threads=1, max_params=20_000
    )
    folder = tmp_path / "run"
    summary = run(config, folder)
    assert summary["trials"] >= 2 and 0 <= summary["test_acc"] <= 100
    assert summary["onnx_max_abs_diff"] < 1e-4
    for name in ("best.json", "model.json", "model.pt", "model.onnx", "model.pt2", "report.html"):
        assert (folder / name).exists(), name
    assert "<img" in (folder / "report.html").read_text()
    # The exported pieces work on their own: weights load with weights_only, the model
    # comes back in one line from the folder alone, and ONNX Runtime and the torch.export
    # program agree with it on raw pixel values (the normalisation is inside).
    state = torch.load(folder / "model.pt", weights_only=True)
    assert state
    assert summary["load_max_abs_diff"] <= 1e-6 and summary["pt2_max_abs_diff"] < 1e-4
    model = load_model(folder)
    x = torch.rand(3, 1, 8, 8) * 16  # digits' pixel values are 0-16
    session = ort.InferenceSession(str(folder / "model.onnx"))
    onnx_out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(onnx_out, model(x).detach().numpy(), atol=1e-4)
    program = torch.export.load(str(folder / "model.pt2")).module()
    np.testing.assert_allclose(program(x).detach().numpy(), onnx_out, atol=1e-4)
    # Constraints held: every evaluated trial is within the parameter limit.
    import sqlite3

    with sqlite3.connect(folder / "study.db") as con:
        rows = con.execute("SELECT state, metrics, error FROM trials").fetchall()
    for state, metrics, error in rows:
        if state == "COMPLETE":
            assert json.loads(metrics)["params"] <= 20_000
        if state == "REJECTED":
            assert error.startswith("constraint: params")
    # The same config again finds the run complete; another config is refused.
    assert run(config, folder) == json.loads((folder / "summary.json").read_text())
    with pytest.raises(StudyError, match="different config"):
        run(RunConfig(time_budget="25s", search_epochs=2), folder)


def test_run_cli_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in (
        (["run", "--time-budget", "5trials"], "give a time"),
        (["run", "--objectives", "val_acc:up"], "--objectives"),
        (["run", "--search-share", "1.5"], "search_share"),
        (["run", "--strategy", "nope"], "unknown strategy 'nope'"),
    ):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
