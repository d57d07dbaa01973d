"""The Kubernetes view of the platform config, and the history/lock records' pure parts."""

from datetime import UTC, datetime

import pytest

from retail_deploy.config import load_config
from retail_deploy.errors import ConfigError
from retail_deploy.kube.settings import kube_env
from retail_deploy.targets import history


def test_the_platform_config_as_the_kubernetes_chapter_reads_it():
    cfg = load_config()  # config/retail-platform.yaml
    prod = kube_env(cfg, cfg.environment("production"))
    assert prod.kube.namespace == "production" and prod.kube.context == "retail-production"
    assert prod.strategy == "blue-green" and prod.rollout_timeout_s == 600
    assert prod.service("backend").image_ref("1.2.3") == "registry.example.com/retail-backend:1.2.3"
    assert prod.blue_green is not None
    assert dict(prod.blue_green.deployments) == {"blue": "retail-backend-blue", "green": "retail-backend-green"}
    assert prod.blue_green.other("blue") == "green"
    staging = kube_env(cfg, cfg.environment("staging"))
    assert staging.method == "helm" and staging.helm.values_file == "values-staging.yaml"
    assert staging.helm.set_all == {} and staging.helm.set_per_service == {"backend": {"environment": "staging"}}
    assert staging.helm.timeout == "600s"


def test_unknown_service_is_a_config_error():
    cfg = load_config()
    with pytest.raises(ConfigError, match="unknown service 'payments'"):
        kube_env(cfg, cfg.environment("staging")).service("payments")


def test_lock_expiry_and_description():
    now = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    data = history.lock_data("alice@ci", "id1", "1.4.2", "blue-green", now, 1800)
    lock = history.LockInfo.from_data(data)
    assert data["expires"] == "2026-11-26T04:30:00Z"
    assert not lock.expired(now) and lock.expired(datetime(2026, 11, 26, 4, 30, tzinfo=UTC))
    assert lock.describe() == "alice@ci (version 1.4.2, since 2026-11-26T04:00:00Z, expires 2026-11-26T04:30:00Z)"


def test_history_table_is_ordered_and_skips_garbage():
    data = {
        "20261126T040000Z-bbbbbb": '{"start":"2026-11-26T04:00:00Z","version":"1.4.2","result":"rolled-back",'
                                   '"previous":{"backend":"r/retail-backend:1.4.1"},"who":"bob"}',
        "20261125T040000Z-aaaaaa": '{"start":"2026-11-25T04:00:00Z","version":"1.4.1","result":"succeeded"}',
        "junk": "not json",
    }
    entries = history.parse_history(data)
    assert [e["version"] for e in entries] == ["1.4.1", "1.4.2"]
    table = history.format_history(entries).splitlines()
    assert table[0].split() == ["START", "END", "ACTION", "VERSION", "STRATEGY", "RESULT", "SERVICES", "WHO"]
    assert "rolled-back" in table[2] and "previous 1.4.1" in table[2] and "bob" in table[2]
    assert history.format_history([]) == "no deploys recorded"


QA_ENV = ("version: 1\n"
          "registry: {host: reg.local:5000, username_env: U, password_env: P}\n"
          "services:\n"
          "  api: {image: api, health: [{path: /health}]}\n"
          "  web: {image: web}\n"
          "environments:\n"
          "  qa:\n"
          "    target: kubernetes\n"
          "    namespace: qa\n"
          "    kube_context: qa-cluster\n"
          "    require_runtime_env: false\n"
          "    helm: {chart_dir: charts, timeout: 2m}\n"
          "    kube:\n")


def test_the_kube_section_of_an_environment(tmp_path):
    path = tmp_path / "platform.yaml"
    path.write_text(QA_ENV + (
        "      request_timeout: 10s\n"
        "      lock_ttl: 5m\n"
        "      log_tail: 50\n"
        "      log_pattern: 'ERROR|Exception'\n"
        "      helm_set: {api: {environment: qa}}\n"))
    cfg = load_config(path)
    qa = kube_env(cfg, cfg.environment("qa"))
    assert qa.kube.request_timeout == "10s" and qa.kube.context == "qa-cluster"
    assert (qa.lock_ttl_s, qa.log_tail, qa.log_pattern) == (300, 50, "ERROR|Exception")
    assert qa.helm.set_per_service == {"api": {"environment": "qa"}} and qa.helm.timeout == "120s"
    assert qa.service("api").image_ref("2.0") == "reg.local:5000/api:2.0"
    assert qa.service("web").deployment == "web"



