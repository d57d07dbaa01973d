"""Development deploy of the example platform: `deploy.development` against the runbook's plain commands.

On the real local Docker engine and a private registry (htpasswd auth) on 127.0.0.1, each round
measures, for a fresh copy of examples/retail-platform with unique image and container names:

- baseline cold: the runbook's commands as a plain sequential script, per service: the build
  step, `docker build`, `docker tag`, `docker push`, `docker rm -f` old, `docker run`, then
  `curl -sf` until the health endpoint answers (no candidate, no rollback: downtime included);
- ours cold:  `retail-deploy deploy.development --version V` on new sources (build, push, deploy);
- baseline warm / ours warm: the same command again with nothing changed;
- ours bump: a new version of unchanged sources (images rebuilt from cache, containers replaced);
- lost per bump: during the baseline's and our version bump, a loop asks the backend's URL every
  20 ms; requests without a 200 are lost (ours: the proxy switches traffic, budget 0).

Figures are medians over the rounds; the ratio is ours / baseline for the same situation.

    PYTHONPATH=. python benchmarks/dev_deploy.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.services import Registry, free_port  # noqa: E402 - a real registry, as the tests use

EXAMPLE = REPO / "examples" / "retail-platform"
SERVICES = ("backend", "consumer-web", "admin-web")
TASKS_FILE = """\
from invoke import Collection

from retail_deploy.tasks.deploy_docker import development

ns = Collection()
deploy = Collection("deploy")
deploy.add_task(development)
ns.add_collection(deploy)
"""

BASELINE = r"""#!/bin/sh
# The runbook's commands for each service, one after the other.
set -e
for svc in $SERVICES; do
  eval "dir=\$DIR_$(echo $svc | tr - _)"; eval "port=\$PORT_$(echo $svc | tr - _)"
  eval "path=\$HEALTH_$(echo $svc | tr - _)"; eval "steps=\$STEPS_$(echo $svc | tr - _)"
  image="$PREFIX-$svc"
  (cd "$dir" && eval "$steps" >/dev/null)
  docker build -q -t "$image:$VERSION" "$dir" >/dev/null
  docker tag "$image:$VERSION" "$REGISTRY/$image:$VERSION"
  docker push -q "$REGISTRY/$image:$VERSION" >/dev/null
  docker rm -f "$PREFIX-base-$svc" >/dev/null 2>&1 || true
  docker run -d --name "$PREFIX-base-$svc" --network host -e PORT="$port" "$REGISTRY/$image:$VERSION" >/dev/null
  until curl -sf "http://127.0.0.1:$port$path" >/dev/null; do sleep 0.2; done
