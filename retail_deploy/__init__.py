"""retail-deploy: the Retail Agentic platform's deployment runbook as a library and invoke tasks."""

__version__ = "0.1.0"
