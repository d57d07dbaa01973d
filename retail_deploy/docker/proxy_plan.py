"""Pure decisions about the proxy in front of the Docker target's services (no I/O: tested by
equality; `retail_deploy.docker.proxy` acts on them).

One HAProxy per environment and engine owns every service's stable port: one `listen` section per
service binds it and balances over that service's containers, each listening on its own port and
named in HAProxy after it (`p<port>`). HAProxy's runtime API (the admin socket, reached with
`docker exec ... socat`) adds, drains and deletes those servers without a reload. Why HAProxy:
docs/development-target.md, "The proxy".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retail_deploy.docker.plan import LABEL_ENV, LABEL_PREFIX, ServiceTarget

if TYPE_CHECKING:
    from retail_deploy.docker.plan import DockerSettings

LABEL_PROXY = f"{LABEL_PREFIX}.proxy"  # the digest of the proxy's listeners: a new one means a new proxy
STATE_DIR = "/run/retail-deploy"  # a named volume: the admin socket and the config file
SOCKET = f"{STATE_DIR}/haproxy.sock"
# The container's command: the config file ($HAPROXY_FILE, named after the listeners' digest; kept
# across restarts, rewritten with the live servers after every change) is made from
# $HAPROXY_CONFIG only the first time.
ENTRYPOINT = ["sh", "-c", '[ -s "$HAPROXY_FILE" ] || printf "%s" "$HAPROXY_CONFIG" > "$HAPROXY_FILE"; '
                          'exec haproxy -W -db -f "$HAPROXY_FILE"']


def config_file(digest_value: str) -> str:
    return f"{STATE_DIR}/haproxy-{digest_value}.cfg"


def proxy_name(settings: DockerSettings, env_name: str) -> str:
    return f"{settings.name_prefix}retail-deploy-proxy-{env_name}"


def backend(service: str) -> str:
    """The HAProxy section of a service (HAProxy names allow letters, digits, - _ . :)."""
    return "svc_" + re.sub(r"[^A-Za-z0-9_.:-]", "_", service)


def server(port: int) -> str:
    return f"p{port}"


@dataclass(frozen=True)
class Listener:
    """One service behind the proxy: where it answers, and how HAProxy checks its containers."""

    service: str
    bind: str         # address:port, the stable one
    check_path: str

    @staticmethod
    def of(target: ServiceTarget, settings: DockerSettings) -> Listener:
        return Listener(target.service, f"{settings.publish_address}:{target.port}", target.endpoints[0].path)


def server_line(port: int, settings: DockerSettings) -> str:
    """The arguments of one server: the same in the config file and in `add server`."""
    inter = max(int(settings.health_interval * 1000), 100)
    return f"{server(port)} 127.0.0.1:{port} check inter {inter} fall 2 rise 1"


def config(listeners: Sequence[Listener], servers: Mapping[str, Sequence[int]], settings: DockerSettings) -> str:
    """The whole HAProxy config: `servers` ({service: [own ports]}) are the containers that serve.

    `retry-on conn-failure empty-response` with `option redispatch`: a request whose connection
    to a container failed (it was just stopped) is sent again to another one, never lost."""
    ms = {"connect": int(settings.proxy_connect_timeout * 1000), "idle": int(settings.proxy_timeout * 1000)}
    lines = [
        "global",
        f"  stats socket {SOCKET} mode 600 level admin",
        "  stats timeout 30s",
        "  nbthread 2",
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  option redispatch 1",
        "  retries 3",
        "  retry-on conn-failure empty-response",
        f"  timeout connect {ms['connect']}",
        f"  timeout client {ms['idle']}",
        f"  timeout server {ms['idle']}",
        "  timeout http-keep-alive 10s",
        "  timeout queue 10s",
    ]
    for listener in listeners:
        lines += [
            f"listen {backend(listener.service)}",
            f"  bind {listener.bind}",
            "  balance roundrobin",
            f"  option httpchk GET {listener.check_path}",
            "  http-check expect status 200",
        ]
        lines += [f"  server {server_line(port, settings)}" for port in servers.get(listener.service, ())]
    return "\n".join(lines) + "\n"


def digest(listeners: Sequence[Listener], settings: DockerSettings) -> str:
    """What makes a running proxy fit: its listeners and timeouts, not its servers."""
    return hashlib.sha256(config(listeners, {}, settings).encode()).hexdigest()[:16]


def proxy_labels(env_name: str, listeners: Sequence[Listener], settings: DockerSettings) -> dict[str, str]:
    return {LABEL_ENV: env_name, LABEL_PROXY: digest(listeners, settings)}


@dataclass(frozen=True)
class ServerState:
    """One server of `show servers state`: `up` when HAProxy sends it traffic now (running,
    neither in maintenance nor draining)."""

    backend: str
    name: str
    port: int
    operational: int   # 0 stopped, 1 starting, 2 running, 3 stopping
    admin: int         # bit flags: 0x01/0x02/0x04 maintenance, 0x08 draining (0x10/0x20 inherited)

    @property
    def up(self) -> bool:
        return self.operational == 2 and self.admin == 0

    @property
    def draining(self) -> bool:
        return bool(self.admin & 0x08)


def parse_servers_state(text: str) -> list[ServerState]:
    """`show servers state` (format 1): one line per server after a version line and a header."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 19 or not fields[0].isdigit():
            continue
        port = int(fields[18]) if fields[18].isdigit() else 0
        found.append(ServerState(fields[1], fields[3], port, int(fields[5]), int(fields[6])))
    return found


def current_sessions(show_stat: str, backend_name: str, server_name: str) -> int | None:
    """`scur` of one server in `show stat` CSV (None when it is not there)."""
    header: list[str] = []
    for line in show_stat.splitlines():
        if line.startswith("# "):
            header = line[2:].split(",")
            continue
        fields = line.split(",")
        if header and len(fields) > 4 and fields[0] == backend_name and fields[1] == server_name:
            row = dict(zip(header, fields, strict=False))
            return int(row.get("scur") or 0) + int(row.get("qcur") or 0)
    return None


CLI_ERRORS = re.compile(r"(no such|unknown|not found|require|invalid|cannot|can't|error|failed|"
                        r"still has|already exists|unexpected|must be)", re.IGNORECASE)


def cli_error(command: str, output: str) -> str | None:
    """The runtime API answers with text only: the reason when `output` says `command` failed."""
    text = output.strip()
    if command.startswith("add server"):
        return None if "New server registered" in text else (text or "no answer")
    if command.startswith("del server"):
        return None if "Server deleted" in text else (text or "no answer")
    if command.startswith("show "):
        return None
    return text if text and CLI_ERRORS.search(text) else None
