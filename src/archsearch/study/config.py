"""Study configuration: validated with pydantic, stored with the study, and turned into the
registered components it names. A stored config is what makes a study resumable."""

from __future__ import annotations

import inspect
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from archsearch.core.errors import ConfigError
from archsearch.core.registry import Registry
from archsearch.estimation.base import EVALUATORS, Evaluator
from archsearch.schedulers import SCHEDULERS, Scheduler
from archsearch.space.base import SPACES, SearchSpace
from archsearch.strategies.base import STRATEGIES, Strategy

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: dict[str, Any]) -> M:
    """Validate with pydantic, turning its report into one line that names the field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "config"
        cause = err.get("ctx", {}).get("error")
        message = str(cause) if cause is not None else err["msg"]
        raise ConfigError(f"config field {field!r}: {message}") from None


def _registered(registry: Registry[Any], name: str) -> str:
    registry.get(name)  # raises UnknownNameError with the choices
    return name


class StudyConfig(BaseModel):
    """Everything that defines a study except its budget (which a resume may extend)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = "nb201"
    space_options: dict[str, Any] = {}
    strategy: str = "re"
    strategy_options: dict[str, Any] = {}
    evaluator: str = "nb201"
    evaluator_options: dict[str, Any] = {}
    scheduler: str = "fifo"
    scheduler_options: dict[str, Any] = {}
    metric: str | None = None
    mode: Literal["max", "min"] | None = None
    #: several (metric, "max" | "min") objectives: a multi-objective study (see `Study`)
    objectives: list[tuple[str, Literal["max", "min"]]] | None = None
    seed: int = 0

    @field_validator("space")
    @classmethod
    def _space(cls, v: str) -> str:
        return _registered(SPACES, v)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        return _registered(STRATEGIES, v)

    @field_validator("evaluator")
    @classmethod
    def _evaluator(cls, v: str) -> str:
        return _registered(EVALUATORS, v)

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v: str) -> str:
        return _registered(SCHEDULERS, v)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> StudyConfig:
        return parse_model(cls, data)

    def differences(self, other: StudyConfig) -> list[str]:
        """Names of the fields whose values differ."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if mine[k] != theirs[k]]


def _construct(kind: str, name: str, factory: Any, *args: Any, **options: Any) -> Any:
    """Call a registered builder, turning an unknown option into a clear error."""
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in options:
        if not takes_any and key not in params:
            allowed = [p for p in params if p not in ("self", "space", "seed")]
            raise ConfigError(f"{kind} {name!r} has no option {key!r}; options are {allowed}")
    try:
        return factory(*args, **options)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{kind} {name!r}: {e}") from None


def build_components(config: StudyConfig) -> tuple[SearchSpace, Strategy, Evaluator]:
    """The space, strategy (seeded from the study seed) and evaluator a config names."""
    space = _construct("space", config.space, SPACES.get(config.space), **config.space_options)
    strategy = _construct(
        "strategy",
        config.strategy,
        STRATEGIES.get(config.strategy),
        space,
        seed=config.seed,
        **config.strategy_options,
    )
    evaluator_cls = EVALUATORS.get(config.evaluator)
    options = dict(config.evaluator_options)
    if "space" in inspect.signature(evaluator_cls).parameters:
        # The configured space object: its build options (widths, depths) must reach the
        # evaluator, in this process and in workers, not a default-built namesake.
        options.setdefault("space", space)
    evaluator = _construct("evaluator", config.evaluator, evaluator_cls, **options)
    if not evaluator.supports(space):
        raise ConfigError(f"evaluator {config.evaluator!r} cannot score space {config.space!r}")
    return space, strategy, evaluator


def build_scheduler(config: StudyConfig, evaluator: Evaluator) -> Scheduler:
    """The scheduler a config names. A multi-fidelity one given no resources takes the
    evaluator's own fidelities where it has a fixed set (NB201: the 12- and 200-epoch
    tables)."""
    cls = SCHEDULERS.get(config.scheduler)
    options = dict(config.scheduler_options)
    given = {"resources", "min_resource", "max_resource"} & set(options)
    if cls.multi_fidelity and not given and evaluator.fidelities is not None:
        options["resources"] = tuple(evaluator.fidelities)
    if "resources" in options and isinstance(options["resources"], list):
        options["resources"] = tuple(options["resources"])
    scheduler: Scheduler = _construct("scheduler", config.scheduler, cls, **options)
    return scheduler
