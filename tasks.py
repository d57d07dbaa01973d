"""Root tasks file: `inv --list` from the platform repository shows the runbook's chapters."""

from retail_deploy.tasks import ns  # noqa: F401
