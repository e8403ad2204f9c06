"""Jobs: what a user runs (search, run, oneshot, transfer, calibrate), each a config
model, a folder and steps (`archsearch.jobs.base`)."""

from archsearch.core.registry import import_submodules
from archsearch.jobs.base import JOBS, Job, JobConfig, Runtime, job_of, run_job, stored_config

import_submodules(__name__)  # registers every job in the package

__all__ = ["JOBS", "Job", "JobConfig", "Runtime", "job_of", "run_job", "stored_config"]
