"""The cart service's background jobs (abandonment sweeps arrive with their issue)."""

from kassa_platform.jobs import JobRegistry

registry = JobRegistry()
