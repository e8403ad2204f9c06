"""The `archsearch` command line.

    archsearch search --space nb201 --benchmark nb201 --dataset cifar10 --strategy re \\
        --budget 12000s --seed 0 --study runs/demo
    archsearch status runs/demo
    archsearch resume runs/demo [--budget 400trials]
    archsearch export runs/demo [-o best.json]

Bad input (an unknown name, a malformed value, a study made with another config, a
corrupt database) prints one line, `archsearch: error: ...`, and exits with status 2
without writing anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from archsearch import __version__
from archsearch.cli import oneshot as oneshot_command
from archsearch.core.errors import ArchsearchError, ConfigError, StudyError
from archsearch.core.trial import Budget, Trial, TrialState
from archsearch.execution import (
    Executor,
    InlineExecutor,
    ProcessPoolExecutor,
    RayExecutor,
    SimulatedExecutor,
)
from archsearch.jobs import transfer as transfer_command
from archsearch.schedulers import Scheduler
from archsearch.storage.sqlite import SQLiteStorage
from archsearch.study import Study
from archsearch.study.config import StudyConfig, build_components, build_scheduler

DB_NAME = "study.db"
TABULAR_EVALUATORS = ("nb201",)  # scored by look-up: their cost runs a simulated clock


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse's convention)
        _fail(message)


def _fail(message: str) -> NoReturn:
    print(f"archsearch: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def key_value_option(text: str) -> tuple[str, Any]:
    """argparse type of `--space-option` and the like: KEY=VALUE, the value JSON if it
    parses (numbers, lists), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value  # a bare word is a string


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="archsearch", description="Neural architecture search for PyTorch.")
    parser.add_argument("--version", action="version", version=f"archsearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="the main job: search a network for a dataset, retrain, test, export, report",
        description="With no arguments: a CNN for scikit-learn's digits in a few minutes.",
    )
    run.add_argument(
        "--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10 or npz:FILE"
    )
    run.add_argument(
        "--data-dir", help="where datasets are (default: $ARCHSEARCH_DATA, then system places)"
    )
    run.add_argument("--space", default="chain", help="search space (default: chain)")
    run.add_argument(
        "--space-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="space setting, e.g. max_layers=8 or filters=[32,64,128] (repeatable)",
    )
    run.add_argument("--strategy", default="re", help="search strategy (default: re)")
    run.add_argument(
        "--strategy-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    _add_scheduler_options(run)
    run.add_argument(
        "--time-budget", default="4m", help="search and final training together, e.g. 30m"
    )
    run.add_argument(
        "--search-share", type=float, default=0.6, help="share of the budget spent searching"
    )
    run.add_argument(
        "--search-epochs", type=int, default=5, help="epochs per candidate (low fidelity)"
    )
    run.add_argument(
        "--final-epochs", type=int, default=100, help="most epochs for the final training"
    )
    run.add_argument(
        "--data-fraction", type=float, default=1.0, help="share of the training data per candidate"
    )
    run.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of the training split held out"
    )
    run.add_argument(
        "--resolution", type=int, help="train candidates at this input size (low fidelity)"
    )
    run.add_argument("--batch-size", type=int, default=128)
    run.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random crop and flip in the final training (default: on for CIFAR-10 only)",
    )
    run.add_argument("--workers", type=int, default=2, help="trials at once, one process each")
    run.add_argument("--threads", type=int, default=1, help="CPU threads per trial")
    run.add_argument("--max-params", type=int, help="reject larger networks before training")
    run.add_argument("--max-flops", type=float, help="reject networks with more FLOPs per sample")
    run.add_argument("--max-latency-ms", type=float, help="reject slower networks (CPU, batch 1)")
    run.add_argument(
        "--objectives",
        help="multi-objective mode, e.g. val_acc:max,params:min (the report draws the front)",
    )
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--study", type=Path, help="study folder (default: runs/run-DATASET-SPACE-STRATEGY-sSEED)"
    )
    run.add_argument("--quiet", action="store_true")

    search = sub.add_parser("search", help="start (or continue) a search on a tabular benchmark")
    search.add_argument("--space", default="nb201", help="search space (default: nb201)")
    search.add_argument("--benchmark", default="nb201", help="tabular benchmark that scores cells")
    search.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or ImageNet16-120")
    search.add_argument("--fidelity", type=int, default=12, help="benchmark epochs: 12 or 200")
    search.add_argument(
        "--signal-seed",
        choices=("mean", "random"),
        default="mean",
        help="validation accuracy: seed mean, or one seed at random (200 epochs only)",
    )
    search.add_argument("--strategy", default="re", help="search strategy (default: re)")
    search.add_argument(
        "--strategy-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy setting, e.g. population_size=20 (repeatable)",
    )
    _add_scheduler_options(search)
    search.add_argument("--budget", required=True, help="e.g. 12000s, 30m, 200trials")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--study", required=True, type=Path, help="study folder")
    search.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_execution_options(search)

    resume = sub.add_parser("resume", help="continue a study after an interruption or crash")
    resume.add_argument("study", type=Path)
    resume.add_argument("--budget", help="a new total budget (default: the stored one)")
    resume.add_argument("--quiet", action="store_true")
    _add_execution_options(resume)

    status = sub.add_parser("status", help="summarise a study")
    status.add_argument("study", type=Path)
    status.add_argument("--top", type=int, default=10, help="best trials to list")

    bench = sub.add_parser("bench", help="look a cell up in a tabular benchmark")
    bench.add_argument("benchmark", choices=TABULAR_EVALUATORS)
    bench.add_argument("--arch", required=True, help="arch string, official index or JSON genotype")
    bench.add_argument("--dataset", help="one dataset (default: all)")

    cal = sub.add_parser(
        "calibrate",
        help="rank correlation of cheap estimates (few epochs, data fraction, resolution, "
        "zero-cost proxies) with full training, and their cost",
        description="Trains a sample of architectures at the reference setting and at each "
        "cheap one, then prints Kendall's tau and Spearman's rho against the reference.",
    )
    cal.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, cifar10")
    cal.add_argument("--data-dir", help="where datasets are (default: $ARCHSEARCH_DATA, ...)")
    cal.add_argument("--space", default="chain")
    cal.add_argument(
        "--space-option", type=key_value_option, action="append", default=[], metavar="KEY=VALUE"
    )
    cal.add_argument("--sample", type=int, default=8, help="architectures to score")
    cal.add_argument(
        "--reference",
        default="epochs=10",
        help="training settings of the full estimate, e.g. epochs=20,batch_size=128",
    )
    cal.add_argument(
        "--estimate",
        action="append",
        metavar="SETTINGS",
        help="a cheap estimate (repeatable): training settings that override the reference's "
        "(epochs=1 | data_fraction=0.25 | resolution=14 | several, comma-separated) or "
        "proxy=NAME; default: epochs=1, epochs=3, data_fraction=0.25, half resolution, "
        "and every zero-cost proxy",
    )
    cal.add_argument("--threads", type=int, default=1, help="CPU threads")
    cal.add_argument("--seed", type=int, default=0)
    cal.add_argument("--output", type=Path, help="also write the results as JSON here")
    cal.add_argument("--quiet", action="store_true")

    export = sub.add_parser("export", help="write the best genotype as JSON")
    export.add_argument("study", type=Path)
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    oneshot_command.add_parser(sub)
    transfer_command.add_parser(sub)
    return parser


