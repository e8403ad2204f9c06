"""Search NAS-Bench-201 with regularized evolution from Python, then resume the study.

python examples/nb201_search.py
"""

from pathlib import Path

from archsearch import (
    NB201Evaluator,
    NB201Space,
    RegularizedEvolution,
    SimulatedExecutor,
    SQLiteStorage,
    Study,
)

space = NB201Space()
folder = Path("runs/example")
folder.mkdir(parents=True, exist_ok=True)
with SQLiteStorage(folder / "study.db") as storage:
    # Re-running this script resumes: the stored trials are replayed into the strategy.
    study = Study(space, RegularizedEvolution(space, seed=0), storage, seed=0)
    study.optimize(
        NB201Evaluator("cifar10", fidelity=12),  # score by table look-up, 12-epoch signal
        budget="12000s",  # simulated seconds of training
        executor=SimulatedExecutor(),
    )
    best = study.best()
    print(f"{len(study.trials)} trials; best: {space.to_arch_str(best.arch)}")
    val, test = best.metrics["val_acc"], best.metrics["final_test_acc"]
    print(f"12-epoch val {val:.2f}, 200-epoch test {test:.2f}")
