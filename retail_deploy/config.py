"""The platform description: services, environments, registry, runtime environment variables.

Loaded from YAML into frozen dataclasses (docs/architecture.md, "Foundation"). Nothing about the
retail platform is hard-coded here: `config/retail-platform.yaml` holds its values, and another
team describes its own services in its own file (`--config PATH` or `RETAIL_DEPLOY_CONFIG`).

Chapters with settings of their own (monitoring, smoke tests, migrations, ...) read their
top-level section with `cfg.section(name)`, a line-aware `Node`, so every configuration error
names file, key and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from retail_deploy import redact, validate
from retail_deploy.errors import InputError
from retail_deploy.yamlnode import Node, load_file

CONFIG_ENV = "RETAIL_DEPLOY_CONFIG"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config" / "retail-platform.yaml"

TARGETS = ("kubernetes", "docker")
METHODS = ("helm", "kubectl")
STRATEGIES = ("rolling", "blue-green")
# What an environment is for: its role decides the procedure and the safeguards (the checklist
# gate, the confirmation, --force), never its name (docs/configuration.md "Roles").
Role = Literal["production", "staging", "development"]
ROLES: tuple[Role, ...] = ("production", "staging", "development")
COLOURS = ("blue", "green")
# Environment variables whose names say they hold a secret, even if not declared `secret: true`.
_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_KEY|ROUTING_KEY|WEBHOOK)", re.I)


@dataclass(frozen=True)
class HealthEndpoint:
    """One row of the runbook's health table: a path and the answer it must give."""

    path: str
    expect_status: int = 200
    expect_json: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BuildStep:
    name: str
    argv: tuple[str, ...]
    # Test steps are the ones `--skip-tests` leaves out (never the default).
    is_test: bool = False
    # Variables the step runs with (e.g. JAVA_HOME: the JDK Maven builds with), as (NAME, value).
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    image: str
    deployment: str
    container: str
    app_label: str
    source_dir: Path
    dockerfile: str
    build_steps: tuple[BuildStep, ...]
    health: tuple[HealthEndpoint, ...]
    version_path: str | None
    port: int
    helm_release: str
    helm_chart: str
    build_args: Mapping[str, str]
    raw: Node = field(repr=False, compare=False)


@dataclass(frozen=True)
class RegistryConfig:
    host: str
    username_env: str
    password_env: str

    @property
    def username(self) -> str | None:
        return os.environ.get(self.username_env) or None

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None

    def repository(self, image: str) -> str:
        """`registry/image`: the one image-reference rule (build, push, both targets). An image
        already naming this registry is left as it is; without a registry it is the bare name."""
        host = self.host.rstrip("/")
        if not host or image.startswith(host + "/"):
            return image
        return f"{host}/{image}"

    def image_ref(self, image: str, version: str) -> str:
        """`registry/image:version`, the reference pushed, pulled and deployed."""
        return f"{self.repository(image)}:{version}"


@dataclass(frozen=True)
class ColourPair:
    """One more service deployed blue-green (`blue_green.services`): its Service and colours."""

    service: str
    service_name: str
    deployments: Mapping[str, str]
    colour_urls: Mapping[str, str]


@dataclass(frozen=True)
class BlueGreenConfig:
    """Blue-green: two deployments behind one Service, switched by selector. The fields name the
    first service (`service`, as the single-service config always did); `more` the others of
    `blue_green.services`, which share the selector key and the periods and switch with it, per
    release (docs/deploying.md, "Blue-green with several services")."""

    service: str
    service_name: str
    selector_key: str
    deployments: Mapping[str, str]
    colour_urls: Mapping[str, str]
    verification_period: float
    scale_down_delay: float
    more: tuple[ColourPair, ...] = ()

    def idle(self, active: str) -> str:
        return "green" if active == "blue" else "blue"


@dataclass(frozen=True)
class HelmConfig:
    chart_dir: str
    values_file: str
    timeout: float
    set_values: Mapping[str, str]