def _add_scheduler_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        default="fifo",
        help="fifo (default), sh, hyperband, asha; BOHB is --strategy bohb --scheduler hyperband",
    )
    p.add_argument(
        "--scheduler-option",
        type=key_value_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. eta=3, min_resource=1, max_resource=27 or resources=[12,200] (repeatable)",
    )


def _add_execution_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution (not stored with the study; a resume may choose anew)")
    g.add_argument(
        "--executor",
        choices=("auto", "inline", "simulated", "pool", "ray"),
        default="auto",
        help="auto: a simulated clock for tabular benchmarks, else inline; pool: local worker "
        "processes; ray: Ray tasks (with pool or ray a seconds budget is wall time)",
    )
    g.add_argument("--workers", type=int, help="trials at once (pool: 2; ray: as the CPUs allow)")
    g.add_argument("--threads-per-worker", type=int, default=1, help="threads (CPUs) per trial")
    g.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs each Ray trial asks for")
    g.add_argument("--ray-address", help="'auto' joins a running Ray cluster; default: a local one")
    g.add_argument(
        "--trial-timeout", type=float, help="seconds before a trial is stopped (pool, ray)"
    )
    g.add_argument(
        "--max-retries", type=int, default=1, help="re-runs of a trial whose worker died"
    )


