"""A space, an evaluator and a training function defined in `__main__` (a script run as
`python -c`, as a notebook's cells are) run on 2 process-pool workers and on Ray: jobs
travel by cloudpickle, by value."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os
    from archsearch import Study
    from archsearch.core import Decision, Result
    from archsearch.estimation import Evaluator
    from archsearch.execution import EXECUTORS
    from archsearch.space import SearchSpace
    from archsearch.strategies import RandomSearch

    class Widths(SearchSpace):
        name = "widths-main"

        def decisions(self):
            return [Decision("width", (8, 16, 32)), Decision("depth", (1, 2, 3))]

    def train(width, depth):  # the user's own training function
        return {"val_acc": width / 32 + depth / 3, "pid": os.getpid()}

    class MyEvaluator(Evaluator):
        metric, mode = "val_acc", "max"

        def evaluate(self, arch, ctx):
            return Result.complete(train(arch["width"], arch["depth"]), cost=0.01)

    space = Widths()
    executor = EXECUTORS.get("%(executor)s")(2, **%(options)s)
    study = Study(space, RandomSearch(space, seed=0), seed=0)
    try:
        study.optimize(MyEvaluator(), budget="6trials", executor=executor)
    finally:
        executor.shutdown()
    print(json.dumps({
        "states": [t.state.value for t in study.trials],
        "errors": [t.error for t in study.trials if t.error],
        "pids": sorted({t.metrics.get("pid") for t in study.trials}),
        "driver": os.getpid(),
    }))
    """
)


def run_main(executor: str, options: str = "{}") -> dict[str, object]:
    import json

    code = SCRIPT % {"executor": executor, "options": options}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_main_module_space_evaluator_and_function_on_two_pool_workers() -> None:
    report = run_main("pool")
    assert report["errors"] == []
    assert report["states"] == ["COMPLETE"] * 6
    pids = report["pids"]
    assert isinstance(pids, list) and report["driver"] not in pids and len(pids) == 2


@pytest.mark.ray
def test_main_module_space_evaluator_and_function_on_ray() -> None:
    report = run_main("ray", "{'num_cpus': 1}")
    assert report["errors"] == []
    assert report["states"] == ["COMPLETE"] * 6