@dataclass(frozen=True)
class DockerTargetConfig:
    host: str  # "local" or ssh://user@host[:port]
    network: str  # "host" here; "bridge" + published ports where bridges are normal
    ssh_key: str | None


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    target: str
    branch: str
    urls: Mapping[str, str]
    namespace: str
    kube_context: str | None
    method: str
    strategy: str
    rollout_timeout: float
    confirm: bool
    require_runtime_env: bool
    prometheus_url: str | None
    blue_green: BlueGreenConfig | None
    helm: HelmConfig | None
    docker: DockerTargetConfig | None
    raw: Node = field(repr=False, compare=False)
    role: Role = "staging"

    @property
    def production(self) -> bool:
        """The production procedure and its safeguards apply (the checklist gate, the confirmation)."""
        return self.role == "production"

    def task(self, chapter: str) -> str:
        """The task line that deploys (`chapter="deploy"`) or verifies (`"verify"`) this environment,
        for hints, which must name tasks that exist: `deploy.production` for the production role,
        `deploy.development` for another Docker engine, `deploy.staging` any other Kubernetes one;
        `--env NAME` is added where the name is not the task's default."""
        procedure = "production" if self.production else "development" if self.target == "docker" else "staging"
        return f"{chapter}.{procedure}" + ("" if self.name == procedure else f" --env {self.name}")

    @property
    def tools(self) -> tuple[str, ...]:
        """The runbook's tools this environment's deploys, checks and rollbacks run (setup.tools):
        kubectl and Helm on Kubernetes, the Docker engine's client on a Docker target."""
        return ("docker",) if self.target == "docker" else ("kubectl", "helm")


@dataclass(frozen=True)
class RuntimeVariable:
    """A variable of the runbook's "Environment Variables" block that the platform needs."""

    name: str
    secret: bool
    min_length: int
    pattern: str | None
    feature_flag: bool


@dataclass(frozen=True)
class PlatformConfig:
    source: Path
    platform: str
    registry: RegistryConfig
    services: Mapping[str, ServiceConfig]
    environments: Mapping[str, EnvironmentConfig]
    runtime_env: Mapping[str, RuntimeVariable]
    secret_env: tuple[str, ...]
    root: Node = field(repr=False, compare=False)

    @property
    def base_dir(self) -> Path:
        return self.source.parent

    def environment(self, name: str | None) -> EnvironmentConfig:
        if not name:
            raise InputError(f"missing environment: pass --env ({', '.join(self.environments)})")
        validate.choice(name, self.environments, what="environment")
        return self.environments[name]

    def docker_environment(self, name: str | None) -> EnvironmentConfig:
        """`--env` of the Docker tasks (`deploy.development`, `verify.development`): the named one,
        else `development`, else the config's only Docker environment (a team's `dev`)."""
        if name is None and "development" not in self.environments:
            docker = [env for env in self.environments.values() if env.target == "docker"]
            if len(docker) == 1:
                return docker[0]
        return self.environment(name or "development")

    def environment_of_role(self, name: str | None, roles: tuple[Role, ...], task: str) -> EnvironmentConfig:
        """`--env` of a task that applies one role's procedure (`deploy.production`: production):
        the named environment, which must have one of `roles` (exit 2 naming the task that deploys
        it otherwise); unnamed, the environment called like the role, else the only one of the role."""
        if name is None:
            named = self.environments.get(roles[0])
            of_role = [env for env in self.environments.values() if env.role in roles]
            if named is not None and named.role in roles:
                return named
            if len(of_role) == 1:
                return of_role[0]
            if not of_role:
                raise InputError(f"{task}: no environment has the {roles[0]} role "
                                 f"(set environments.<name>.role: {roles[0]})")
            raise InputError(f"{task}: several environments have the {roles[0]} role: pass --env "
                             f"({', '.join(env.name for env in of_role)})")
        env = self.environment(name)
        if env.role not in roles:
            raise InputError(f"{task} deploys {' or '.join(roles)} environments; {env.name} has the {env.role} "
                             f"role: use {env.task('deploy')}")
        return env

    def service(self, name: str) -> ServiceConfig:
        validate.choice(name, self.services, what="service")
        return self.services[name]

    def select_services(self, names: str | None) -> list[ServiceConfig]:
        """`None`/'all' -> every service; 'a,b' -> those, in config order; unknown names refused."""
        if not names or names == "all":
            return list(self.services.values())
        wanted = [part.strip() for part in names.split(",") if part.strip()]
        for name in wanted:
            self.service(name)
        return [service for service in self.services.values() if service.name in wanted]

    def section(self, name: str) -> Node:
        """A chapter-owned top-level section (empty mapping Node when absent)."""
        return self.root.section(name)


