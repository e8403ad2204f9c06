"""One best-trial rule: `export`, `report`, `status` and `Study.best()` (what `run`'s
final stage retrains) name the same trial under every scheduler and for a
multi-objective study."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archsearch.cli import main
from archsearch.cli.common import stored
from archsearch.core.genotype import Architecture
from archsearch.core.trial import Trial, TrialState
from archsearch.storage import SQLiteStorage
from archsearch.study import Study
from archsearch.study.config import build_components
from archsearch.study.folder import DB_NAME
from archsearch.study.selection import best_trial, ranked

CASES = {
    "fifo": [],
    "sh": ["--scheduler", "sh"],
    "hyperband": ["--scheduler", "hyperband"],
    "asha": ["--scheduler", "asha"],
    "multi-objective": ["--objectives", "val_acc:max,params_m:min"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_names_the_same_best_trial(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / case
    argv = ["search", "--budget", "40trials", "--seed", "3", "--study", str(folder), "--quiet"]
    assert main([*argv, *CASES[case]]) == 0
    capsys.readouterr()

    assert main(["export", str(folder)]) == 0
    exported = json.loads(capsys.readouterr().out)["trial"]
    assert main(["status", str(folder)]) == 0
    status = capsys.readouterr().out
    first_row = next(line for line in status.splitlines() if re.match(r"^\s+\d+\s", line))
    assert main(["report", str(folder)]) == 0
    report = (folder / "report.html").read_text()
    reported = int(re.search(r"best trial</th><td[^>]*>(\d+)</td>", report).group(1))  # type: ignore[union-attr]

    config, _ = stored(folder)
    space, strategy, _ = build_components(config)
    with SQLiteStorage(folder / DB_NAME) as storage:
        study = Study(space, strategy, storage, seed=config.seed, objectives=config.objectives)
        final_stage = study.best().number
    assert exported == int(first_row.split()[0]) == reported == final_stage
    if case in ("sh", "hyperband", "asha"):  # the winner reached the highest rung
        top = max(t.resource or 0 for t in study.trials if t.state is TrialState.COMPLETE)
        assert study.best().resource == top


def _trial(number: int, score: float, resource: float | None, **metrics: float) -> Trial:
    arch = Architecture("t@1", (("a", number),))
    return Trial(
        number,
        arch,
        seed=0,
        state=TrialState.COMPLETE,
        metrics=metrics,
        score=score,
        resource=resource,
    )


def test_the_rule_highest_resource_then_front_then_score_then_earliest() -> None:
    trials = [
        _trial(0, 9.0, 1.0, val_acc=9.0, params=1.0),  # best score, lowest rung
        _trial(1, 5.0, 3.0, val_acc=5.0, params=5.0),
        _trial(2, 6.0, 3.0, val_acc=6.0, params=9.0),
        _trial(3, 6.0, 3.0, val_acc=6.0, params=9.0),  # ties trial 2: the earlier wins
    ]
    assert [t.number for t in ranked(trials)] == [2, 3, 1, 0]
    objectives = [("val_acc", "max"), ("params", "min")]
    assert best_trial(trials, objectives).number == 2  # type: ignore[union-attr]
    dominated = [*trials[:2], _trial(4, 6.0, 3.0, val_acc=6.0, params=5.0)]
    # trial 4 dominates 1; on the front it beats 1 by score
    assert [t.number for t in ranked(dominated, objectives)] == [4, 1, 0]
    assert best_trial([]) is None
