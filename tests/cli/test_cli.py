"""The command line: searches, status, export, bad input, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from archsearch.cli import main

SEARCH = ["search", "--space", "nb201", "--benchmark", "nb201", "--dataset", "cifar10", "--quiet"]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archsearch", *args], capture_output=True, text=True, timeout=timeout
    )


def test_search_status_resume_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "demo"
    assert (
        main(
            [
                *SEARCH,
                "--strategy",
                "re",
                "--budget",
                "12000s",
                "--seed",
                "0",
                "--study",
                str(study),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "best architecture" in out and "101 trials" in out
    assert main(["status", str(study)]) == 0
    assert "101 complete" in capsys.readouterr().out
    # A larger budget on resume continues the same study.
    assert main(["resume", str(study), "--budget", "150trials", "--quiet"]) == 0
    assert "49 new in this run" in capsys.readouterr().out
    assert main(["export", str(study), "-o", str(tmp_path / "best.json")]) == 0
    exported = json.loads((tmp_path / "best.json").read_text())
    assert exported["space"] == "nb201@1" and exported["description"].startswith("|")
    from archsearch.space import Architecture, NB201Space

    NB201Space().validate(Architecture.from_dict(exported))


BAD_INPUT = [
    ([*SEARCH, "--strategy", "nope", "--budget", "10trials"], "unknown strategy 'nope'"),
    (
        ["search", "--space", "nope", "--budget", "10trials", "--quiet"],
        "unknown search space 'nope'",
    ),
    (
        [*SEARCH, "--dataset", "svhn", "--budget", "10trials"],
        "dataset 'svhn' is not in NAS-Bench-201",
    ),
    ([*SEARCH, "--budget", "0trials"], "budget: the number of trials must be > 0"),
    ([*SEARCH, "--budget=-3s"], "budget: the time must be > 0"),
    ([*SEARCH, "--budget", "soon"], "budget: cannot read 'soon'"),
    (
        [*SEARCH, "--budget", "9trials", "--strategy-option", "colour=3"],
        "strategy 're' has no option 'colour'",
    ),
    (
        [*SEARCH, "--budget", "9trials", "--strategy-option", "population_size=0"],
        "population_size must be >= 1",
    ),
    ([*SEARCH, "--budget", "9trials", "--fidelity", "50"], "12 and 200 epochs, not 50"),
    (
        [*SEARCH, "--budget", "9trials", "--strategy", "re", "--seed", "1"],
        "different config (seed)",
    ),
    ([*SEARCH, "--budget", "9trials", "--strategy", "random"], "different config (strategy"),
    (
        ["bench", "nb201", "--arch", "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|"],
        "unknown op 'bogus'",
    ),
    (["bench", "nb201", "--arch", "|nor_conv_3x3~0|"], "expected 3 node groups"),
    (["status", "nowhere"], "no study here"),
    (["search", "--budget"], "expected one argument"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_one_line_exit_2_and_leaves_the_database_untouched(
    tmp_path: Path, args: list[str], message: str
) -> None:
    study = tmp_path / "s"
    assert (
        cli(
            *SEARCH,
            "--strategy",
            "re",
            "--budget",
            "20trials",
            "--seed",
            "0",
            "--study",
            str(study),
        ).returncode
        == 0
    )
    db = study / "study.db"
    before = db.read_bytes()
    if args[0] in ("search",) and "--study" not in args:
        args = [*args, "--study", str(study)]
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archsearch: error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert db.read_bytes() == before


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    study = tmp_path / "s"
    study.mkdir()
    db = study / "study.db"
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8))
    db.write_bytes(garbage)
    for args in (
        ["status", str(study)],
        ["resume", str(study)],
        [*SEARCH, "--budget", "5trials", "--study", str(study)],
    ):
        proc = cli(*args)
        assert proc.returncode == 2 and "not a usable study database" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert db.read_bytes() == garbage
    # A real database whose pages were damaged.
    other = tmp_path / "t"
    assert cli(*SEARCH, "--budget", "200trials", "--study", str(other)).returncode == 0
    data = bytearray((other / "study.db").read_bytes())
    data[100:4000] = b"\x00" * 3900
    (other / "study.db").write_bytes(bytes(data))
    proc = cli("resume", str(other))
    assert proc.returncode == 2 and proc.stderr.startswith("archsearch: error:")
    assert len(proc.stderr.strip().splitlines()) == 1


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            return int(con.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.Error:
        return 0


def _sequence(db: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT number, arch, state FROM trials ORDER BY number").fetchall()
    return [(int(n), str(a), str(s)) for n, a, s in rows]


def test_sigkill_at_random_moments_loses_nothing_and_matches_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    n = 4000
    args = [*SEARCH, "--strategy", "re", "--budget", f"{n}trials", "--seed", "7"]
    reference = tmp_path / "reference"
    assert cli(*args, "--study", str(reference)).returncode == 0
    study = tmp_path / "killed"
    db = study / "study.db"
    rng = np.random.default_rng(0)
    kills = 0
    for attempt in range(12):
        command = (
            [*args, "--study", str(study)] if attempt == 0 else ["resume", str(study), "--quiet"]
        )
        before = _count(db)
        target = before + int(rng.integers(50, 800))  # kill once this many trials exist
        proc = subprocess.Popen(
            [sys.executable, "-m", "archsearch", *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and _count(db) < target and time.monotonic() < deadline:
            time.sleep(0.002 * rng.random())
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if kills >= 5:
            break
    assert kills >= 3, "the search finished before it could be killed often enough"
    assert cli("resume", str(study), "--quiet").returncode == 0
    killed, expected = _sequence(db), _sequence(reference / "study.db")
    assert len(killed) == n and [row[0] for row in killed] == list(range(n))
    assert all(state == "COMPLETE" for _, _, state in killed)
    assert killed == expected
    best = [json.loads(cli("export", str(s)).stdout)["choices"] for s in (study, reference)]
    assert best[0] == best[1]
