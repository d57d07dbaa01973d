"""kubectl diagnostic argv: every command pins context, namespace and request timeout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from retail_deploy.commands import kubectl_diag as k
from retail_deploy.errors import ConfigError

PROD = k.KubeTarget("prod-eks", "production")
BASE = ("kubectl", "--context", "prod-eks", "--namespace", "production", "--request-timeout", "30s")


def test_reads_are_read_only_and_pinned():
    assert k.describe_pod(PROD, "retail-backend-abc").argv == (*BASE, "describe", "pod", "retail-backend-abc")
    assert k.logs(PROD, "retail-backend-abc", previous=True, tail=200).argv == (
        *BASE, "logs", "retail-backend-abc", "--previous", "--tail=200")
    assert k.logs(PROD, selector="app=retail-backend", tail=500, prefix=True).argv == (
        *BASE, "logs", "--selector", "app=retail-backend", "--tail=500", "--prefix")
    assert k.get_pods(PROD, "app=retail-backend").argv == (
        *BASE, "get", "pods", "--selector", "app=retail-backend", "--output", "json")
    assert k.get_events(PROD).argv == (*BASE, "get", "events", "--sort-by=.lastTimestamp")
    assert k.top_pods(PROD).argv == (*BASE, "top", "pods")
    assert k.rollout_history(PROD, "retail-backend").argv == (*BASE, "rollout", "history",
                                                               "deployment/retail-backend")
    assert k.get_certificates(PROD).argv == (*BASE, "get", "certificates", "--output", "json")
    for command in (k.describe_pod(PROD, "p"), k.get_events(PROD), k.top_pods(PROD), k.get_certificates(PROD)):
        assert command.read_only


def test_runbook_dependency_check_without_a_tty():
    command = k.actuator_health(PROD, "retail-backend", "mongo")
    assert command.argv == (*BASE, "exec", "deploy/retail-backend", "--", "curl", "-sf",
                            "localhost:8080/actuator/health/mongo")
    assert "-it" not in command.argv and command.read_only


def test_database_uri_is_expanded_inside_the_pod_not_here():
    command = k.mongo_ping(PROD, "retail-backend")
    assert command.argv == (*BASE, "exec", "deploy/retail-backend", "--", "sh", "-c",
                            'mongosh "$MONGODB_URI" --quiet --eval "JSON.stringify(db.stats())"')
    assert k.redis_ping(PROD, "retail-backend").argv[-1] == 'redis-cli -u "$REDIS_URL" ping'


def test_remedies_are_not_read_only():
    assert k.scale(PROD, "retail-backend", 5).argv == (*BASE, "scale", "deployment/retail-backend", "--replicas=5")
    assert k.delete_certificate(PROD, "api-example-com").argv == (*BASE, "delete", "certificate",
                                                                   "api-example-com")
    assert not k.scale(PROD, "retail-backend", 5).read_only
    assert not k.delete_certificate(PROD, "x").read_only


def test_logs_needs_one_of_pod_or_selector():
    with pytest.raises(ValueError):
        k.logs(PROD)
    with pytest.raises(ValueError):
        k.logs(PROD, "pod", selector="app=x")


def test_target_from_environment_requires_context_and_namespace():
    env = SimpleNamespace(name="production", kube_context="prod-eks", namespace="production")
    assert k.KubeTarget.from_env(env, "10s").base() == [
        "kubectl", "--context", "prod-eks", "--namespace", "production", "--request-timeout", "10s"]
    with pytest.raises(ConfigError, match="needs kube_context and namespace"):
        k.KubeTarget.from_env(SimpleNamespace(name="dev", kube_context=None, namespace="dev"))
