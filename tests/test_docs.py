"""The worked examples of docs/architecture.md run as written: the example strategy,
dropped into a module, registers and passes the conformance suite on every space."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from archsearch.space import SPACES, get_space
from archsearch.strategies import STRATEGIES
from archsearch.testing import check_strategy

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_the_worked_strategy_example_is_one_file_that_passes_conformance() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    source = next(b for b in blocks if '@STRATEGIES.register("greedy")' in b)
    module = types.ModuleType("archsearch_docs_greedy")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, str(DOC), "exec"), module.__dict__)
        assert "greedy" in STRATEGIES
        for name in SPACES.names():
            check_strategy(
                lambda space, seed: STRATEGIES.get("greedy")(space, seed=seed), get_space(name)
            )
    finally:
        STRATEGIES._entries.pop("greedy", None)
        del sys.modules[module.__name__]


def test_every_layer_of_the_contract_is_on_the_map() -> None:
    text = DOC.read_text()
    config = (DOC.parents[1] / "pyproject.toml").read_text()
    for layer in re.findall(
        r'"(archsearch\.[a-z_.| ]+)"', config.split("[[tool.importlinter.contracts]]")[1]
    ):
        for package in layer.split(" | "):
            assert package.removeprefix("archsearch.") in text, package
