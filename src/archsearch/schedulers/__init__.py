"""WHEN to start, promote or stop trials: FIFO, successive halving, Hyperband, ASHA
(and BOHB: Hyperband with the "bohb" strategy). Schedulers return decisions; the study
carries them out."""

from archsearch.schedulers.asha import ASHA
from archsearch.schedulers.base import SCHEDULERS, Promote, Scheduler, Start
from archsearch.schedulers.fifo import FIFOScheduler
from archsearch.schedulers.hyperband import Hyperband
from archsearch.schedulers.successive_halving import SuccessiveHalving

__all__ = [
    "ASHA",
    "SCHEDULERS",
    "FIFOScheduler",
    "Hyperband",
    "Promote",
    "Scheduler",
    "Start",
    "SuccessiveHalving",
]