# -- loading -------------------------------------------------------------------------------------

def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Which file to load: an explicit path, else $RETAIL_DEPLOY_CONFIG, else the platform default."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    return Path(chosen).expanduser()


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> PlatformConfig:
    environ = os.environ if environ is None else environ
    source = config_path(path).resolve()
    root, used_variables = load_file(source, environ)
    # Register secrets before anything can print, validation errors included (`target:
    # ${REGISTRY_PASSWORD}` must not show the password in "not one of: kubernetes, docker"). Declared
    # ones, read from the raw file before it is validated, and the registry password (read from its
    # variable at push time, never interpolated). Variables whose names say they are secret are
    # masked too, declared or not (a team that forgot to list JWT_SECRET must still never see it in
    # a log), when their value looks like a secret.
    declared = _declared_secret_names(root)
    guessed = {v for v in (*used_variables, *environ) if _SECRET_NAME.search(v)} - declared
    redact.register(*(environ.get(name) for name in declared))
    redact.register(*(value for name in guessed if _plausible_secret(value := environ.get(name, ""))))
    config = _parse(root, source)
    redact.register(*(environ.get(name) for name in (*config.secret_env, config.registry.password_env)))
    return config


def _declared_secret_names(root: Node) -> set[str]:
    """The variables a config declares secret, read leniently from the unvalidated file (`secret_env`,
    `runtime_env` entries with `secret: true` or a secret-sounding name, `registry.password_env`)."""
    data = root.value if isinstance(root.value, dict) else {}
    names = {"REGISTRY_PASSWORD"}
    listed = data.get("secret_env")
    if isinstance(listed, list):
        names.update(str(item) for item in listed if isinstance(item, str | int))
    runtime = data.get("runtime_env")
    if isinstance(runtime, dict):
        for name, spec in runtime.items():
            secret = spec.get("secret") if isinstance(spec, dict) else None
            if secret is True or (secret is None and _SECRET_NAME.search(str(name))):
                names.add(str(name))
    registry = data.get("registry")
    if isinstance(registry, dict) and isinstance(registry.get("password_env"), str):
        names.add(registry["password_env"])
    return names


def _plausible_secret(value: str) -> bool:
    """A guessed secret (by its variable's name) is masked only if it looks like one: masking every
    "true" or "3600" in the output because TOKEN_REFRESH=true would garble every report."""
    return len(value) >= 8 and not value.isdigit() and value.lower() not in ("true", "false")


_TOP_LEVEL_CORE = {"version", "platform", "source_root", "registry", "services", "environments", "runtime_env",
                   "secret_env"}
# Sections owned by chapters and parsed by their own modules through `cfg.section(name)`.
CHAPTER_SECTIONS = {
    "build", "checklist", "dashboards", "helm_repositories", "migrations", "monitoring", "notifications",
    "prerequisites", "smoke_tests", "troubleshooting",
}


def _parse(root: Node, source: Path) -> PlatformConfig:
    root.unknown_keys(_TOP_LEVEL_CORE | CHAPTER_SECTIONS)
    # Reserved for the troubleshooting chapter, which reads no settings yet: a key written there
    # would be silently ignored, and unknown keys are refused everywhere else.
    for _key, child in root.section("troubleshooting").items():
        raise child.error("unknown key (the troubleshooting section takes no settings in this release)")
    schema = root.int("version", 1)
    if schema != 1:
        raise root.require("version").error(f"unsupported schema version {schema} (this release reads 1)")
    source_root = _source_root(root, source)
    services_node = root.require("services")
    services = {name: _service(name, node, source_root) for name, node in services_node.items()}
    if not services:
        raise services_node.error("at least one service is required")
    environments_node = root.require("environments")
    environments = {name: _environment(name, node, services) for name, node in environments_node.items()}
    if not environments:
        raise environments_node.error("at least one environment is required")
    runtime = {name: _runtime_variable(name, node) for name, node in root.section("runtime_env").items()}
    secret_env = tuple(root.str_list("secret_env", ())) + tuple(v.name for v in runtime.values() if v.secret)
    return PlatformConfig(
        source=source,
        platform=root.str("platform", source.stem),
        registry=_registry(root.section("registry")),
        services=services,
        environments=environments,
        runtime_env=runtime,
        secret_env=tuple(dict.fromkeys(secret_env)),
        root=root,
    )