done
"""


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-2000:]}")
    return elapsed


class Load:
    """GET `url` every 20 ms in a thread while the block runs; `lost` counts requests without a 200."""

    def __init__(self, url: str):
        self.url, self.sent, self.lost = url, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.sent += 1
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    self.lost += response.status != 200
            except OSError:
                self.lost += 1
            self._stop.wait(0.02)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def one_round(workdir: Path, registry: Registry) -> dict[str, float]:
    token = secrets.token_hex(3)
    prefix = f"bench{token}"
    root = workdir / token
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist", "node_modules"))
    # New content every round: a cold build cannot reuse layers of an earlier round.
    for name in SERVICES:
        src = root / name / ("src/main/resources/retail-backend.properties" if name == "backend" else "index.html")
        mark = f"# round {token}\n" if name == "backend" else f"<!-- round {token} -->\n"
        src.write_text(src.read_text() + mark)
    data = yaml.safe_load((EXAMPLE / "retail-platform.yaml").read_text())
    ports = {name: free_port() for name in SERVICES}
    for service in data["services"].values():
        service["deployment"] = f"{prefix}-{service['image']}"
        service["image"] = f"{prefix}-{service['image']}"
    env_cfg = data["environments"]["development"]
    env_cfg["urls"] = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env_cfg["docker"] = {"host": "local", "network": "host", "health_timeout": "60s"}
    data["registry"]["host"] = registry.address
    config = root / "retail-platform.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "tasks.py").write_text(TASKS_FILE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "REGISTRY_USERNAME": registry.username,
           "REGISTRY_PASSWORD": registry.password}

    base_root = workdir / f"{token}-baseline"
    shutil.copytree(root, base_root)
    base_ports = {name: free_port() for name in SERVICES}
    base_env = {**os.environ, "SERVICES": " ".join(SERVICES), "PREFIX": f"{prefix}b", "VERSION": "1.0.0",
                "REGISTRY": registry.address}
    for name in SERVICES:
        key = name.replace("-", "_")
        base_env[f"DIR_{key}"] = str(base_root / name)
        base_env[f"PORT_{key}"] = str(base_ports[name])
        base_env[f"HEALTH_{key}"] = "/api/v1/health" if name == "backend" else "/"
        # The config's build steps (mvn / npm), as the runbook runs them: one after another.
        base_env[f"STEPS_{key}"] = " && ".join(shlex.join(step["run"]) for step in data["services"][name]["build_steps"])
    script = workdir / "baseline.sh"
    script.write_text(BASELINE)
    # The baseline logs in with its own Docker config dir: the user's ~/.docker stays untouched.
    base_env["DOCKER_CONFIG"] = str(workdir / "docker-config")
    login = subprocess.run(["docker", "login", registry.address, "-u", registry.username, "--password-stdin"],
                           input=registry.password, capture_output=True, text=True, env=base_env)
    if login.returncode != 0:
        raise SystemExit(f"docker login failed: {login.stderr}")

    ours = [sys.executable, "-m", "invoke", "--search-root", str(tasks), "deploy.development", "--config",
            str(config), "--version"]
    figures: dict[str, float] = {}
    try:
        figures["baseline cold"] = run(["sh", str(script)], base_env)
        figures["baseline warm"] = run(["sh", str(script)], base_env)
        figures["ours cold"] = run([*ours, "1.0.0"], env)
        figures["ours warm"] = run([*ours, "1.0.0"], env)
        with Load(f"http://127.0.0.1:{ports['backend']}/api/v1/health") as load:
            figures["ours bump"] = run([*ours, "1.0.1"], env)
        figures["ours lost"] = load.lost
        with Load(f"http://127.0.0.1:{base_ports['backend']}/api/v1/health") as load:
            figures["baseline bump"] = run(["sh", str(script)], {**base_env, "VERSION": "1.0.1"})
        figures["baseline lost"] = load.lost
    finally:
        names = [f"{prefix}b-base-{n}" for n in SERVICES]
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"name={prefix}-"], capture_output=True,
                                text=True).stdout.split()
        if listed:
            subprocess.run(["docker", "rm", "-f", *listed], capture_output=True)
        # The engine is shared: drop this round's images too.
        tags = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                              text=True).stdout.split()
        mine = [tag for tag in tags if tag.split("/")[-1].startswith(prefix)]
        if mine:
            subprocess.run(["docker", "rmi", "-f", "--no-prune", *mine], capture_output=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "registry").mkdir()
        registry = Registry(workdir / "registry").start()
        try:
            results = [one_round(workdir, registry) for _ in range(rounds)]
        finally:
            registry.stop()
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    print(f"{'situation':16} {'baseline s':>10} {'ours s':>8} {'ratio':>6}")
    for situation in ("cold", "warm"):
        base, ours = median[f"baseline {situation}"], median[f"ours {situation}"]
        print(f"{situation:16} {base:10.2f} {ours:8.2f} {ours / base:6.2f}")
    print(f"{'version bump':16} {median['baseline bump']:10.2f} {median['ours bump']:8.2f} "
          f"{median['ours bump'] / median['baseline bump']:6.2f}")
    print(f"requests lost per version bump (one every 20 ms to the backend): baseline "
          f"{median['baseline lost']:g}, ours {median['ours lost']:g} (budget 0)")


if __name__ == "__main__":
    main()
