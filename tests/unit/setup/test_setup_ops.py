"""The runbook's Prerequisites and Appendix: tool versions, kubeconfig setup, Helm repositories,
useful commands. Commands are data (compared whole); version judgement is pure."""

import dataclasses

import pytest

from retail_deploy.commands import cloud, helm, kubectl
from retail_deploy.commands.kubectl import Kube
from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.errors import ConfigError, InputError, OperationFailed
from retail_deploy.setup import platform as platform_setup
from retail_deploy.setup import prerequisites

PROD = Kube("retail-production", "production")


def test_appendix_commands_pin_context_and_namespace():
    assert kubectl.get_all(PROD).display() == (
        "kubectl get all --namespace production --context retail-production --request-timeout=30s")
    assert kubectl.describe_resourcequota(PROD).argv[:3] == ("kubectl", "describe", "resourcequota")
    assert kubectl.port_forward(PROD, "retail-backend", 8080, 8080).display() == (
        "kubectl port-forward svc/retail-backend 8080:8080 --namespace production --context retail-production "
        "--request-timeout=30s")
    assert kubectl.shell(PROD, "retail-backend-blue").display() == (
        "kubectl exec -it deploy/retail-backend-blue --namespace production --context retail-production "
        "--request-timeout=30s -- /bin/sh")
    assert kubectl.deployment_logs(PROD, "retail-backend").argv[:3] == ("kubectl", "logs", "deploy/retail-backend")
    # Nodes and cluster-info are cluster-wide: the context is pinned, a namespace would mean nothing.
    assert kubectl.get_nodes(PROD).display() == "kubectl get nodes --context retail-production --request-timeout=30s"
    assert kubectl.cluster_info(PROD).read_only


def test_setup_commands():
    assert cloud.eks_update_kubeconfig("retail-cluster", "us-east-1", alias="retail-production").display() == (
        "aws eks update-kubeconfig --name retail-cluster --region us-east-1 --alias retail-production")
    assert helm.repo_add("bitnami", "https://charts.bitnami.com/bitnami").display() == (
        "helm repo add bitnami https://charts.bitnami.com/bitnami --force-update")
    assert helm.repo_update().display() == "helm repo update"


KUBECTL, MAVEN, JAVA = (prerequisites.RUNBOOK_TOOLS[2], prerequisites.RUNBOOK_TOOLS[7],
                        prerequisites.RUNBOOK_TOOLS[6])


@pytest.mark.parametrize("tool,output,ok,detail", [
    (KUBECTL, "Client Version: v1.32.4\nKustomize Version: v5.5.0\n", True, "1.32.4 (needs 1.28+)"),
    (KUBECTL, "Client Version: v1.27.9\n", False, "1.27.9 is older than 1.28"),
    (MAVEN, "Apache Maven 3.9.6 (bc0240f3)\nMaven home: /usr/share/maven\n", True, "3.9.6 (needs 3.9+)"),
    (MAVEN, "Apache Maven 3.8.7\n", False, "3.8.7 is older than 3.9"),
    (JAVA, "javac 21.0.2\n", True, "21.0.2 (needs 21+)"),
    (JAVA, None, False, "not installed (needs 21+)"),
    (JAVA, "garbage\nmore", False, "version not recognised in: garbage"),
])
def test_tool_versions_are_judged_against_the_runbook(tool, output, ok, detail):
    finding = prerequisites.judge(tool, output)
    assert (finding.ok, finding.detail) == (ok, detail)


def test_runbook_minimums():
    minimums = {t.name: t.minimum for t in prerequisites.RUNBOOK_TOOLS}
    assert minimums == {"docker": "20.10", "docker compose": "2.0", "kubectl": "1.28", "helm": "3.12",
                        "aws": "2.0", "node": "20.0", "java (JDK)": "21", "maven": "3.9"}


def test_default_config_holds_the_appendix():
    cfg = load_config(DEFAULT_CONFIG, environ={})
    access = platform_setup.cluster_access(cfg.environment("production"))
    assert (access.name, access.region) == ("retail-cluster", "us-east-1")
    assert platform_setup.helm_repositories(cfg) == {"bitnami": "https://charts.bitnami.com/bitnami"}
    assert platform_setup.dashboards(cfg)["Application Overview"] == "https://grafana.example.com/d/retail-overview"
    with pytest.raises(InputError, match="environment development has no cluster: section"):
        platform_setup.cluster_access(cfg.environment("development"))


