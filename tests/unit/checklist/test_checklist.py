"""The pre-deployment checklist: each automated check passing and failing, acks, the gate."""

import datetime as dt
import io
import subprocess

import pytest
from invoke import Config, Context

from retail_deploy.checklist import items as checklist
from retail_deploy.checklist.gate import commit_on_branch, gate
from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.errors import InputError
from retail_deploy.execute import Runner

GOOD_ENV = {"MONGODB_URI": "mongodb://db/retail", "REDIS_URL": "redis://cache", "ELASTICSEARCH_URL": "https://es",
            "POSTGRES_URL": "jdbc:postgresql://pg/db", "JWT_SECRET": "j" * 40, "JWT_EXPIRATION": "86400000",
            "PAYPAL_CLIENT_ID": "id", "PAYPAL_CLIENT_SECRET": "secret", "SMTP_HOST": "smtp", "SMTP_PORT": "587",
            "SMTP_USERNAME": "user", "SMTP_PASSWORD": "pw", "ENABLE_RATE_LIMITING": "true",
            "ENABLE_CSRF_PROTECTION": "true"}
MANUAL_EVERY = ["ci-tests", "owasp-scan", "oncall-notified", "deployment-window", "monitoring-ready"]
MANUAL_PRODUCTION = ["load-test", "support-notified", "status-page"]


@pytest.fixture
def cfg():
    return load_config(DEFAULT_CONFIG, environ={})


def facts(**overrides):
    values = dict(
        commit_on_branch=lambda: (True, "commit abc on main"),
        pending_migrations=lambda: [],
        prometheus_ready=None,
        images_exist=lambda: (True, "3 images"),
        staging_verified=lambda: (True, "verified on staging"),
        rollback_plan=lambda: ["kubectl patch service retail-backend ..."],
        environ=dict(GOOD_ENV),
    )
    values.update(overrides)
    return checklist.Facts(**values)


def states(report):
    return {o.item.key: o.state for o in report.outcomes}


def test_everything_checked_and_acknowledged_passes(cfg):
    report = checklist.evaluate(cfg, cfg.environment("production"), "1.4.2", facts(),
                                acks=MANUAL_EVERY + MANUAL_PRODUCTION)
    assert report.ok, checklist.render(report)
    assert len(report.outcomes) == len(checklist.RUNBOOK_ITEMS)


def test_staging_has_no_production_items(cfg):
    report = checklist.evaluate(cfg, cfg.environment("staging"), "1.4.2", facts(), acks=MANUAL_EVERY)
    assert "staging-verified" not in states(report) and report.ok


def test_missing_acknowledgements_are_listed(cfg):
    report = checklist.evaluate(cfg, cfg.environment("production"), "1.4.2", facts(), acks=["ci-tests"])
    assert not report.ok and not report.failed
    assert [o.item.key for o in report.unconfirmed] == [
        "owasp-scan", "monitoring-ready", "oncall-notified", "deployment-window", "load-test", "support-notified",
        "status-page"]
    assert "--ack owasp-scan" in checklist.blocking_summary(report)


@pytest.mark.parametrize("fact,key,detail", [
    ({"commit_on_branch": lambda: (False, "commit abc of 1.4.2 is not on main: merge it first")}, "code-review",
     "not on main"),
    ({"images_exist": lambda: (False, "not in registry.example.com: retail-backend:1.4.2")}, "images-exist",
     "retail-backend:1.4.2"),
    ({"staging_verified": lambda: (False, "1.4.2 was never verified on staging")}, "staging-verified", "never"),
    ({"prometheus_ready": lambda: (False, "Prometheus at http://p is unreachable")}, "monitoring-ready",
     "unreachable"),
    ({"rollback_plan": lambda: []}, "rollback-plan", "no rollback plan"),
    ({"environ": {**GOOD_ENV, "JWT_SECRET": "short"}}, "runtime-env", "JWT_SECRET is too short"),
    ({"environ": {**GOOD_ENV, "ENABLE_RATE_LIMITING": "maybe"}}, "feature-flags", "ENABLE_RATE_LIMITING"),
])
def test_each_automated_check_can_fail(cfg, fact, key, detail):
    report = checklist.evaluate(cfg, cfg.environment("production"), "1.4.2", facts(**fact),
                                acks=MANUAL_EVERY + MANUAL_PRODUCTION)
    outcome = next(o for o in report.outcomes if o.item.key == key)
    assert outcome.state == checklist.FAILED and detail in outcome.detail
    assert not report.ok