def _executor(args: argparse.Namespace, config: StudyConfig) -> Executor:
    kind = args.executor
    if kind == "auto":
        kind = "simulated" if config.evaluator in TABULAR_EVALUATORS else "inline"
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if args.max_retries < 0:
        raise ConfigError(f"--max-retries must be >= 0, got {args.max_retries}")
    if args.trial_timeout is not None and kind not in ("pool", "ray"):
        raise ConfigError(
            "--trial-timeout needs --executor pool or ray (inline trials cannot stop)"
        )
    if kind == "inline":
        return InlineExecutor()
    if kind == "simulated":
        return SimulatedExecutor(args.workers or 1)
    if kind == "pool":
        return ProcessPoolExecutor(
            args.workers or 2,
            threads_per_worker=args.threads_per_worker,
            trial_timeout=args.trial_timeout,
        )
    return RayExecutor(
        args.workers,
        num_cpus=args.threads_per_worker,
        num_gpus=args.gpus_per_trial,
        address=args.ray_address,
        trial_timeout=args.trial_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args) or 0)
    except ArchsearchError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        print("archsearch: interrupted; continue with: archsearch resume STUDY", file=sys.stderr)
        return 130


# --- study folders ---------------------------------------------------------------------------
def _stored(folder: Path) -> tuple[StudyConfig, Budget]:
    """A study's config and budget, read without writing anything."""
    db = folder / DB_NAME
    if not db.exists():
        raise StudyError(f"{folder}: no study here (missing {DB_NAME})")
    with SQLiteStorage(db, readonly=True) as storage:
        config, budget = storage.get_meta("config"), storage.get_meta("budget")
    if config is None or budget is None:
        raise StudyError(f"{db}: holds no study config")
    return StudyConfig.parse(config), Budget.parse(budget)


def _run(folder: Path, config: StudyConfig, budget: Budget, args: argparse.Namespace) -> None:
    space, strategy, evaluator = build_components(config)  # every check before any write
    scheduler = build_scheduler(config, evaluator)
    executor = _executor(args, config)
    try:
        _search(folder, config, budget, args, space, strategy, evaluator, scheduler, executor)
    finally:
        executor.shutdown()


def _search(
    folder: Path,
    config: StudyConfig,
    budget: Budget,
    args: argparse.Namespace,
    space: Any,
    strategy: Any,
    evaluator: Any,
    scheduler: Scheduler,
    executor: Executor,
) -> None:
    with SQLiteStorage(folder / DB_NAME) as storage:
        study = Study(
            space, strategy, storage, seed=config.seed, metric=config.metric, mode=config.mode
        )
        if storage.get_meta("config") is None:
            storage.set_meta("library_version", __version__)
            storage.set_meta("created_at", time.time())
            storage.set_meta("config", config.model_dump())
        storage.set_meta("budget", str(budget))
        done_before = len(study.completed())
        with _Progress(budget, args.quiet, len(study.trials)) as progress:
            study.optimize(
                evaluator,
                budget=budget,
                executor=executor,
                scheduler=scheduler,
                callbacks=[progress.update],
                max_retries=args.max_retries,
            )
        _print_summary(study, folder, len(study.completed()) - done_before)