def _source_root(root: Node, source: Path) -> Path:
    """Where services' `source_dir`s are found. Without `source_root`, beside the config file (a team
    keeps its file in its own repository). A relative `source_root` is taken from the config file's
    directory, like every other path in the file, so the result does not depend on where the task
    runs: the default config finds the example platform from a plain clone, whatever the current
    directory (docs/configuration.md)."""
    configured = root.str("source_root", None)
    if configured is None:
        return source.parent
    return (source.parent / Path(configured).expanduser()).resolve()


def _checked_name(node: Node, name: str, what: str) -> str:
    try:
        return validate.name(name, what=what)
    except InputError as error:
        raise node.error(str(error)) from None


def _registry(node: Node) -> RegistryConfig:
    node.unknown_keys({"host", "username_env", "password_env"})
    return RegistryConfig(
        host=node.str("host", ""),
        username_env=node.str("username_env", "REGISTRY_USERNAME"),
        password_env=node.str("password_env", "REGISTRY_PASSWORD"),
    )


_SERVICE_KEYS = {
    "image", "deployment", "container", "app_label", "source_dir", "dockerfile", "build_steps", "build_args",
    "health", "version_path", "port", "helm", "dependencies", "smoke",
}


def _service(name: str, node: Node, source_root: Path) -> ServiceConfig:
    _checked_name(node, name, "service name")
    node.unknown_keys(_SERVICE_KEYS)
    image = _token(node, "image", name)
    deployment = _token(node, "deployment", image)
    helm = node.section("helm")
    helm.unknown_keys({"release", "chart"})
    return ServiceConfig(
        name=name,
        image=image,
        deployment=deployment,
        container=_token(node, "container", deployment),
        app_label=_token(node, "app_label", deployment),
        source_dir=(source_root / node.str("source_dir", name)).resolve(),
        dockerfile=node.str("dockerfile", "Dockerfile"),
        build_steps=tuple(_build_step(step) for step in node.list("build_steps", [])),
        build_args=node.str_map("build_args", {}),
        health=tuple(_health(entry) for entry in node.list("health", [])),
        version_path=node.str("version_path", None),
        port=_port(node, "port", 8080),
        helm_release=_token(helm, "release", deployment),
        helm_chart=helm.str("chart", f"./{deployment}"),
        raw=node,
    )


@overload
def _token(node: Node, key: str, default: str) -> str: ...
@overload
def _token(node: Node, key: str, default: None) -> str | None: ...
def _token(node: Node, key: str, default: str | None) -> str | None:
    """A name that becomes one argv token of kubectl/helm/docker (deployment, container, namespace,
    context, release): never empty, never starting with '-' (it would be read as a flag)."""
    value: str | None = node.str(key, default)
    if value is not None and (not value.strip() or value.startswith("-") or any(c.isspace() for c in value)):
        raise (node.get(key) or node).error(f"{value!r} is not usable as a name: it must not be empty, "
                                            "start with '-' or contain spaces")
    return value


def _port(node: Node, key: str, default: int) -> int:
    number: int = node.int(key, default)
    try:
        return validate.port(number)
    except InputError as error:
        raise node.require(key).error(str(error)) from None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _build_step(node: Node) -> BuildStep:
    node.unknown_keys({"name", "run", "tests", "env"})
    argv = node.str_list("run")
    if not argv:
        raise node.error("'run' needs at least one argv token")
    env = node.str_map("env", {})
    for name in env:
        if not _ENV_NAME.fullmatch(name):
            raise node.require("env").error(f"{name!r} is not a variable name")
    return BuildStep(name=node.str("name", argv[0]), argv=argv, is_test=node.bool("tests", False),
                     env=tuple(sorted(env.items())))