def test_a_check_that_raises_is_a_failed_item_not_a_crash(cfg):
    def broken():
        raise ConnectionError("registry.example.com: connection refused")

    report = checklist.evaluate(cfg, cfg.environment("staging"), "1.4.2", facts(images_exist=broken))
    outcome = next(o for o in report.outcomes if o.item.key == "images-exist")
    assert outcome.state == checklist.FAILED and "could not check: registry.example.com" in outcome.detail


def test_pending_migrations_need_review(cfg):
    pending = ["2025-01-15-add-user-preferences.py"]
    report = checklist.evaluate(cfg, cfg.environment("staging"), "1.4.2", facts(pending_migrations=lambda: pending))
    outcome = next(o for o in report.outcomes if o.item.key == "migrations-reviewed")
    assert outcome.state == checklist.CONFIRM and outcome.extra == tuple(pending)
    acked = checklist.evaluate(cfg, cfg.environment("staging"), "1.4.2", facts(pending_migrations=lambda: pending),
                               acks=["migrations-reviewed"])
    assert states(acked)["migrations-reviewed"] == checklist.ACKNOWLEDGED


def test_unknown_ack_is_input_error(cfg):
    with pytest.raises(InputError, match="unknown checklist item code-reveiw"):
        checklist.evaluate(cfg, cfg.environment("staging"), "1", facts(), acks=["code-reveiw"])


def test_interactive_confirmation(cfg):
    asked = []
    report = checklist.evaluate(cfg, cfg.environment("staging"), "1", facts(),
                                ask=lambda item: asked.append(item.key) or item.key != "owasp-scan")
    assert asked == MANUAL_EVERY[:2] + ["monitoring-ready", "oncall-notified", "deployment-window"]
    assert [o.item.key for o in report.unconfirmed] == ["owasp-scan"]


def test_notified_teams_count_as_done(cfg):
    report = checklist.evaluate(cfg, cfg.environment("production"), "1", facts(),
                                notified=["oncall-notified", "support-notified"])
    assert states(report)["oncall-notified"] == states(report)["support-notified"] == checklist.PASSED


def window(text):
    from retail_deploy.yamlnode import Node

    return checklist.parse_window(Node(text, "f.yaml", "checklist.deployment_window", 1))


@pytest.mark.parametrize("moment,inside", [
    (dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC), True),     # Tuesday 03:00
    (dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC), False),   # Tuesday noon
    (dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC), False),    # Saturday
])
def test_deployment_window(moment, inside):
    w = window({"days": ["mon", "tue", "wed", "thu"], "start": "02:00", "end": "05:00", "timezone": "UTC"})
    assert w.contains(moment) is inside


def test_window_across_midnight_belongs_to_the_day_it_started():
    w = window({"days": ["fri"], "start": "22:00", "end": "02:00"})
    assert w.contains(dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC))      # Friday 23:00
    assert w.contains(dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC))       # Saturday 01:00
    assert not w.contains(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC))   # Friday 01:00 (Thursday's night)


def test_window_in_config_is_checked(tmp_path, cfg):
    text = DEFAULT_CONFIG.read_text() + (
        "checklist:\n  deployment_window: {days: [tue], start: '02:00', end: '05:00', timezone: Europe/Berlin}\n")
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    custom = load_config(path, environ={})
    tuesday_3am_berlin = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
    report = checklist.evaluate(custom, custom.environment("staging"), "1", facts(now=lambda: tuesday_3am_berlin))
    assert states(report)["deployment-window"] == checklist.PASSED
    late = checklist.evaluate(custom, custom.environment("staging"), "1",
                              facts(now=lambda: tuesday_3am_berlin + dt.timedelta(hours=5)))
    assert states(late)["deployment-window"] == checklist.FAILED


