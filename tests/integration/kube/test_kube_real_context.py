"""A kube context (or kubeconfig) that does not exist, on the REAL control plane's kubeconfig and the
real kubectl: bad configuration, exit 2, one line naming it, before any write (no lock ConfigMap),
asked of the kubeconfig alone."""

from __future__ import annotations

import pytest

from retail_deploy.targets import history
from tests.integration.kube_support import inv

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def platform(real_platform):
    return real_platform


def test_a_context_not_in_the_kubeconfig_is_exit_2_naming_it_before_any_write(platform):
    platform.config.write_text(platform.config.read_text().replace("kube_context: retail-staging",
                                                                   "kube_context: retail-stagign"))
    for args in (("deploy.staging", "--version", "1.1.0"), ("rollback.undo", "--env", "staging"),
                 ("verify.staging",)):
        result = inv(platform, *args)
        assert result.returncode == 2, (args, result.stdout + result.stderr)
        assert result.stderr.strip() == (
            f"error: environment staging: kube context 'retail-stagign' is not in the kubeconfig "
            f"{platform.env['KUBECONFIG']}: check kube_context, or KUBECONFIG"), args
    assert platform.cluster.configmap("staging", history.LOCK_NAME) is None
    assert platform.cluster.configmap("staging", history.HISTORY_NAME) is None
    # A plan can be rehearsed at a desk without the cluster's kubeconfig: it says what it assumed.
    planned = inv(platform, "--dry", "deploy.staging", "--version", "1.1.0")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert ("# assuming kube context retail-stagign exists: kube context 'retail-stagign' is not in the "
            f"kubeconfig {platform.env['KUBECONFIG']}: check kube_context, or KUBECONFIG (a real run stops here, "
            "exit 2)") in planned.stdout


def test_a_kubeconfig_that_does_not_exist_is_exit_2_naming_it(platform, tmp_path):
    missing = tmp_path / "no-such-kubeconfig"
    platform.env = dict(platform.env, KUBECONFIG=str(missing))
    result = inv(platform, "deploy.staging", "--version", "1.1.0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"error: environment staging: kubeconfig {missing} does not exist (kube context 'retail-staging'): "
        "set KUBECONFIG, or run setup.cluster --env staging")
