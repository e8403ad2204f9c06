"""`--config` and `--print-config` for every job: the printed settings, fed back, give
the same config (and so the same study); TOML works as YAML does; bad files are one
line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archsearch.cli import main
from archsearch.jobs import JOBS
from archsearch.storage import SQLiteStorage
from tests.jobs.test_kill_resume import COMMANDS


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--print-config"]) == 0
    return capsys.readouterr().out


def test_every_job_has_a_command_with_config_flags() -> None:
    assert set(COMMANDS) == set(JOBS.names())


@pytest.mark.parametrize("job", sorted(COMMANDS))
def test_printed_config_fed_back_is_the_same_config(
    job: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = COMMANDS[job][1:]
    first = printed(capsys, job, *flags)
    assert yaml.safe_load(first)["seed"] == 0
    (tmp_path / "c.yaml").write_text(first)
    assert printed(capsys, job, "--config", str(tmp_path / "c.yaml")) == first
    # a flag given beside the file wins over it
    changed = yaml.safe_load(
        printed(capsys, job, "--config", str(tmp_path / "c.yaml"), "--seed", "7")
    )
    assert changed == {**yaml.safe_load(first), "seed": 7}


def test_the_same_study_from_flags_and_from_the_printed_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--strategy", "ls", "--budget", "40trials", "--seed", "3", "--dataset", "cifar100"]
    (tmp_path / "c.yaml").write_text(printed(capsys, "search", *flags))
    assert main(["search", *flags, "--study", str(tmp_path / "a"), "--quiet"]) == 0
    assert (
        main(
            [
                "search",
                "--config",
                str(tmp_path / "c.yaml"),
                "--study",
                str(tmp_path / "b"),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    with (
        SQLiteStorage(tmp_path / "a" / "study.db", readonly=True) as a,
        SQLiteStorage(tmp_path / "b" / "study.db", readonly=True) as b,
    ):
        assert [(t.arch, t.metrics) for t in a.trials()] == [
            (t.arch, t.metrics) for t in b.trials()
        ]
        assert a.get_meta("job_config") == b.get_meta("job_config")


def test_toml_files_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text('strategy = "random"\nbudget = "30trials"\n[space_options]\n')
    config = yaml.safe_load(printed(capsys, "search", "--config", str(tmp_path / "c.toml")))
    assert config["strategy"] == "random" and config["budget"] == "30trials"
    for text, message in (
        ("strategy: [unclosed", "not valid"),
        ("- a list", "expected a mapping"),
        ("colour: red", "colour"),
        ("budget: -3trials", "budget"),
    ):
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(SystemExit) as exit_:
            main(["search", "--config", str(tmp_path / "bad.yaml"), "--study", str(tmp_path / "s")])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "s").exists()
