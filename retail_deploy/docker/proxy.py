"""The proxy in front of the Docker target's services: started, supervised and reconfigured by
the target itself, on the engine where the containers run (docs/development-target.md, "The proxy").

It is a container (host network, restart policy, the locally made image of
`retail_deploy.docker.proxy_image`) running HAProxy with one listener per service on its stable
port. Its runtime API is reached with `docker exec <proxy> sh -c '... | socat - UNIX-CONNECT:...'`:
the admin socket never leaves the container, and the same call works on the local engine and
over SSH. The engine is the one source of truth: the container called `<name>` (running, its own
port in a label) serves each service; `ensure` makes the proxy agree with that after the tool or
the proxy restarted, and every change is also written into the proxy's config file, so a restart
of the proxy container starts with the servers it had.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import docker_engine as dcli
from retail_deploy.docker import proxy_image
from retail_deploy.docker.plan import DockerSettings, container_port, plan_target
from retail_deploy.docker.proxy_plan import (
    ENTRYPOINT,
    LABEL_PROXY,
    SOCKET,
    STATE_DIR,
    Listener,
    ServerState,
    backend,
    cli_error,
    config,
    config_file,
    current_sessions,
    digest,
    parse_servers_state,
    proxy_labels,
    proxy_name,
    server,
    server_line,
)
from retail_deploy.docker.session import engine_name, find, logs_tail, select, status
from retail_deploy.errors import OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner

CLIENT = f'printf "%s\\n" "$1" | socat -t 5 - UNIX-CONNECT:{SOCKET}'
SAVE = 'printf "%s" "$1" > "$2.new" && mv "$2.new" "$2"'


class Proxy:
    def __init__(self, runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                 client: DockerClient | None):
        self.runner, self.cfg, self.env, self.settings, self.client = runner, cfg, env, settings, client
        self.name = proxy_name(settings, env.name)
        self.targets = {svc.name: plan_target(cfg, env, svc, "", settings) for svc in select(cfg, None)}
        self.listeners = [Listener.of(t, settings) for t in self.targets.values()]
        self.file = config_file(digest(self.listeners, settings))

    @property
    def live(self) -> bool:
        """False in a dry run (or without an engine): actions are printed, nothing is read back."""
        return self.client is not None and not self.runner.dry

    # -- the runtime API ---------------------------------------------------------------------
    def cli(self, command: str, *, show: bool = True) -> str:
        """One runtime API command inside the proxy container; its answer (raises on an error)."""
        equivalent = dcli.exec_(self.name, ["sh", "-c", CLIENT, "sh", command], host=self.settings.host)
        if show:
            answer = self.runner.action(equivalent, self._exec, command)
        else:
            answer = self._exec(command) if self.live else None
        return answer or ""

    def _exec(self, command: str) -> str:
        code, text = self._inside(["sh", "-c", CLIENT, "sh", command])
        problem = "socat failed" if code else cli_error(command, text)
        if problem:
            raise OperationFailed(f"the proxy {self.name} refused `{command}`: {problem.strip()[:200]}")
        return text

    def _inside(self, argv: list[str]) -> tuple[int, str]:
        """Run `argv` inside the proxy container: the SDK's exec on the local engine and over the
        built-in SSH client; through the `ssh` binary (`use_ssh_client`) the SDK cannot read an
        exec's answer, so the docker CLI does it there (`docker -H ssh://... exec`), over the same
        `ssh` and its ~/.ssh/config (docs/development-target.md, "The proxy")."""
        if self.settings.host is not None and self.settings.use_ssh_client:
            from retail_deploy.commands import cmd

            shown = dcli.exec_(self.name, argv, host=self.settings.host)
            answer = self.runner.probe(cmd(*shown.argv, read_only=True), check=False, timeout=60)
            return answer.exit_code, answer.stdout
        container = find(self.client, self.name)
        if container is None:
            raise OperationFailed(f"the proxy {self.name} is gone from {engine_name(self.settings)}")
        done = container.exec_run(argv)
        output = done.output.decode("utf-8", "replace") if isinstance(done.output, bytes) else ""
        return int(done.exit_code or 0), output

    def servers(self) -> list[ServerState]:
        """What HAProxy has now (read-only; [] when there is no proxy to ask)."""
        if self.client is None:
            return []
        container = find(self.client, self.name)
        if container is None or status(container) != "running":
            return []
        return parse_servers_state(self._exec("show servers state"))

    # -- switching ---------------------------------------------------------------------------
    def add(self, service: str, port: int) -> None:
        """Send `service`'s traffic to the container on `port` too (it already passed its checks)."""
        where = f"{backend(service)}/{server(port)}"
        known = self.live and any(s.backend == backend(service) and s.port == port for s in self.servers())
        add = "" if known else f"add server {backend(service)}/{server_line(port, self.settings)}; "
        try:
            self.cli(f"{add}enable health {where}; enable server {where}")  # one round trip
        except OperationFailed:
            # The answer can be lost while the command took effect: look before trying once more.
            known = any(s.backend == backend(service) and s.port == port for s in self.servers())
            add = "" if known else f"add server {backend(service)}/{server_line(port, self.settings)}; "
            self.cli(f"{add}enable health {where}; enable server {where}")
        self._save()

    def retire(self, service: str, port: int) -> None:
        """Stop sending `service`'s traffic to `port`: drain it (open requests finish, up to
        `drain_timeout`), then take it out of the proxy. The container itself is not touched."""
        name, where = backend(service), f"{backend(service)}/{server(port)}"
        if self.live and not any(s.backend == name and s.port == port for s in self.servers()):
            return
        self.cli(f"set server {where} state drain")
        if self.live:
            deadline = time.monotonic() + self.settings.drain_timeout
            while time.monotonic() < deadline:
                if not current_sessions(self.cli("show stat", show=False), name, server(port)):
                    break
                time.sleep(0.05)
        self.cli(f"set server {where} state maint; shutdown sessions server {where}")  # one round trip
        self._delete(where)
        self._save()

    def _delete(self, where: str) -> None:
        """`del server` waits for the connections HAProxy still keeps to it (idle ones close soon);
        one that will not go stays in maintenance, which gets no traffic, and goes next time."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self.cli(f"del server {where}")
                return
            except OperationFailed as error:
                if time.monotonic() >= deadline:
                    self.runner.say(f"warning: {error}; it stays in maintenance (no traffic)")
                    return
                time.sleep(0.2)

    def _save(self) -> None:
        """Write the live servers into the proxy's config file: a restarted proxy keeps them."""
        if not self.live:
            return
        serving: dict[str, list[int]] = {}
        for state in self.servers():
            if not state.admin & 0x07:  # not in maintenance
                service = next((s for s in self.targets if backend(s) == state.backend), None)
                if service:
                    serving.setdefault(service, []).append(state.port)
        self._inside(["sh", "-c", SAVE, "sh", config(self.listeners, serving, self.settings), self.file])

    # -- supervision -------------------------------------------------------------------------
    def serving_ports(self) -> dict[str, int]:
        """{service: own port of the container the engine says serves it} (running, labelled)."""
        ports: dict[str, int] = {}
        for service, target in self.targets.items():
            container = find(self.client, target.name)
            if container is not None and status(container) == "running":
                port = container_port(container.labels)
                if port is not None:
                    ports[service] = port
        return ports

    def ensure(self) -> None:
        """The proxy runs, fits the environment's services, and serves exactly the containers the
        engine says serve (reconciling after an interrupted deploy or a restart)."""
        labels = proxy_labels(self.env.name, self.listeners, self.settings)
        container = find(self.client, self.name) if self.client is not None else None
        if container is not None and (container.labels or {}).get(LABEL_PROXY) != labels[LABEL_PROXY]:
            self.runner.say(f"the services' ports or the proxy settings changed: replacing the proxy {self.name}")
            self.runner.action(dcli.remove(self.name, host=self.settings.host), container.remove, force=True)
            container = None
        if container is None:
            self._start(labels)
        elif status(container) != "running":
            self.runner.say(f"the proxy {self.name} was {container.status}: starting it")
            self.runner.action(dcli.start(self.name, host=self.settings.host), container.start)
            self._wait_answering()
        if self.live:
            self._reconcile()

    def _start(self, labels: dict[str, str]) -> None:
        self._free_stable_ports()
        image = proxy_image.ensure(self.runner, self.client if self.live else None, engine_name(self.settings))
        serving = {service: [port] for service, port in self.serving_ports().items()} if self.live else {}
        text = config(self.listeners, serving, self.settings)
        self.runner.say(f"start the proxy {self.name}: "
                        + ", ".join(f"{t.service} on {lst.bind}" for t, lst in zip(self.targets.values(),
                                                                                  self.listeners, strict=True)))
        equivalent = dcli.run(image, name=self.name, host=self.settings.host, network="host",
                              env={"HAPROXY_CONFIG": "<the config>"}, labels=labels, restart=self.settings.restart)
        self.runner.action(equivalent, self._run, image, text, labels)
        self._wait_answering()

    def _run(self, image: str, text: str, labels: dict[str, str]) -> None:
        assert self.client is not None
        spec: dict[str, Any] = {"name": self.name, "labels": labels, "detach": True, "network_mode": "host",
                                "environment": {"HAPROXY_CONFIG": text, "HAPROXY_FILE": self.file},
                                "volumes": {self.name: {"bind": STATE_DIR, "mode": "rw"}},
                                "restart_policy": {"Name": self.settings.restart}}
        self.client.containers.run(image, ENTRYPOINT, **spec)

    def _wait_answering(self) -> None:
        if not self.live:
            return
        deadline = time.monotonic() + 15
        while True:
            container = find(self.client, self.name)
            if container is None or status(container) in {"exited", "dead"} or (
                    container is not None and int(container.attrs.get("RestartCount") or 0)):
                tail = logs_tail(container) if container is not None else "gone"
                raise OperationFailed(f"the proxy {self.name} did not start on {engine_name(self.settings)}: "
                                      f"{tail or 'no output'}")
            try:
                self._exec("show info")
                return
            except OperationFailed:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def _free_stable_ports(self) -> None:
        """A container started before the proxy existed listens on its service's stable port: it
        stops (once: the proxy takes the port over and its replacement gets its own port)."""
        for target in self.targets.values():
            container = find(self.client, target.name) if self.live else None
            if container is not None and container_port(container.labels) is None and status(container) == "running":
                self.runner.say(f"{target.service}: {target.name} listens on the stable port {target.port} "
                                "(made before the proxy): stopping it so the proxy can take the port")
                self.runner.action(dcli.stop(target.name, host=self.settings.host, timeout=self.settings.stop_timeout),
                                   container.stop, timeout=self.settings.stop_timeout)

    def _reconcile(self) -> None:
        wanted = self.serving_ports()
        have = self.servers()
        for service in self.targets:
            mine = [s for s in have if s.backend == backend(service)]
            port = wanted.get(service)
            if port is not None and not any(s.port == port and s.up for s in mine):
                self.runner.say(f"{service}: the proxy did not send traffic to {self.targets[service].name}: adding it")
                self.add(service, port)
            for state in mine:
                if state.port != port:
                    self.runner.say(f"{service}: the proxy still knew port {state.port}, which no serving "
                                    "container has: removing it")
                    self.retire(service, state.port)

    def serving_containers(self) -> dict[str, str]:
        """{service: container the proxy sends its traffic to now} (read-only)."""
        if self.client is None:
            return {}
        states = self.servers()
        found: dict[str, str] = {}
        for service, target in self.targets.items():
            ports = {s.port for s in states if s.backend == backend(service) and s.up}
            for name in (target.name, target.candidate_name, target.previous_name):
                container = find(self.client, name)
                if container is not None and container_port(container.labels) in ports:
                    found[service] = name
                    break
        return found