def cmd_search(args: argparse.Namespace) -> None:
    budget = Budget.parse(args.budget)
    config = StudyConfig.parse(
        {
            "space": args.space,
            "strategy": args.strategy,
            "strategy_options": dict(args.strategy_option),
            "scheduler": args.scheduler,
            "scheduler_options": dict(args.scheduler_option),
            "evaluator": args.benchmark,
            "evaluator_options": {
                "dataset": args.dataset,
                "fidelity": args.fidelity,
                "seed": args.signal_seed,
            },
            "seed": args.seed,
        }
    )
    build_scheduler(config, build_components(config)[2])  # bad names before comparing configs
    if (args.study / DB_NAME).exists():
        stored, _ = _stored(args.study)
        diff = config.differences(stored)
        if diff:
            raise StudyError(
                f"{args.study} holds a study with a different config ({', '.join(diff)}); "
                "use another --study folder, or `archsearch resume` to continue that one"
            )
    _run(args.study, config, budget, args)


def _objectives(text: str | None) -> list[tuple[str, str]] | None:
    if text is None:
        return None
    pairs = []
    for item in text.split(","):
        metric, _, direction = item.partition(":")
        if direction not in ("max", "min") or not metric:
            raise ConfigError(f"--objectives: write METRIC:max or METRIC:min, not {item!r}")
        pairs.append((metric, direction))
    return pairs


def cmd_run(args: argparse.Namespace) -> None:
    from archsearch.jobs.run import SUMMARY_KEYS, RunConfig, default_folder, run

    config = RunConfig.parse(
        {
            "dataset": args.dataset,
            "data_dir": args.data_dir,
            "space": args.space,
            "space_options": dict(args.space_option),
            "strategy": args.strategy,
            "strategy_options": dict(args.strategy_option),
            "scheduler": args.scheduler,
            "scheduler_options": dict(args.scheduler_option),
            "time_budget": args.time_budget,
            "search_share": args.search_share,
            "search_epochs": args.search_epochs,
            "final_epochs": args.final_epochs,
            "data_fraction": args.data_fraction,
            "val_fraction": args.val_fraction,
            "resolution": args.resolution,
            "batch_size": args.batch_size,
            "augment": args.augment,
            "workers": args.workers,
            "threads": args.threads,
            "max_params": args.max_params,
            "max_flops": args.max_flops,
            "max_latency_ms": args.max_latency_ms,
            "objectives": _objectives(args.objectives),
            "seed": args.seed,
        }
    )
    folder = args.study or default_folder(config)
    budget = Budget(seconds=config.budget_seconds() * config.search_share)
    build_components(config.study_config())  # report bad names before any output
    with _Progress(budget, args.quiet, 0) as progress:
        summary = run(config, folder, log=progress.log, callbacks=(progress.update,))
    table = Table(title=f"archsearch run: {folder}", show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    for key in (*SUMMARY_KEYS, "genotype_file", "weights_file", "onnx_file", "report"):
        value = summary.get(key)
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)


def cmd_resume(args: argparse.Namespace) -> None:
    config, budget = _stored(args.study)
    if args.budget is not None:
        budget = Budget.parse(args.budget)
    _run(args.study, config, budget, args)


def cmd_status(args: argparse.Namespace) -> None:
    from rich.console import Console

    config, budget = _stored(args.study)
    with SQLiteStorage(args.study / DB_NAME, readonly=True) as storage:
        trials = storage.trials()
    space = build_components(config)[0]
    console = Console()
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    clock = max((t.clock_end for t in trials if t.clock_end is not None), default=0.0)
    console.print(
        f"study {args.study}: {config.strategy} on {config.space} ({config.evaluator}), "
        f"seed {config.seed}, budget {budget}, clock {clock:,.0f} s"
    )
    console.print(", ".join(f"{n} {s.value.lower()}" for s, n in counts.items()))
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.score is not None]
    done.sort(key=lambda t: (-(t.score or 0.0), t.number))
    if done:
        console.print(
            _trials_table(done[: args.top], space.describe, f"best {min(args.top, len(done))}")
        )
    if counts[TrialState.RUNNING]:
        console.print("trials left RUNNING will run again on `archsearch resume`")


