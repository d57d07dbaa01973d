"""The `retail-deploy` console script: an invoke Program over the same namespace as tasks.py."""

from __future__ import annotations

from invoke import Program

from retail_deploy import __version__


def main() -> None:
    from retail_deploy.tasks import ns

    Program(namespace=ns, version=__version__, name="retail-deploy", binary="retail-deploy").run()
