"""The Docker target's container steps, each printed as its CLI equivalent through
`runner.action` (so a dry run reads as a shell script): pull, start, stop, rename, and waiting
for Docker's own health checks (read back with `docker inspect`, so they work on a remote engine
over SSH as on the local one)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import docker_engine as dcli
from retail_deploy.docker.plan import (
    DockerSettings,
    ServiceTarget,
    judge_health,
    latest_health_run,
    run_command,
    run_spec,
)
from retail_deploy.docker.session import (
    api_message,
    engine,
    engine_name,
    find,
    image_id,
    logs_tail,
    remove,
    status,
)
from retail_deploy.errors import OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from retail_deploy.config import EnvironmentConfig, PlatformConfig, RegistryConfig
    from retail_deploy.execute import Runner


class Deployer:
    def __init__(self, runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                 client: DockerClient | None):
        self.runner = runner
        self.cfg = cfg
        self.env = env
        self.settings = settings
        self.client = client
        self.host = settings.host

    # -- image

    def ensure_image(self, target: ServiceTarget, *, pull: bool = True) -> None:
        registry = self.cfg.registry
        if not getattr(registry, "host", None):
            return  # a local image, built on this engine
        if not pull and self.client is not None and image_id(self.client, target.image):
            self.runner.say(f"{target.service}: {target.image} was just built on this engine: no pull")
            return
        self.runner.action(dcli.pull(target.image, host=self.host), self._pull, target, registry)

    def _pull(self, target: ServiceTarget, registry: RegistryConfig) -> None:
        import docker

        auth = None
        if getattr(registry, "username", None):
            auth = {"username": registry.username, "password": registry.password or ""}
        repository, tag = target.image.rsplit(":", 1)
        try:
            engine(self.client).images.pull(repository, tag=tag, auth_config=auth)
        except docker.errors.APIError as error:
            # A remote engine may have the image already (e.g. built there); otherwise fail.
            try:
                engine(self.client).images.get(target.image)
            except docker.errors.ImageNotFound:
                raise OperationFailed(f"{target.service}: cannot pull {target.image} on "
                                      f"{engine_name(self.settings)}: {api_message(error)} "
                                      f"(was it built and pushed? `inv build.all --version "
                                      f"{target.version} --push`)") from error

    # -- containers

    def start(self, target: ServiceTarget) -> None:
        """Start the new version as `<name>-candidate` on its own port (never the stable one: the
        proxy owns that)."""
        name = target.candidate_name
        if find(self.client, name) is not None:
            # Left over by an interrupted deploy: the proxy never sent it traffic (or no longer does).
            self.runner.action(dcli.remove(name, host=self.host), remove, self.client, name)
        spec = run_spec(target, self.settings, candidate=True)
        # `self.client` is looked up only when the action runs: a dry run may have no engine.
        self.runner.action(run_command(target, self.settings, candidate=True),
                           lambda: engine(self.client).containers.run(target.image, **spec))

    def promote(self, target: ServiceTarget) -> None:
        """The candidate that now serves takes the service's name and restart policy."""
        self.rename(target.candidate_name, target.name)
        self.runner.action(dcli.update_restart(target.name, self.settings.restart, host=self.host),
                           self._update_restart, target.name)

    def _update_restart(self, name: str) -> None:
        container = find(self.client, name)
        if container is not None:
            policy: Any = {"Name": self.settings.restart}  # the stubs' TypedDict is private
            container.update(restart_policy=policy)

    def remove(self, name: str) -> None:
        self.runner.action(dcli.remove(name, host=self.host), remove, self.client, name)

    def stop(self, name: str) -> None:
        self.runner.action(dcli.stop(name, host=self.host, timeout=self.settings.stop_timeout),
                           self._stop, name)

    def _stop(self, name: str) -> None:
        container = find(self.client, name)
        if container is not None:
            container.stop(timeout=self.settings.stop_timeout)

    def rename(self, name: str, new_name: str) -> None:
        self.runner.action(dcli.rename(name, new_name, host=self.host), self._rename, name, new_name)

    def _rename(self, name: str, new_name: str) -> None:
        container = find(self.client, name)
        if container is not None:
            container.rename(new_name)

    def restart(self, name: str) -> None:
        self.runner.action(dcli.start(name, host=self.host), self._start_existing, name)

    def _start_existing(self, name: str) -> None:
        container = find(self.client, name)
        if container is None:
            raise OperationFailed(f"container {name} vanished on {engine_name(self.settings)}")
        container.start()

    # -- health

    def wait_healthy(self, target: ServiceTarget, name: str, version: str | None = None) -> str | None:
        """None when the container passes every check within the timeout, else the reason."""
        return self.wait_all([(target, name)], version=version).get(target.service)

    def wait_all(self, containers: list[tuple[ServiceTarget, str]], *, version: str | None = None) -> dict[str, str]:
        """Wait for several containers together; {service: reason} for those that did not pass."""
        if not containers:
            return {}
        names = [name for _, name in containers]
        self.runner.say(f"wait up to {self.settings.health_timeout:g}s for {', '.join(names)} "
                        f"to pass {'their' if len(names) > 1 else 'its'} health checks")
        shown = dcli.inspect_health(*names, host=self.host)
        result = self.runner.action(shown, self._wait, containers, version)
        return result if isinstance(result, dict) else {}

    def _wait(self, containers: list[tuple[ServiceTarget, str]], version: str | None) -> dict[str, str]:
        deadline = time.monotonic() + self.settings.health_timeout
        pending = {name: target for target, name in containers}
        failed: dict[str, str] = {}
        problems: dict[str, str] = {}
        while pending:
            for name, target in list(pending.items()):
                container = find(self.client, name)
                if container is None:
                    failed[target.service] = f"container {name} disappeared"
                elif status(container) in {"exited", "dead"}:
                    failed[target.service] = f"container {name} exited: {logs_tail(container) or 'no output'}"
                elif container.status == "restarting" or int(container.attrs.get("RestartCount") or 0):
                    # The restart policy hides a crash: a new container that restarts has failed.
                    failed[target.service] = (f"container {name} keeps restarting: "
                                              f"{logs_tail(container) or 'no output'}")
                else:
                    problem = self.check(container, target, version)
                    if problem is None:
                        del pending[name]
                        continue
                    problems[target.service] = problem
                    continue
                del pending[name]
            if not pending:
                break
            if time.monotonic() >= deadline:
                for target in pending.values():
                    failed[target.service] = (f"not healthy after {self.settings.health_timeout:g}s: "
                                              f"{problems.get(target.service, 'no answer')}")
                break
            time.sleep(min(self.settings.health_interval, 0.25))
        return failed

    def check(self, container: Container, target: ServiceTarget, version: str | None) -> str | None:
        """The latest health-check run of the container, judged; None when it passed."""
        container.reload()
        state = container.attrs.get("State") or {}
        last = latest_health_run(state)
        if last is None:
            return "no health check result yet"
        return judge_health(target, int(last.get("ExitCode", 1)), str(last.get("Output") or ""), version)
