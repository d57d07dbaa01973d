import textwrap

import pytest

from retail_deploy import redact
from retail_deploy.config import DEFAULT_CONFIG, RegistryConfig, check_runtime_env, load_config
from retail_deploy.errors import ConfigError, InputError

MINIMAL = """\
version: 1
services:
  api:
    image: shop-api
    health:
      - {path: /health, expect_json: {status: UP}}
environments:
  prod:
    namespace: live
    kube_context: ${SHOP_CONTEXT:-shop-prod}
    urls: {api: https://api.shop.test}
"""


def write(tmp_path, text, name="platform.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_default_config_holds_the_runbook_values():
    cfg = load_config(DEFAULT_CONFIG, environ={})
    assert cfg.registry.host == "registry.example.com"
    assert [s.image for s in cfg.services.values()] == ["retail-backend", "retail-consumer-web", "retail-admin-web"]
    staging, production = cfg.environment("staging"), cfg.environment("production")
    assert (staging.namespace, production.namespace) == ("staging", "production")
    assert staging.urls["backend"] == "https://staging-api.example.com"
    assert production.urls == {"backend": "https://api.example.com", "consumer-web": "https://www.example.com",
                                "admin-web": "https://admin.example.com"}
    bg = production.blue_green
    assert bg and bg.service_name == "retail-backend" and bg.selector_key == "deployment"
    assert dict(bg.deployments) == {"blue": "retail-backend-blue", "green": "retail-backend-green"}
    backend = cfg.services["backend"]
    assert [h.path for h in backend.health] == ["/api/v1/health", "/actuator/health"]
    assert backend.health[0].expect_json == {"status": "UP"}
    assert [s.argv for s in backend.build_steps] == [("./mvnw", "clean", "test"),
                                                     ("./mvnw", "clean", "package", "-DskipTests", "-Pprod")]
    assert {s.env for s in backend.build_steps} == {(("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"),)}
    assert cfg.runtime_env["JWT_SECRET"].min_length == 32


def test_another_team_describes_its_own_platform(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), environ={})
    env = cfg.environment("prod")
    assert list(cfg.services) == ["api"]
    assert env.kube_context == "shop-prod" and env.namespace == "live"
    assert cfg.services["api"].deployment == "shop-api"


def test_environment_variables_are_interpolated(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), environ={"SHOP_CONTEXT": "eks-prod"})
    assert cfg.environment("prod").kube_context == "eks-prod"


def test_config_path_from_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(write(tmp_path, MINIMAL)))
    assert list(load_config().services) == ["api"]


def test_unknown_environment_is_input_error():
    cfg = load_config(DEFAULT_CONFIG, environ={})
    with pytest.raises(InputError, match=r"unknown environment 'prod' \(known: development, staging, production\)"):
        cfg.environment("prod")


@pytest.mark.parametrize("text,expected", [
    ("version: 1\nservices:\n\tapi: {}\n", r"platform.yaml:3:1: YAML syntax error: found character '\\t'"),
    (MINIMAL + "  prod:\n    namespace: x\n", r"platform.yaml:12: duplicate key 'prod' \(first at line 8\)"),
    (MINIMAL.replace("namespace: live", "namepsace: live"),
     r"platform.yaml:9: environments.prod.namepsace: unknown key"),
    (MINIMAL.replace("namespace: live", "namespace: [a, b]"),
     r"platform.yaml:9: environments.prod.namespace: expected a string, got a list"),
    (MINIMAL.replace("${SHOP_CONTEXT:-shop-prod}", "${SHOP_CONTEXT}"),
     r"platform.yaml:10: environment variable SHOP_CONTEXT is not set"),
    (MINIMAL.replace("path: /health", "path: health"), r"services.api.health\[0\].path: a health path starts with"),
    (MINIMAL.replace("urls: {api:", "urls: {web:"), r"environments.prod.urls: URL for unknown service 'web'"),
    ("- just\n- a list\n", r"platform.yaml:1: the file must hold a mapping"),
    (MINIMAL + "strategy: rolling\n", r"platform.yaml:12: strategy: unknown key"),
])
def test_bad_config_names_file_line_and_key(tmp_path, text, expected):
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(write(tmp_path, text), environ={})
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_file_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_runtime_env_check_names_problems_never_values():
    cfg = load_config(DEFAULT_CONFIG, environ={})
    environ = {name: "x" * 40 for name in cfg.runtime_env}
    environ.update(MONGODB_URI="mongodb://u:p@db/retail", REDIS_URL="redis://cache", ELASTICSEARCH_URL="https://es",
                   POSTGRES_URL="jdbc:postgresql://pg/db", JWT_EXPIRATION="86400000", SMTP_PORT="587",
                   ENABLE_RATE_LIMITING="true", ENABLE_CSRF_PROTECTION="true")
    assert check_runtime_env(cfg, environ) == []
    environ["JWT_SECRET"] = "short-but-secret"
    environ["ENABLE_CSRF_PROTECTION"] = "yes"
    del environ["SMTP_HOST"]
    problems = check_runtime_env(cfg, environ)
    assert problems == [
        "JWT_SECRET is too short (at least 32 characters)",
        "SMTP_HOST is not set",
        "ENABLE_CSRF_PROTECTION: 'yes' does not match true|false",
    ]
    assert not any("short-but-secret" in p for p in problems)


def test_loading_registers_secret_values_for_redaction():
    redact.forget_all()
    load_config(DEFAULT_CONFIG, environ={"PAYPAL_CLIENT_SECRET": "pp-secret-123", "REGISTRY_PASSWORD": "hunter22"})
    assert redact.redact("token pp-secret-123 and hunter22") == "token *** and ***"
    assert redact.redact("mongodb://admin:s3cr3t@db:27017/x") == "mongodb://admin:***@db:27017/x"


