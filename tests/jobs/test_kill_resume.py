"""Every job survives `kill -9`: killed at random moments and started again with the
same command, it loses no completed trial or epoch, repeats none, and ends with the
result of an uninterrupted run of the same seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.storage import SQLiteStorage

TINY_CHAIN = ["--space-option", "max_layers=3", "--space-option", "filters=[8,16]"]
COMMANDS: dict[str, list[str]] = {
    "run": [
        "run", "--search-trials", "3", "--search-epochs", "1", "--final-epochs", "3",
        "--time-budget", "1h", "--workers", "1", *TINY_CHAIN,
    ],
    "oneshot": [
        "oneshot", "--method", "rsps", "--dataset", "digits", "--epochs", "4",
        "--channels", "4", "--cells-per-stage", "1", "--n-derive", "3", "--eval-size", "64",
    ],
    "transfer": [
        "transfer", "--trials", "3", "--proxy-cells", "3", "--proxy-channels", "4",
        "--proxy-epochs", "1", "--data-fraction", "0.3", "--target-cells", "4",
        "--target-channels", "6", "--target-epochs", "3",
    ],
    "calibrate": [
        "calibrate", "--sample", "4", "--reference", "epochs=2,batch_size=64",
        "--estimate", "epochs=1", "--estimate", "data_fraction=0.3",
    ],
    "search": ["search", "--budget", "300trials", "--strategy", "bananas"],
}  # fmt: skip
#: what must equal an uninterrupted run's summary (wall seconds may differ)
SAME = {
    "run": ("best_trial", "architecture", "final_epochs", "test_acc", "params", "trials"),
    "oneshot": ("architecture", "epochs_run", "losses"),
    "transfer": ("architecture", "proxy_val_acc", "target_test_acc", "drop_path_schedule"),
    "calibrate": ("scores", "ranks"),
    "search": ("best_trial", "architecture", "trials", "COMPLETE"),
}


def results(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with its timing-free parts of nested records drawn out."""
    out = dict(summary)
    out["losses"] = [r["train_loss"] for r in summary.get("history", [])]
    out["ranks"] = [(r["label"], r["kendall_tau"]) for r in summary.get("estimates", [])]
    return out


def start(job: str, folder: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "archsearch", *COMMANDS[job], "--study", str(folder)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*argv, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )


def finish(job: str, folder: Path) -> tuple[dict[str, Any], float]:
    began = time.monotonic()
    proc = start(job, folder)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    summary = json.loads((folder / "summary.json").read_text())
    return summary, time.monotonic() - began


def trials(folder: Path) -> list[tuple[int, str, str]]:
    with SQLiteStorage(folder / "study.db", readonly=True) as storage:
        return [(t.number, t.state.value, t.arch.to_json()) for t in storage.trials()]


@pytest.mark.parametrize("job", sorted(COMMANDS))
def test_killed_at_random_moments_the_job_ends_as_an_uninterrupted_run(
    job: str, tmp_path: Path
) -> None:
    whole, seconds = finish(job, tmp_path / "whole")
    rng = np.random.default_rng(sorted(COMMANDS).index(job))
    kills = 0
    for _ in range(3):  # kill -9 at a random moment of the run, three times
        proc = start(job, tmp_path / "cut")
        time.sleep(float(rng.uniform(0.3, 0.9)) * seconds)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    cut, _ = finish(job, tmp_path / "cut")
    assert kills >= 1, "the job ended before any kill: nothing was tested"
    for key in SAME[job]:
        assert results(cut)[key] == results(whole)[key], key
    # no completed trial lost or done twice: the same trials, each once, all finished
    if job in ("run", "transfer", "search"):
        assert trials(tmp_path / "cut") == trials(tmp_path / "whole")
    if job == "oneshot":  # every epoch once
        assert [r["epoch"] for r in cut["history"]] == [1, 2, 3, 4]
