"""Recurrent cell search for language modelling on Penn Treebank: DARTS (first order) and
regularized evolution against a two-layer LSTM, in one run, on the CPU.

Rows, every one retrained by the same final protocol (`--final-epochs` on the whole PTB
training stream, the same size, dropouts, optimizer and seed) and scored once on the
validation and test streams:

(a) the hand-designed baseline: a two-layer LSTM (Zaremba et al. 2014), tied weights;
(b) the cell DARTS derives (Liu et al., ICLR 2019; `archsearch.oneshot.rnn_darts`),
    searched for `--darts-epochs` on `--darts-fraction` of the training stream, alpha
    learned on the validation stream;
(c) the best cell of regularized evolution (Real et al., AAAI 2019; a `Study` with
    strategy `re` and the `lm` evaluator), `--re-trials` candidates each trained for one
    epoch on `--re-fraction` of the training stream and scored on `--re-eval-fraction`
    of the validation stream;
(d) DARTS' published second-order PTB cell (DARTS_V2), as a reference;
(e) a random cell (seeded).

The jobs run in `--workers` single-threaded processes (the searches first; each found
cell's final training starts when its search ends), so the seconds in the table are
measured with the other worker busy. Search cost is the search's wall seconds
(data loading excluded); (a), (d) and (e) have none.

    nice -n 19 python benchmarks/recurrent_ptb.py [--data-dir DIR] [--final-epochs 2]

The data directory defaults to `$ARCHSEARCH_DATA`, else `../shared/datasets` beside the
repository (it must hold `ptb/ptb.{train,valid,test}.txt`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from reporting import RESULTS, header, write

REPO = Path(__file__).resolve().parents[1]
ROWS = ("lstm", "darts", "re", "darts_v2", "random")
LABELS = {
    "lstm": "(a) 2-layer LSTM (baseline)",
    "darts": "(b) DARTS cell (first order, this run)",
    "re": "(c) RE cell (this run)",
    "darts_v2": "(d) DARTS_V2 (published cell)",
    "random": "(e) random cell",
}


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _space(cfg: dict[str, Any]) -> Any:
    from archsearch.space.recurrent import RecurrentSpace

    return RecurrentSpace(hidden_size=cfg["hidden"])


def _corpus(cfg: dict[str, Any]) -> Any:
    """PTB (SHA-256 checked), each split cut to `--max-tokens` for a quick smoke run."""
    import dataclasses

    from archsearch.datasets.text import load_corpus

    corpus = load_corpus("ptb", cfg["data_dir"])
    n = cfg["max_tokens"]
    if n is None:
        return corpus
    return dataclasses.replace(
        corpus, train=corpus.train[:n], valid=corpus.valid[:n], test=corpus.test[:n]
    )


def _evaluator(cfg: dict[str, Any], **options: Any) -> Any:
    from archsearch.estimation.language import LanguageModelEvaluator

    return LanguageModelEvaluator(
        _corpus(cfg),
        space=_space(cfg),
        batch_size=cfg["batch_size"],
        bptt=cfg["bptt"],
        threads=1,
        **options,
    )


def job_darts(cfg: dict[str, Any]) -> dict[str, Any]:
    """First-order DARTS on a fraction of PTB's training stream."""
    from archsearch.oneshot.rnn_darts import darts_rnn_search

    result = darts_rnn_search(
        _corpus(cfg),
        space=_space(cfg),
        epochs=cfg["darts_epochs"],
        batch_size=cfg["batch_size"],
        bptt=cfg["bptt"],
        data_fraction=cfg["darts_fraction"],
        seed=cfg["seed"],
        threads=1,
        on_epoch=lambda r: _log(f"darts epoch {r['epoch']}: {r}"),
    )
    return {
        "arch": result.arch.to_json(),
        "search_seconds": result.search_seconds,
        "history": result.history,
    }


