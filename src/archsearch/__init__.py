"""archsearch: neural architecture search for PyTorch.

A study searches a space (WHAT can be built) with a strategy (WHICH next), scores
architectures with an evaluator (HOW GOOD), runs them on an executor (WHERE) and keeps
every trial in a storage it can resume from (WHAT HAPPENED).
"""

from archsearch.core.errors import ArchsearchError, ConfigError, GenotypeError, StudyError
from archsearch.core.trial import Budget, Result, Trial, TrialState
from archsearch.core.version import VERSION
from archsearch.estimation import NB201Evaluator
from archsearch.execution import InlineExecutor, SimulatedExecutor
from archsearch.export import load_model
from archsearch.jobs import run_job as run
from archsearch.jobs.calibrate import CalibrateConfig
from archsearch.jobs.run import RunConfig
from archsearch.jobs.search import SearchConfig
from archsearch.space import Architecture, NB201Space, SearchSpace, get_space
from archsearch.storage import InMemoryStorage, SQLiteStorage
from archsearch.strategies import RandomSearch, RegularizedEvolution, Strategy
from archsearch.study import Study

__version__ = VERSION

__all__ = [
    "Architecture",
    "ArchsearchError",
    "Budget",
    "CalibrateConfig",
    "ConfigError",
    "GenotypeError",
    "InMemoryStorage",
    "InlineExecutor",
    "NB201Evaluator",
    "NB201Space",
    "RandomSearch",
    "RegularizedEvolution",
    "Result",
    "RunConfig",
    "SQLiteStorage",
    "SearchConfig",
    "SearchSpace",
    "SimulatedExecutor",
    "Strategy",
    "Study",
    "StudyError",
    "Trial",
    "TrialState",
    "__version__",
    "get_space",
    "load_model",
    "run",
]
