"""WHEN to stop or promote trials. Schedulers return decisions; they never run anything.

Only FIFO (run every trial to completion) exists so far; successive halving, Hyperband,
ASHA and BOHB plug into the same `Reporter` hook.
"""

from archsearch.schedulers.fifo import FIFOScheduler, Scheduler

__all__ = ["FIFOScheduler", "Scheduler"]
