"""Deploy the platform's services to one Docker engine, local or remote over SSH: the Docker
target's public functions, one module per concern behind them (docs/development-target.md).

- `retail_deploy.docker.plan`, `proxy_plan`: pure decisions (names, ports, run specs, health
  judgement, the proxy's config), tested by equality;
- `session`: the engine connection and look-ups; `containers`: the container steps and health waits;
- `proxy`, `proxy_image`: the HAProxy container that owns every stable port, and its image;
- `deploy`: a deploy and putting the release before it back; `undo`: undo, verify, state;
- `records`: the lock and the audit history kept on the engine.

Containers carry labels (service, version, environment, own port), so the state is read back from
the engine alone: no state file to lose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retail_deploy.docker.deploy import _verification_period, deploy, fetch_images
from retail_deploy.docker.plan import docker_settings, service_port
from retail_deploy.docker.records import (
    HISTORY_KEEP,
    LABEL_LOCK_ACQUIRED,
    LABEL_LOCK_ACTION,
    LABEL_LOCK_EXPIRES,
    LABEL_LOCK_HOLDER,
    LABEL_LOCK_ID,
    LABEL_LOCK_VERSION,
    LABEL_RECORD,
    LOCK_TTL,
    env_lock,
    force_release,
    lock_name,
    read_history,
    read_lock,
    record_history,
)
from retail_deploy.docker.session import connect
from retail_deploy.docker.undo import current_versions, serving_facts, state_of, undo, verify
from retail_deploy.targets import Report, ServiceReport

if TYPE_CHECKING:
    from retail_deploy.config import PlatformConfig

__all__ = ["HISTORY_KEEP", "LABEL_LOCK_ACQUIRED", "LABEL_LOCK_ACTION", "LABEL_LOCK_EXPIRES", "LABEL_LOCK_HOLDER",
           "LABEL_LOCK_ID", "LABEL_LOCK_VERSION", "LABEL_RECORD", "LOCK_TTL", "Report", "ServiceReport",
           "_verification_period", "connect", "current_versions", "deploy", "docker_settings", "env_lock",
           "fetch_images", "force_release", "lock_name", "read_history", "read_lock", "record_history",
           "serving_facts", "state_of", "undo", "validate_config", "verify"]


def validate_config(cfg: PlatformConfig) -> None:
    """`config.validate`: parse the docker: section of every Docker-target environment, and
    check each service has a port, so a typo is refused with file and line before a deploy."""
    for env in cfg.environments.values():
        if env.target == "docker":
            docker_settings(env)
            for service in cfg.services.values():
                service_port(env, service)