def job_re(cfg: dict[str, Any]) -> dict[str, Any]:
    """Regularized evolution over the cell space, each candidate at low fidelity."""
    from archsearch.strategies.evolution import RegularizedEvolution
    from archsearch.study import Study

    ev = _evaluator(
        cfg, epochs=1, data_fraction=cfg["re_fraction"], eval_fraction=cfg["re_eval_fraction"]
    )
    ev.stream("search_train")  # load and batchify outside the timed search
    ev.stream("search_valid")
    space = ev.space
    strategy = RegularizedEvolution(
        space, seed=cfg["seed"], population_size=cfg["re_population"], sample_size=cfg["re_sample"]
    )
    study = Study(space, strategy, seed=cfg["seed"])

    def progress(study: Any, trial: Any) -> None:
        ppl = trial.metrics.get("val_ppl", float("nan"))
        _log(f"re trial {trial.number}: {trial.state.name} val_ppl {ppl:.1f}")

    start = time.perf_counter()
    study.optimize(ev, budget=f"{cfg['re_trials']}trials", callbacks=[progress])
    seconds = time.perf_counter() - start
    best = study.best()
    done = study.completed()
    return {
        "arch": best.arch.to_json(),
        "search_seconds": seconds,
        "best_low_fidelity_ppl": best.metrics["val_ppl"],
        "ppls": sorted(t.metrics["val_ppl"] for t in done),
        "failed": sum(t.state.name == "FAILED" for t in study.trials),
        "trials": len(study.trials),
    }


def job_final(cfg: dict[str, Any], row: str, arch_json: str | None) -> dict[str, Any]:
    """The final training of one row."""
    from archsearch.core.genotype import Architecture

    ev = _evaluator(cfg, epochs=cfg["final_epochs"])
    _log(f"final {row}: start")
    if arch_json is None:
        fit = ev.final_fit_baseline(seed=cfg["seed"])
    else:
        fit = ev.final_fit(Architecture.from_json(arch_json), seed=cfg["seed"])
    _log(f"final {row}: {fit.metrics}")
    return {**fit.metrics, "history": fit.history}


