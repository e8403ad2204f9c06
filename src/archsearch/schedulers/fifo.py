"""First in, first out: every trial runs to completion (no early stopping)."""

from __future__ import annotations

from archsearch.estimation.base import Reporter
from archsearch.trial import Trial


class Scheduler:
    """Decides, from a trial's intermediate reports, whether it goes on."""

    def reporter(self, trial: Trial) -> Reporter:
        """The reporter the evaluator of `trial` reports to."""
        return Reporter()


class FIFOScheduler(Scheduler):
    """Never stops a trial."""
