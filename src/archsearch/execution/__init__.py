"""WHERE trials run: inline, simulated clock (process pool and Ray come later)."""

from archsearch.execution.base import Executor, Finished
from archsearch.execution.inline import InlineExecutor
from archsearch.execution.simulated import SimulatedExecutor

__all__ = ["Executor", "Finished", "InlineExecutor", "SimulatedExecutor"]
