"""First in, first out: every trial runs to completion (no early stopping)."""

from __future__ import annotations

from archsearch.schedulers.base import SCHEDULERS, Scheduler


@SCHEDULERS.register("fifo")
class FIFOScheduler(Scheduler):
    """Never stops a trial; every trial runs at the evaluator's own fidelity."""