@pytest.mark.parametrize("kube_lines,line,message", [
    ("      log_tail: many\n", 14, r"qa\.kube\.log_tail: expected an integer"),
    ("      lock_ttl: soon\n", 14, r"qa\.kube\.lock_ttl: invalid"),
    ("      request_timeout: 10s\n      lock_tll: 5m\n", 15, r"qa\.kube\.lock_tll: unknown key"),
    ("      log_pattern: '(unclosed'\n", 14, r"qa\.kube\.log_pattern: not a valid regular expression"),
    ("      helm_set:\n        payments: {environment: qa}\n", 15, r"helm_set\.payments: 'payments' is not a service"),
])
def test_kube_section_errors_name_file_line_and_key(tmp_path, kube_lines, line, message):
    path = tmp_path / "platform.yaml"
    path.write_text(QA_ENV + kube_lines)
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=rf"^{path}:{line}: .*{message}"):
        kube_env(cfg, cfg.environment("qa"))


def test_config_validate_checks_the_kube_section(tmp_path):
    # Before, a misspelt kube key was silently ignored and config.validate said "valid".
    from retail_deploy import config_report

    path = tmp_path / "platform.yaml"
    path.write_text(QA_ENV + "      lock_tll: 5m\n")
    with pytest.raises(ConfigError, match=rf"^{path}:14: environments\.qa\.kube\.lock_tll: unknown key"):
        config_report.validate(load_config(path), None)


def test_a_kubernetes_environment_without_kube_context_is_refused(tmp_path):
    # Without it every kubectl/helm command ran against whatever context was current.
    path = tmp_path / "platform.yaml"
    path.write_text(QA_ENV.replace("    kube_context: qa-cluster\n", "").replace("    kube:\n", ""))
    cfg = load_config(path)
    with pytest.raises(ConfigError, match=rf"^{path}:7: environments\.qa: kube_context is required"):
        kube_env(cfg, cfg.environment("qa"))


def test_the_deploy_watches_the_triggers_with_the_monitoring_sections_prometheus(tmp_path):
    # Only monitoring.prometheus_url set (documented as the fallback): the deploy's verification
    # period used health checks only, and rolling plans had no trigger watch at all.
    path = tmp_path / "platform.yaml"
    path.write_text(QA_ENV.replace("    kube:\n", "    blue_green: {service: api, deployments: {blue: api-b, green: api-g},"
                                   " verification_period: 2m}\n")
                    + "monitoring:\n  prometheus_url: http://127.0.0.1:9090\n")
    cfg = load_config(path)
    qa = kube_env(cfg, cfg.environment("qa"))
    assert qa.prometheus_url == "http://127.0.0.1:9090"


def _with_blue_green(tmp_path, block: str):
    import re

    text = open("config/retail-platform.yaml").read()
    start = text.index("    blue_green:\n")
    end = text.index("\n\n", start)
    path = tmp_path / "platform.yaml"
    path.write_text(text[:start] + re.sub(r"^", "    ", block.strip("\n"), flags=re.M) + text[end:])
    cfg = load_config(path)
    return kube_env(cfg, cfg.environment("production")).blue_green


def test_the_single_service_blue_green_config_stays_one_member():
    bg = kube_env(load_config(), load_config().environment("production")).blue_green
    assert bg is not None and [m.service_name for m in bg.members] == ["retail-backend"]
    assert bg.services == {"backend"} and bg.member("consumer-web") is None


def test_more_blue_green_services_by_the_naming_rule_or_spelled_out(tmp_path):
    bg = _with_blue_green(tmp_path, """
blue_green:
  service: backend
  deployments: {blue: retail-backend-blue, green: retail-backend-green}
  services:
    consumer-web: ~
    admin-web: {service_name: admin, deployments: {blue: admin-b, green: admin-g}}
  scale_down_delay: 0s
""")
    assert [(m.service, m.service_name, dict(m.deployments)) for m in bg.members] == [
        ("backend", "retail-backend", {"blue": "retail-backend-blue", "green": "retail-backend-green"}),
        ("consumer-web", "retail-consumer-web",
         {"blue": "retail-consumer-web-blue", "green": "retail-consumer-web-green"}),
        ("admin-web", "admin", {"blue": "admin-b", "green": "admin-g"})]
    assert all(m.scale_down_delay_s == 0 and m.selector_key == "deployment" for m in bg.members)
    listed = _with_blue_green(tmp_path, "blue_green:\n  services: [consumer-web, backend]\n")
    assert [m.service for m in listed.members] == ["consumer-web", "backend"]
    assert listed.service_name == "retail-consumer-web"


@pytest.mark.parametrize(("block", "message"), [
    ("blue_green:\n  services: [payments]\n", "unknown service 'payments'"),
    ("blue_green:\n  service: backend\n  services: [backend]\n", "'backend' is deployed blue-green twice"),
    ("blue_green:\n  services: {backend: {colour: x}}\n", "unknown key"),
])
def test_a_wrong_blue_green_service_is_refused_with_its_line(tmp_path, block, message):
    with pytest.raises(ConfigError, match=message):
        _with_blue_green(tmp_path, block)
