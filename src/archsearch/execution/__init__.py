"""WHERE trials run: inline, a local process pool, Ray, or a simulated clock."""

from archsearch.execution.base import EXECUTORS, Executor, Finished
from archsearch.execution.inline import InlineExecutor
from archsearch.execution.process_pool import ProcessPoolExecutor
from archsearch.execution.ray_executor import RayExecutor  # imports ray only when constructed
from archsearch.execution.simulated import SimulatedExecutor

__all__ = [
    "EXECUTORS",
    "Executor",
    "Finished",
    "InlineExecutor",
    "ProcessPoolExecutor",
    "RayExecutor",
    "SimulatedExecutor",
]