def _health(node: Node) -> HealthEndpoint:
    node.unknown_keys({"path", "expect_status", "expect_json"})
    path = node.str("path")
    if not path.startswith("/"):
        raise node.require("path").error("a health path starts with '/'")
    expect_json = node.get("expect_json")
    if expect_json is not None and not isinstance(expect_json.value, dict):
        raise expect_json.error("expected a mapping of JSON fields to values, e.g. {status: UP}")
    return HealthEndpoint(path, node.int("expect_status", 200), dict(expect_json.value) if expect_json else None)


_ENV_KEYS = {
    "target", "branch", "urls", "namespace", "kube_context", "method", "strategy", "rollout_timeout",
    "confirm", "require_runtime_env", "prometheus_url", "blue_green", "helm", "docker", "role",
    # chapter-owned per-environment settings (read through env.raw by their chapters)
    "deployment_window", "smoke", "migrations", "notifications", "monitoring", "ca_bundle", "cluster", "kube",
}


def _environment(name: str, node: Node, services: Mapping[str, ServiceConfig]) -> EnvironmentConfig:
    _checked_name(node, name, "environment name")
    node.unknown_keys(_ENV_KEYS)
    target = node.choice("target", TARGETS, "kubernetes")
    urls = node.str_map("urls", {})
    for service_name in urls:
        if service_name not in services:
            raise node.require("urls").error(f"URL for unknown service {service_name!r}")
    prometheus_url = node.str("prometheus_url", None) or None
    return EnvironmentConfig(
        name=name,
        target=target,
        branch=node.str("branch", ""),
        urls=urls,
        namespace=_token(node, "namespace", name),
        kube_context=_token(node, "kube_context", None),
        method=node.choice("method", METHODS, "kubectl"),
        strategy=node.choice("strategy", STRATEGIES, "rolling"),
        rollout_timeout=node.duration("rollout_timeout", "5m"),
        confirm=node.bool("confirm", False),
        require_runtime_env=node.bool("require_runtime_env", target == "kubernetes"),
        prometheus_url=prometheus_url,
        blue_green=_blue_green(node.get("blue_green"), services),
        helm=_helm(node.get("helm")),
        docker=_docker(node.get("docker"), target, node),
        raw=node,
        role=_role(node, name, target),
    )


def _role(node: Node, name: str, target: str) -> Role:
    given = node.choice("role", ROLES, default_role(name, target))
    return next(role for role in ROLES if role == given)


def default_role(name: str, target: str) -> Role:
    """The role of an environment whose config names none: from its name (configs written before
    roles existed keep their behaviour), else `development` for a Docker engine, else `staging`."""
    if name in ("production", "prod"):
        return "production"
    if name in ("development", "dev") or target == "docker":
        return "development"
    return "staging"


def _blue_green(node: Node | None, services: Mapping[str, ServiceConfig]) -> BlueGreenConfig | None:
    if node is None or node.value is None:
        return None
    node.unknown_keys({"service", "service_name", "selector_key", "deployments", "colour_urls",
                       "verification_period", "scale_down_delay", "services"})
    pairs: list[ColourPair] = []
    if node.get("service") is not None or node.get("services") is None:
        pairs.append(_colour_pair(node, node.str("service"), services, node.require("service")))
    more = node.get("services")
    if more is not None and more.value is not None:
        if isinstance(more.value, list):  # [orders, payments]: colours named after each deployment
            entries = [(Node(None, e.file, e.path, e.line), e, str(e.value)) for e in more.elements()]
        else:
            entries = [(sub, sub, name) for name, sub in more.items()]
        for sub, where, name in entries:
            if any(p.service == name for p in pairs):
                raise where.error(f"{name!r} is deployed blue-green twice")
            if sub.value is not None:
                sub.unknown_keys({"service_name", "deployments", "colour_urls"})
            pairs.append(_colour_pair(sub, name, services, where))
    first = pairs[0]
    return BlueGreenConfig(
        service=first.service,
        service_name=first.service_name,
        selector_key=_token(node, "selector_key", "deployment"),
        deployments=first.deployments,
        colour_urls=first.colour_urls,
        verification_period=node.duration("verification_period", "10m"),
        scale_down_delay=node.duration("scale_down_delay", "10m"),
        more=tuple(pairs[1:]),
    )