def test_bad_window_is_a_config_error_with_line(tmp_path):
    path = tmp_path / "platform.yaml"
    path.write_text(DEFAULT_CONFIG.read_text() + "checklist:\n  deployment_window: {start: '2am', end: '05:00'}\n")
    cfg = load_config(path, environ={})
    from retail_deploy.errors import ConfigError

    with pytest.raises(ConfigError, match=r"checklist.deployment_window.start: expected a time like 02:00"):
        checklist.evaluate(cfg, cfg.environment("staging"), "1", facts())  # evaluated, refused with its place


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


@pytest.fixture
def platform_repo(tmp_path):
    repo = tmp_path / "platform"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "release 1.4.2")
    git(repo, "tag", "v1.4.2")
    git(repo, "checkout", "-q", "-b", "develop")
    git(repo, "commit", "-q", "--allow-empty", "-m", "work for 1.5.0")
    git(repo, "tag", "v1.5.0")
    git(repo, "checkout", "-q", "main")
    return repo


def config_for_repo(tmp_path, repo):
    path = tmp_path / "platform.yaml"
    path.write_text(DEFAULT_CONFIG.read_text() + f"checklist:\n  repository: {repo}\n")
    return load_config(path, environ={})


def test_commit_on_branch_with_a_real_git_repository(tmp_path, platform_repo):
    cfg = config_for_repo(tmp_path, platform_repo)
    runner = Runner(Context(Config(overrides={"run": {"dry": True}})), out=io.StringIO())
    ok, detail = commit_on_branch(runner, cfg, cfg.environment("production"), "1.4.2")
    assert ok and detail.endswith("is on main")
    ok, detail = commit_on_branch(runner, cfg, cfg.environment("production"), "1.5.0")
    assert not ok and "of 1.5.0 is not on main: merge it first" in detail
    ok, detail = commit_on_branch(runner, cfg, cfg.environment("staging"), "1.5.0")
    assert ok and detail.endswith("is on develop")
    ok, detail = commit_on_branch(runner, cfg, cfg.environment("production"), "9.9.9")
    assert not ok and detail.startswith("no tag v9.9.9 or 9.9.9")


def test_gate_refuses_with_exit_2_and_force_lets_it_through(cfg):
    out = io.StringIO()
    runner = Runner(Context(Config()), out=out)
    never = facts(staging_verified=lambda: (False, "1.4.2 was never verified on staging"))
    with pytest.raises(InputError) as caught:
        gate(runner, cfg, cfg.environment("production"), "1.4.2", facts=never,
             acks=tuple(MANUAL_EVERY + MANUAL_PRODUCTION))
    assert caught.value.exit_code == 2
    assert str(caught.value) == ("pre-deployment checklist for 1.4.2 to production not satisfied: "
                                 "failed: staging-verified")
    assert "[FAILED ] staging-verified" in out.getvalue()
    report = gate(runner, cfg, cfg.environment("production"), "1.4.2", facts=never,
                  acks=tuple(MANUAL_EVERY + MANUAL_PRODUCTION), force="hotfix for incident 42")
    assert report.failed and "going on because of --force: hotfix for incident 42" in out.getvalue()


def test_gate_masks_credentials_the_facts_quote(cfg):
    # prometheus_url (or a registry URL in an error) may carry user:password; the checklist printed it as is.
    out = io.StringIO()
    runner = Runner(Context(Config()), out=out)
    leaky = facts(prometheus_ready=lambda: (False, "Prometheus at https://admin:pr0m-pass@prom.test is unreachable"))
    with pytest.raises(InputError):
        gate(runner, cfg, cfg.environment("staging"), "1.4.2", facts=leaky, acks=tuple(MANUAL_EVERY))
    assert "Prometheus at https://admin:***@prom.test is unreachable" in out.getvalue()
    assert "pr0m-pass" not in out.getvalue()