def _fixed_arch(row: str, cfg: dict[str, Any]) -> str:
    import numpy as np

    from archsearch.space.recurrent import DARTS_V2

    space = _space(cfg)
    if row == "darts_v2":
        return str(space.parse(DARTS_V2).to_json())
    return str(space.sample(np.random.default_rng(cfg["seed"])).to_json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.environ.get("ARCHSEARCH_DATA") or str(REPO.parent / "shared" / "datasets")
    parser.add_argument("--data-dir", default=default_data)
    parser.add_argument("--hidden", type=int, default=128, help="embedding = hidden units")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--final-epochs", type=int, default=2)
    parser.add_argument("--darts-epochs", type=int, default=1)
    parser.add_argument("--darts-fraction", type=float, default=0.5)
    parser.add_argument("--re-trials", type=int, default=24)
    parser.add_argument("--re-fraction", type=float, default=0.1)
    parser.add_argument("--re-eval-fraction", type=float, default=0.3)
    parser.add_argument("--re-population", type=int, default=8)
    parser.add_argument("--re-sample", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--max-tokens", type=int, default=None, help="cut every split (smoke runs only)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "recurrent_ptb.md")
    args = parser.parse_args()
    cfg = {k: v for k, v in vars(args).items() if k not in ("out", "workers")}

    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    searches: dict[str, dict[str, Any]] = {}
    archs: dict[str, str | None] = {"lstm": None}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        pending: dict[Future[dict[str, Any]], tuple[str, str]] = {
            pool.submit(job_re, cfg): ("search", "re"),
            pool.submit(job_darts, cfg): ("search", "darts"),
            pool.submit(job_final, cfg, "lstm", None): ("final", "lstm"),
        }
        for row in ("darts_v2", "random"):
            archs[row] = _fixed_arch(row, cfg)
            pending[pool.submit(job_final, cfg, row, archs[row])] = ("final", row)
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                kind, row = pending.pop(future)
                out = future.result()
                if kind == "search":
                    searches[row] = out
                    archs[row] = out["arch"]
                    _log(f"search {row} done in {out['search_seconds']:.0f}s: {out['arch']}")
                    pending[pool.submit(job_final, cfg, row, out["arch"])] = ("final", row)
                else:
                    results[row] = out
    total = time.perf_counter() - started
    write(report(args, cfg, results, searches, archs, total), args.out)


def report(
    args: argparse.Namespace,
    cfg: dict[str, Any],
    results: dict[str, dict[str, Any]],
    searches: dict[str, dict[str, Any]],
    archs: dict[str, str | None],
    total: float,
) -> list[str]:
    from archsearch.core.genotype import Architecture

    space = _space(cfg)
    argv = [a if a != args.data_dir else "$ARCHSEARCH_DATA" for a in sys.argv[1:]]
    lines = header(
        "Recurrent cell search on Penn Treebank (DARTS, RE, 2-layer LSTM)", "recurrent_ptb.py", argv
    )
    lines += [
        "- data: PTB word level (10,000 words; 929,589 / 73,760 / 82,430 tokens), read from "
        "`$ARCHSEARCH_DATA/ptb` (`../shared/datasets` by default), SHA-256 checked",
        f"- model size: embedding = hidden = {cfg['hidden']}, tied decoder, dropouts "
        f"{space.dropout} / {space.dropouth} / {space.dropoutx} / {space.dropouti} "
        f"(output / hidden / input / embedding); batch {cfg['batch_size']}, BPTT {cfg['bptt']}; "
        f"SGD lr 20 cosine-annealed, clip 0.25, weight decay 5e-7",
        f"- final training (every row): {cfg['final_epochs']} epoch(s) on the whole training "
        f"stream, seed {cfg['seed']}; perplexity on the full valid and test streams, "
        f"10 columns (AWD-LSTM / DARTS evaluation batch)",
        f"- DARTS: first order, {cfg['darts_epochs']} epoch(s) on {cfg['darts_fraction']:.0%} "
        f"of the training stream, alpha by Adam (lr 3e-3, wd 1e-3) on the validation stream",
        f"- RE: {cfg['re_trials']} candidates (population {cfg['re_population']}, sample "
        f"{cfg['re_sample']}), each 1 epoch on {cfg['re_fraction']:.0%} of the training stream, "
        f"scored on {cfg['re_eval_fraction']:.0%} of the validation stream",
        *(
            [f"- SMOKE RUN: every split cut to its first {cfg['max_tokens']:,} tokens"]
            if cfg["max_tokens"]
            else []
        ),
        f"- {args.workers} single-threaded worker processes in parallel; total wall time "
        f"{total / 60:.1f} min",
        "",
        "| row | search cost (s) | val ppl | test ppl | params | final-training s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in ROWS:
        r = results[row]
        cost = searches[row]["search_seconds"] if row in searches else 0.0
        lines.append(
            f"| {LABELS[row]} | {cost:,.0f} | {r['val_ppl']:.1f} | {r['test_ppl']:.1f} | "
            f"{int(r['params']):,} | {r['train_seconds']:,.0f} |"
        )
    lstm = results["lstm"]["test_ppl"]
    best = min(ROWS, key=lambda row: results[row]["test_ppl"])
    lines += [
        "",
        f"Lowest test perplexity: {LABELS[best]}. Test perplexity relative to the LSTM: "
        + ", ".join(f"{row} {results[row]['test_ppl'] / lstm:.3f}" for row in ROWS if row != "lstm")
        + ".",
        "",
        "Cells (DARTS genotype form):",
        "",
    ]
    for row in ROWS:
        if archs.get(row) is not None:
            arch = Architecture.from_json(str(archs[row]))
            lines.append(f"- {row}: `{space.describe(arch)}`")
    if "re" in searches:
        s = searches["re"]
        ppls = s["ppls"]
        lines += [
            "",
            f"RE search: {s['trials']} trials, {s['failed']} failed; low-fidelity val ppl "
            f"best {ppls[0]:.1f}, median {ppls[len(ppls) // 2]:.1f}, worst {ppls[-1]:.1f}.",
        ]
    if "darts" in searches:
        for rec in searches["darts"]["history"]:
            lines.append(
                f"DARTS epoch {rec['epoch']}: train loss {rec['train_loss']:.3f}, arch (valid) "
                f"loss {rec['arch_loss']:.3f}, supernet val ppl {rec['supernet_val_ppl']:.1f}, "
                f"{rec['seconds']:.0f} s."
            )
    lines += ["", "Per-epoch training loss of the final runs:", ""]
    for row in ROWS:
        losses = ", ".join(f"{h['train_loss']:.3f}" for h in results[row]["history"])
        lines.append(f"- {row}: {losses}")
    return lines


if __name__ == "__main__":
    main()
