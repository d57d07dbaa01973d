"""What `config.show` and `config.validate` print: the resolved config, secrets redacted."""

from __future__ import annotations

import importlib
import json
from typing import Any

import yaml

from retail_deploy.config import PlatformConfig, check_runtime_env, redacted_view
from retail_deploy.errors import ConfigError, InputError

# Chapter sections are parsed by their own modules; `config.validate` asks each of them.
# Without an entry, a section's mistakes (a misspelt key) surface only when its task runs.
SECTION_PARSERS: dict[str, str] = {
    "checklist": "retail_deploy.checklist.items:validate_section",
    "build": "retail_deploy.build.service:validate_section",
    "smoke_tests": "retail_deploy.health.smoke:validate_section",
    "migrations": "retail_deploy.migrations.settings:validate_section",
    "environments.*.docker": "retail_deploy.docker.target:validate_config",
    "monitoring": "retail_deploy.monitoring.monitor:monitoring_settings",
    "notifications": "retail_deploy.monitoring.notify:settings_from_config",
    "prerequisites": "retail_deploy.setup.prerequisites:tools_from_config",
    "setup": "retail_deploy.setup.platform:validate_section",
    "environments.*.kube": "retail_deploy.kube.settings:validate_section",
}


def render(cfg: PlatformConfig, env: str | None, output_format: str = "yaml") -> str:
    data: dict[str, Any] = {"source": str(cfg.source), **redacted_view(cfg)}
    if env is not None:
        cfg.environment(env)
        data["environments"] = {env: data["environments"][env]}
    data["registry"] = {**data.get("registry", {}),
                        "password": "(set)" if cfg.registry.password else "(not set)"}
    data["runtime_env"] = _runtime_status(cfg)
    if output_format == "json":
        return json.dumps(data, indent=2, default=str)
    if output_format != "yaml":
        raise InputError(f"unknown format {output_format!r} (known: yaml, json)")
    return yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=None, width=110).rstrip()


def validate(cfg: PlatformConfig, env: str | None) -> str:
    """Raise ConfigError/InputError on the first problem; return the success line."""
    for parser in SECTION_PARSERS.values():
        module, _, path = parser.partition(":")
        target: Any = importlib.import_module(module)
        for attribute in path.split("."):
            target = getattr(target, attribute)
        target(cfg)
    lines = [f"{cfg.source}: valid ({len(cfg.services)} services, {len(cfg.environments)} environments)"]
    lines.append(roles_line(cfg))
    if env is not None:
        environment = cfg.environment(env)
        if environment.require_runtime_env:
            problems = check_runtime_env(cfg)
            if problems:
                raise ConfigError(f"environment {env}: " + "; ".join(problems))
            lines.append(f"environment {env}: all {len(cfg.runtime_env)} required variables are set")
        else:
            lines.append(f"environment {env}: no runtime variables required ({environment.target} target)")
    return "\n".join(lines)


def roles_line(cfg: PlatformConfig) -> str:
    """Which environments get the production safeguards; a warning when none does."""
    production = [env.name for env in cfg.environments.values() if env.production]
    if not production:
        return ("warning: no environment has the production role, so no deploy gets the checklist gate "
                "and the confirmation (set environments.<name>.role: production)")
    roles = ", ".join(f"{env.name}: {env.role}" for env in cfg.environments.values())
    return f"roles: {roles} (the production safeguards apply to {', '.join(production)})"


def _runtime_status(cfg: PlatformConfig) -> dict[str, str]:
    import os

    return {name: "(set)" if os.environ.get(name) else "(not set)" for name in cfg.runtime_env}


def _plain(value: object) -> object:
    """Dict/list subclasses (line-aware) as plain containers, so safe_dump accepts them."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