def test_registry_password_is_masked_whatever_its_variable_is_called(tmp_path):
    # Not in secret_env, not interpolated, and a name _SECRET_NAME does not catch: still a secret.
    redact.forget_all()
    path = write(tmp_path, MINIMAL + "registry: {host: reg.shop.test, password_env: SHOP_DOCKER_PASS}\n")
    load_config(path, environ={"SHOP_DOCKER_PASS": "reg-pass-9876", "SHOP_CONTEXT": "x"})
    assert redact.redact("login with reg-pass-9876 failed") == "login with *** failed"


def test_undeclared_secret_looking_variables_are_masked_when_they_look_secret():
    redact.forget_all()
    load_config(DEFAULT_CONFIG, environ={"GITHUB_TOKEN": "ghp_abcdef123456", "TOKEN_REFRESH": "true",
                                         "SECRET_TTL": "86400"})
    assert redact.redact("ghp_abcdef123456 true 86400") == "*** true 86400"


def test_one_image_reference_rule_for_build_push_and_both_targets():
    registry = RegistryConfig("127.0.0.1:5000/", "U", "P")
    assert registry.image_ref("catalog", "1.2.3") == "127.0.0.1:5000/catalog:1.2.3"
    # an image that already names the registry is not prefixed twice
    assert registry.image_ref("127.0.0.1:5000/catalog", "1.2.3") == "127.0.0.1:5000/catalog:1.2.3"
    assert RegistryConfig("", "U", "P").image_ref("catalog", "1.2.3") == "catalog:1.2.3"


def test_the_default_config_finds_the_example_platform_with_no_variable_set(tmp_path, monkeypatch):
    """A plain clone builds the example platform: the default config's source_root is taken from the
    config file's directory, not from where the task runs."""
    monkeypatch.chdir(tmp_path)
    cfg = load_config(DEFAULT_CONFIG, environ={})
    example = DEFAULT_CONFIG.parent.parent / "examples" / "retail-platform"
    assert {name: s.source_dir for name, s in cfg.services.items()} == {
        name: (example / name).resolve() for name in ("backend", "consumer-web", "admin-web")}
    assert all((s.source_dir / "Dockerfile").is_file() for s in cfg.services.values())
    elsewhere = load_config(DEFAULT_CONFIG, environ={"RETAIL_PLATFORM_ROOT": str(tmp_path)})
    assert elsewhere.services["backend"].source_dir == tmp_path / "backend"


def test_a_relative_source_root_is_taken_from_the_config_files_directory(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "platform.yaml"
    config.write_text("version: 1\nsource_root: ../src\nservices:\n  api: {}\n"
                      "environments:\n  development: {target: docker}\n")
    monkeypatch.chdir(tmp_path / "conf")
    assert load_config(config, environ={}).services["api"].source_dir == tmp_path / "src" / "api"


def test_a_build_step_runs_with_its_variables_and_they_must_be_names(tmp_path):
    from retail_deploy.build.service import in_directory

    (tmp_path / "api").mkdir()
    config = tmp_path / "platform.yaml"
    config.write_text("version: 1\nservices:\n  api:\n    build_steps:\n"
                      "      - {run: [./mvnw, -v], env: {JAVA_HOME: /opt/jdk}}\n"
                      "environments:\n  development: {target: docker}\n")
    [step] = load_config(config, environ={}).services["api"].build_steps
    assert in_directory(tmp_path / "api", step.argv, step.env).argv == (
        "env", "-C", str(tmp_path / "api"), "JAVA_HOME=/opt/jdk", "./mvnw", "-v")
    config.write_text(config.read_text().replace("JAVA_HOME:", "'JAVA HOME':"))
    with pytest.raises(ConfigError, match="'JAVA HOME' is not a variable name"):
        load_config(config, environ={})


ROLES = """\
version: 1
services: {api: {image: shop-api}}
environments:
  prod: {kube_context: c}
  live: {kube_context: c, role: production}
  qa: {kube_context: c}
  laptop: {target: docker}
  staging: {kube_context: c, role: development}
"""


def test_roles_default_from_the_name_and_the_config_may_name_them(tmp_path):
    cfg = load_config(write(tmp_path, ROLES), environ={})
    assert {e.name: e.role for e in cfg.environments.values()} == {
        "prod": "production", "live": "production", "qa": "staging", "laptop": "development",
        "staging": "development"}
    assert cfg.environment("live").task("deploy") == "deploy.production --env live"
    assert cfg.environment("qa").task("deploy") == "deploy.staging --env qa"


def test_a_task_of_one_role_takes_any_environment_of_that_role_and_no_other(tmp_path):
    cfg = load_config(write(tmp_path, ROLES), environ={})
    assert cfg.environment_of_role("live", ("production",), "deploy.production").name == "live"
    assert cfg.environment_of_role(None, ("staging",), "deploy.staging").name == "qa"
    with pytest.raises(InputError, match="several environments have the production role: pass --env"):
        cfg.environment_of_role(None, ("production",), "deploy.production")
    with pytest.raises(InputError, match="deploy.staging deploys staging environments; prod has the production "
                                         "role: use deploy.production --env prod"):
        cfg.environment_of_role("prod", ("staging",), "deploy.staging")


def test_an_unknown_role_names_file_line_and_key(tmp_path):
    path = write(tmp_path, ROLES.replace("role: development", "role: prod"))
    with pytest.raises(ConfigError, match=r"platform.yaml:8: environments.staging.role: 'prod' is not one of"):
        load_config(path, environ={})
