"""`status` on the REAL control plane (scripts/kube-up.sh) through the real kubectl: both
environments read in one pass, the live colour and both colours' versions, replicas and images
from the real Deployments, the last deploy from the history ConfigMap, the lock holder from the
lock ConfigMap, health through the stand-in data plane."""

from __future__ import annotations

import json

import pytest

from retail_deploy.kube import deployer
from retail_deploy.kube.settings import kube_env
from retail_deploy.targets import history
from tests.integration.kube_support import inv

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def platform(real_platform):
    return real_platform


def environments(done) -> dict[str, dict]:
    return {e["environment"]: e for e in json.loads(done.stdout)["environments"]}


def test_status_says_what_serves_where_on_the_real_cluster(platform):
    cfg = platform.cfg()
    deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0")
    platform.cluster.wait_rolled_out("production", "retail-backend-green")

    done = inv(platform, "status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    envs = environments(done)
    assert set(envs) == {"staging", "production"}
    production = envs["production"]
    assert (production["target"], production["verdict"], production["lock"]) == ("kubernetes", "healthy", None)
    assert production["colours"] == {"blue": "1.0.0", "green": "1.1.0"}
    backend = next(s for s in production["services"] if s["service"] == "backend")
    assert (backend["version"], backend["colour"], backend["ready"], backend["desired"]) == ("1.1.0", "green", 3, 3)
    assert backend["image"] == "registry.example.com/retail-backend:1.1.0"
    assert backend["since"].endswith("Z") and backend["health"] == "healthy"
    assert (backend["last_deploy"]["version"], backend["last_deploy"]["outcome"]) == ("1.1.0", "succeeded")
    assert production["monitoring"] == "not configured" and production["triggers"] == []
    staging_backend = next(s for s in envs["staging"]["services"] if s["service"] == "backend")
    assert (staging_backend["version"], staging_backend["colour"], staging_backend["last_deploy"]) == (
        "1.0.0", "", None)

    table = inv(platform, "status", "--env", "production")
    assert table.returncode == 0, table.stderr
    assert "production (kubernetes, retail-production/" in table.stdout
    assert "colours: blue 1.0.0, green 1.1.0 (live)" in table.stdout
    assert "staging" not in table.stdout


def test_a_deploy_under_way_shows_its_holder_and_its_unfinished_record(platform):
    cfg = platform.cfg()
    runner = platform.runner()
    kube = kube_env(cfg, cfg.environment("production")).kube
    history.acquire(runner, kube, env_name="production", version="1.2.0", strategy="blue-green", ttl_s=600)
    history.record(runner, kube, {"action": "deploy", "version": "1.2.0", "who": "erin@laptop",
                                  "start": "2026-12-05T12:00:00Z", "result": "running", "services": []})
    done = inv(platform, "status", "--env", "production", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    production = environments(done)["production"]
    assert production["lock"]["version"] == "1.2.0" and not production["lock"]["expired"]
    assert production["last_deploy"]["result"] == "running"
    assert production["last_deploy"]["outcome"] == "in progress or interrupted"
    table = inv(platform, "status", "--env", "production")
    assert "lock: held by " in table.stdout
    assert "last deploy: 1.2.0 by erin@laptop at 2026-12-05T12:00:00Z: in progress or interrupted" in table.stdout