def cmd_export(args: argparse.Namespace) -> None:
    config, _ = _stored(args.study)
    with SQLiteStorage(args.study / DB_NAME, readonly=True) as storage:
        trials = [
            t for t in storage.trials() if t.state is TrialState.COMPLETE and t.score is not None
        ]
    if not trials:
        raise StudyError(f"{args.study}: no complete trial to export yet")
    best = max(trials, key=lambda t: (t.score, -t.number))
    space = build_components(config)[0]
    document = {
        **best.arch.to_dict(),
        "description": space.describe(best.arch),
        "trial": best.number,
        "metrics": best.metrics,
    }
    text = json.dumps(document, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(args.output)
        print(f"wrote {args.output}", file=sys.stderr)


def cmd_bench(args: argparse.Namespace) -> None:
    from rich.console import Console

    from archsearch.benchmarks.nb201 import DATASETS, NB201Table, dataset_name
    from archsearch.space.nb201 import NB201Space

    space, table = NB201Space(), NB201Table()
    arch = space.parse(args.arch)
    index = space.index(arch)
    datasets = DATASETS if args.dataset is None else (dataset_name(args.dataset),)
    out = Table(title=f"NAS-Bench-201 #{index}: {space.to_arch_str(arch)}")
    for column in (
        "dataset",
        "valid 12ep",
        "test 12ep",
        "valid 200ep",
        "test 200ep",
        "params M",
        "train s",
    ):
        out.add_column(column, justify="right", no_wrap=column == "dataset")
    for ds in datasets:
        out.add_row(
            ds,
            f"{table.valid_acc(index, ds, 12):.2f}",
            f"{table.test_acc(index, ds, 12):.2f}",
            f"{table.valid_acc(index, ds, 200):.2f}",
            f"{table.test_acc(index, ds, 200):.2f}",
            f"{table.params_m(index, ds):.3f}",
            f"{table.train_time_s(index, ds, 200):.0f}",
        )
    Console().print(out)


def _settings(text: str) -> dict[str, Any]:
    """'epochs=1,data_fraction=0.25' -> {'epochs': 1, 'data_fraction': 0.25}."""
    try:
        return dict(key_value_option(item) for item in text.split(",") if item)
    except argparse.ArgumentTypeError as e:
        raise ConfigError(f"calibrate settings {text!r}: {e}") from None


def cmd_calibrate(args: argparse.Namespace) -> None:
    import numpy as np

    from archsearch.estimation.proxies import PROXIES, ProxyEvaluator
    from archsearch.estimation.training import TrainingEvaluator
    from archsearch.jobs.calibrate import calibrate
    from archsearch.space.base import get_space

    if args.sample < 3:
        raise ConfigError(f"--sample must be >= 3, got {args.sample}")
    space = get_space(args.space, **dict(args.space_option))
    common: dict[str, Any] = {
        "space": space,
        "data_dir": args.data_dir,
        "threads": args.threads,
        "split_seed": args.seed,
    }
    reference_settings = _settings(args.reference)

    def training(settings: dict[str, Any]) -> TrainingEvaluator:
        try:
            return TrainingEvaluator(args.dataset, **common, **settings)
        except TypeError as e:
            raise ConfigError(f"calibrate: unknown training setting ({e})") from None

    reference = training(reference_settings)
    specs = args.estimate
    if specs is None:
        side = reference.dataset.task().input_shape[-1]
        specs = ["epochs=1", "epochs=3", "data_fraction=0.25", f"resolution={max(4, side // 2)}"]
        specs = [s for s in specs if _settings(s).items() - reference_settings.items()]
        specs += [f"proxy={name}" for name in PROXIES.names()]
    estimates: dict[str, Any] = {}
    for spec in specs:
        settings = _settings(spec)
        if "proxy" in settings:
            estimates[spec] = ProxyEvaluator(
                str(settings.pop("proxy")),
                args.dataset,
                space=space,
                data_dir=args.data_dir,
                threads=args.threads,
                split_seed=args.seed,
                **settings,
            )
        else:
            estimates[spec] = training({**reference_settings, **settings})
    rng = np.random.default_rng(args.seed)
    archs: list[Any] = []
    for _ in range(100 * args.sample):  # distinct architectures (a small space may run out)
        arch = space.sample(rng)
        if arch not in archs:
            archs.append(arch)
        if len(archs) == args.sample:
            break
    console = Console(stderr=True)

    def progress(label: str, done: int, total: int) -> None:
        if not args.quiet:
            console.print(f"  {label}: {done}/{total}", highlight=False)

    result = calibrate(
        archs,
        reference,
        estimates,
        seed=args.seed,
        reference_label=args.reference,
        progress=progress,
    )
    table = Table(
        title=f"calibration on {args.dataset}: {len(archs)} {args.space} architectures, "
        f"reference {args.reference} ({result.reference_seconds_per_arch:.1f} s each)"
    )
    for column in ("estimate", "Kendall tau", "Spearman", "s / arch", "cost ratio", "failed"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(
            row.label,
            f"{row.kendall_tau:.3f}",
            f"{row.spearman:.3f}",
            f"{row.seconds_per_arch:.2f}",
            f"{row.cost_ratio:.3f}",
            str(row.failed),
        )
    Console().print(table)
    if args.output is not None:
        from archsearch.core.atomic import atomic_write_text

        rows = [vars(r) for r in result.rows]
        payload = {
            "dataset": args.dataset,
            "space": space.id,
            "reference": args.reference,
            "reference_seconds_per_arch": result.reference_seconds_per_arch,
            "architectures": [a.to_json() for a in archs],
            "scores": result.scores,
            "estimates": rows,
        }
        atomic_write_text(args.output, json.dumps(payload, indent=2))


COMMANDS = {
    "run": cmd_run,
    "oneshot": oneshot_command.main,
    "transfer": transfer_command.main,
    "calibrate": cmd_calibrate,
    "search": cmd_search,
    "bench": cmd_bench,
    "resume": cmd_resume,
    "status": cmd_status,
    "export": cmd_export,
}


# --- output ------------------------------------------------------------------------------------
class _Progress:
    """A rich progress bar over the budget (trials or clock seconds), redrawn at most 10x/s."""

    def __init__(self, budget: Budget, quiet: bool, already: int) -> None:
        self.budget, self.quiet, self.already = budget, quiet, already
        self._last = 0.0
        self._latest: tuple[Study, Trial] | None = None

    def __enter__(self) -> _Progress:
        if not self.quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]searching"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            total = self.budget.trials if self.budget.seconds is None else self.budget.seconds
            self.task = self.bar.add_task("search", total=total, info="", completed=0)
            self.bar.start()
        return self

    def log(self, message: str) -> None:
        if not self.quiet:
            self.bar.console.print(message)

    def update(self, study: Study, trial: Trial, force: bool = False) -> None:
        self._latest = (study, trial)
        now = time.monotonic()
        if self.quiet or (now - self._last < 0.1 and not force):
            return
        self._last = now
        done = len(study.trials) if self.budget.seconds is None else (trial.clock_end or 0.0)
        best = max((t.score for t in study.trials if t.score is not None), default=None)
        info = f"{len(study.trials)} trials" + ("" if best is None else f", best score {best:.3f}")
        self.bar.update(self.task, completed=done, info=info)

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            if self._latest is not None:
                self.update(*self._latest, force=True)
            self.bar.stop()


def _trials_table(trials: list[Trial], describe: Any, title: str) -> Table:
    table = Table(title=title)
    names = list(trials[0].metrics)
    table.add_column("trial", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("architecture", overflow="fold")
    for t in trials:
        values = [f"{t.metrics[n]:.4g}" if n in t.metrics else "" for n in names]
        table.add_row(str(t.number), *values, describe(t.arch))
    return table


def _print_summary(study: Study, folder: Path, new: int) -> None:
    from rich.console import Console

    console = Console()
    s = study.summary()
    console.print(
        f"{folder}: {s['trials']} trials ({s['COMPLETE']} complete, {s['FAILED']} failed, "
        f"{s['PRUNED']} pruned); {new} new in this run"
    )
    if study.completed():
        best = study.best()
        table = Table(title=f"best architecture: trial {best.number}", show_header=False)
        table.add_column(overflow="fold")
        table.add_column(overflow="fold")
        table.add_row("architecture", study.space.describe(best.arch))
        for name, value in best.metrics.items():
            table.add_row(name, f"{value:.4g}")
        console.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