def test_custom_tool_list_errors_name_the_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(DEFAULT_CONFIG.read_text() + "prerequisites:\n  tools:\n    - {name: x, command: [x], minimum: '1', pattern: '('}\n")
    with pytest.raises(ConfigError, match=r"prerequisites.tools\[0\].pattern: invalid regular expression"):
        prerequisites.tools_from_config(load_config(path, environ={}))


def _needs(cfg):
    return {r.tool.name: (r.required, "; ".join(r.needed_by) or r.would_need) for r in prerequisites.requirements(cfg)}


def test_the_default_config_needs_the_build_and_kubernetes_tools_not_compose_or_the_cloud_cli():
    needs = _needs(load_config(DEFAULT_CONFIG, environ={}))
    assert {name for name, (required, _) in needs.items() if required} == {
        "docker", "kubectl", "helm", "node", "java (JDK)", "maven"}
    assert needs["docker compose"] == (False, "nothing configured runs it (the runbook's local stack, outside "
                                              "retail-deploy)")
    assert needs["aws"] == (False, "setup.cluster --env staging / production would run it (cluster: section)")
    assert needs["maven"] == (True, "build of backend (Maven steps)")
    assert needs["node"] == (True, "build of consumer-web, admin-web (npm steps)")
    assert needs["kubectl"] == (True, "deploy, verify, rollback on staging, production (Kubernetes)")


def test_the_jdk_and_maven_are_probed_as_the_build_steps_run_them():
    by_name = {r.tool.name: r.tool for r in prerequisites.requirements(load_config(DEFAULT_CONFIG, environ={}))}
    jdk = "/usr/lib/jvm/temurin-25-jdk-amd64"
    backend = DEFAULT_CONFIG.parent.parent / "examples" / "retail-platform" / "backend"
    assert by_name["java (JDK)"].command == (f"{jdk}/bin/javac", "-version")
    assert by_name["maven"].command == ("env", "-C", str(backend.resolve()), f"JAVA_HOME={jdk}", "./mvnw", "-v")
    other = load_config(DEFAULT_CONFIG, environ={"RETAIL_JAVA_HOME": "/opt/jdk-21"})
    assert {r.tool.name: r.tool for r in prerequisites.requirements(other)}["java (JDK)"].command[0] == \
        "/opt/jdk-21/bin/javac"


def _config(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nservices:\n  api: {}\n" + text)
    return load_config(path, environ={})


def test_what_the_config_configures_decides_what_is_required(tmp_path):
    docker_only = _needs(_config(tmp_path, "environments:\n  development: {target: docker}\n"))
    assert {n for n, (required, _) in docker_only.items() if required} == {"docker"}
    assert docker_only["aws"] == (False, "nothing configured runs it")
    forced = _needs(_config(tmp_path, "environments:\n  development: {target: docker}\n"
                                      "prerequisites: {require: [aws, docker compose]}\n"))
    assert forced["aws"] == (True, "prerequisites.require") and forced["docker compose"][0] is True
    with pytest.raises(ConfigError, match="prerequisites.require: unknown tool 'gcloud'"):
        prerequisites.requirements(_config(tmp_path, "environments:\n  development: {target: docker}\n"
                                                     "prerequisites: {require: [gcloud]}\n"))


def test_an_optional_tool_that_fails_is_reported_not_required():
    old_aws = prerequisites.Finding(prerequisites.RUNBOOK_TOOLS[4], "1.45.11", False, "1.45.11 is older than 2.0",
                                    required=False, why="setup.cluster would run it")
    ok = prerequisites.Finding(KUBECTL, "1.32.3", True, "1.32.3 (needs 1.28+)", required=True, why="deploy")
    text = prerequisites.render([ok, old_aws])
    assert "[optional] aws      1.45.11 is older than 2.0  - optional: setup.cluster would run it" in text
    assert text.splitlines()[-1] == "1 of 1 required tools ready; 1 optional (not needed by this config)"
    prerequisites.require([ok, old_aws])  # does not raise
    with pytest.raises(OperationFailed, match="required tools missing or too old: aws"):
        prerequisites.require([ok, dataclasses.replace(old_aws, required=True)])
