"""jobsched: the shared domain package of the job scheduler service (shipped to Lambda as a layer)."""

__version__ = "0.1.0"
