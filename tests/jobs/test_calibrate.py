"""`archsearch calibrate` and `calibrate()`: rank correlations against an oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.core.errors import ConfigError
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Result
from archsearch.estimation.base import Evaluator, TrialContext
from archsearch.jobs.calibrate import calibrate
from archsearch.space.nb201 import NB201Space

SPACE = NB201Space()


class Index(Evaluator):
    """val_acc = the cell's official index times `sign` (an exact, known ranking)."""

    def __init__(self, sign: float = 1.0, fail_every: int = 0) -> None:
        self.sign, self.fail_every = sign, fail_every

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> Result:
        if self.fail_every and ctx.number % self.fail_every == 0:
            raise RuntimeError("boom")
        return Result.complete({"val_acc": self.sign * SPACE.index(arch)}, cost=1.0 + ctx.number)


def test_rank_correlations_match_the_oracle() -> None:
    archs = [SPACE.from_index(i) for i in (5, 90, 17, 3000, 42, 777)]
    result = calibrate(
        archs,
        Index(),
        {"same": Index(), "reversed": Index(-1.0), "flaky": Index(fail_every=3)},
        reference_label="ref",
    )
    by = {r.label: r for r in result.rows}
    assert by["same"].kendall_tau == pytest.approx(1.0) and by["same"].spearman == pytest.approx(
        1.0
    )
    assert by["reversed"].kendall_tau == pytest.approx(-1.0)
    assert by["flaky"].failed == 2 and by["flaky"].scored == 4
    assert by["flaky"].kendall_tau == pytest.approx(1.0)
    assert result.rows[0].label in ("same", "flaky")
    assert result.scores["reversed"][0] == -5.0
    with pytest.raises(ConfigError, match="at least 3"):
        calibrate(archs[:2], Index(), {})


def test_cli_calibrate_on_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal.json"
    code = main(
        [
            "calibrate",
            "--sample", "4",
            "--reference", "epochs=1,batch_size=64",
            "--estimate", "epochs=1",
            "--estimate", "data_fraction=0.3",
            "--estimate", "proxy=params",
            "--output", str(out),
            "--study", str(tmp_path / "job"),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    rows = {r["label"]: r for r in data["estimates"]}
    assert set(rows) == {"epochs=1", "data_fraction=0.3", "proxy=params"}
    # the same settings and trial seeds reproduce the reference exactly
    assert rows["epochs=1"]["kendall_tau"] == pytest.approx(1.0)
    assert rows["proxy=params"]["seconds_per_arch"] < data["reference_seconds_per_arch"]
    assert len(data["architectures"]) == 4
    with pytest.raises(SystemExit) as bad:
        main(["calibrate", "--estimate", "proxy=nope", "--study", str(tmp_path / "x")])
    assert "unknown proxy 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # checked before anything is written
    assert bad.value.code == 2
