"""Prerequisites and the Appendix's environment setup: `setup.tools`, `setup.cluster`, `setup.helm-repos`."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks._common import load, task


@task
def tools(c, config=None):
    """Check the runbook's tools and versions (Docker, kubectl, Helm, AWS CLI, Node, JDK, Maven); fail on
    a tool the configured tasks need, report the ones nothing configured needs as optional."""
    from retail_deploy.execute import Runner
    from retail_deploy.setup import prerequisites

    cfg = load(config)
    with Runner(c) as runner:
        findings = prerequisites.check(runner, prerequisites.requirements(cfg))
    print(prerequisites.render(findings))
    prerequisites.require(findings)


@task
def cluster(c, env=None, config=None):
    """Set up kubeconfig for an environment's cluster (aws eks update-kubeconfig), then verify access."""
    from retail_deploy.commands import kubectl
    from retail_deploy.execute import Runner
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.setup import platform as platform_setup

    cfg = load(config)
    environment = cfg.environment(env)
    access = platform_setup.cluster_access(environment)
    kube = kube_env(cfg, environment).kube
    with Runner(c) as runner:
        runner.run(access.kubeconfig_command(environment.kube_context))
        if runner.dry:
            runner.say("then verify access: kubectl cluster-info; kubectl get nodes")
            return
        for probe in (kubectl.cluster_info(kube), kubectl.get_nodes(kube)):
            runner.announce(probe)
            print(runner.probe(probe).stdout.rstrip())


@task
def helm_repos(c, config=None):
    """Add the configured Helm repositories (helm repo add ...) and update them."""
    from retail_deploy.commands import helm
    from retail_deploy.errors import InputError
    from retail_deploy.execute import Runner
    from retail_deploy.setup import platform as platform_setup

    cfg = load(config)
    repositories = platform_setup.helm_repositories(cfg)
    if not repositories:
        raise InputError("no helm_repositories: in the platform config")
    with Runner(c) as runner:
        for name, url in repositories.items():
            runner.run(helm.repo_add(name, url))
        runner.run(helm.repo_update())


ns = Collection("setup")
ns.add_task(tools)
ns.add_task(cluster)
ns.add_task(helm_repos)