def _colour_pair(node: Node, service: str, services: Mapping[str, ServiceConfig], where: Node) -> ColourPair:
    """One blue-green service (`node`: its keys; null for all defaults). Without `deployments` its
    colours are `<deployment>-blue/-green` behind the Service `<deployment>` (the design's
    retail-backend-blue/green behind retail-backend)."""
    if service not in services:
        raise where.error(f"unknown service {service!r}")
    base = services[service].deployment
    named = {c: f"{base}-{c}" for c in COLOURS}
    if node.value is None:
        return ColourPair(service, base, named, {})
    deployments = node.str_map("deployments", named)
    if set(deployments) != set(COLOURS):
        raise node.require("deployments").error("needs exactly the colours blue and green")
    colour_urls = node.str_map("colour_urls", {})
    if set(colour_urls) - set(COLOURS):
        raise node.require("colour_urls").error("only the colours blue and green")
    return ColourPair(service, _token(node, "service_name", base), deployments, colour_urls)


def _helm(node: Node | None) -> HelmConfig | None:
    if node is None or node.value is None:
        return None
    node.unknown_keys({"chart_dir", "values_file", "timeout", "set"})
    return HelmConfig(
        chart_dir=node.str("chart_dir", "."),
        values_file=node.str("values_file", ""),
        timeout=node.duration("timeout", "10m"),
        set_values=node.str_map("set", {}),
    )


_DOCKER_TARGET_KEYS = {"publish_address", "use_ssh_client", "name_prefix", "candidate_port_offset",
                       "health_timeout", "health_interval", "probe", "restart", "stop_timeout",
                       "verification_period", "drain_timeout", "proxy_timeout", "proxy_connect_timeout"}


def _docker(node: Node | None, target: str, env: Node) -> DockerTargetConfig | None:
    if node is None or node.value is None:
        if target == "docker":
            return DockerTargetConfig(host="local", network="host", ssh_key=None)
        return None
    # The Docker target's tuning keys are read by retail_deploy.docker.plan.docker_settings.
    node.unknown_keys({"host", "network", "ssh_key"} | _DOCKER_TARGET_KEYS)
    host = node.str("host", "local")
    if host != "local" and not host.startswith("ssh://"):
        raise node.require("host").error("expected 'local' or ssh://user@host[:port]")
    return DockerTargetConfig(host=host, network=node.choice("network", ("host", "bridge"), "host"),
                              ssh_key=node.str("ssh_key", None))


def _runtime_variable(name: str, node: Node) -> RuntimeVariable:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise node.error("not a valid environment variable name")
    if node.value is None:
        node = Node({}, node.file, node.path, node.line)
    node.unknown_keys({"secret", "min_length", "pattern", "feature_flag"})
    pattern = node.str("pattern", None)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise node.require("pattern").error(f"invalid regular expression: {error}") from None
    return RuntimeVariable(
        name=name,
        secret=node.bool("secret", bool(_SECRET_NAME.search(name))),
        min_length=node.int("min_length", 1),
        pattern=pattern,
        feature_flag=node.bool("feature_flag", False),
    )


def check_runtime_env(config: PlatformConfig, environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems with the runbook's required variables: names and rules only, never values."""
    environ = os.environ if environ is None else environ
    problems = []
    for variable in config.runtime_env.values():
        value = environ.get(variable.name)
        if value is None or value == "":
            problems.append(f"{variable.name} is not set")
        elif len(value) < variable.min_length:
            problems.append(f"{variable.name} is too short (at least {variable.min_length} characters)")
        elif variable.pattern and not re.fullmatch(variable.pattern, value):
            shown = "its value" if variable.secret else repr(value)
            problems.append(f"{variable.name}: {shown} does not match {variable.pattern}")
    return problems


def redacted_view(config: PlatformConfig) -> dict[str, Any]:
    """The resolved configuration as plain data, every secret masked (for `config.show`)."""

    def clean(value: object, key: str = "") -> object:
        if isinstance(value, dict):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v, key) for v in value]
        if isinstance(value, str):
            if _SECRET_NAME.search(key) and not key.endswith("_env"):
                return redact.MASK if value else value
            return redact.redact(value)
        return value

    view = clean(config.root.value)
    assert isinstance(view, dict)  # the loader refuses a file that is not a mapping
    return view

