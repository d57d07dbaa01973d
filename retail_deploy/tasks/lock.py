"""The per-environment deploy lock: `lock.status`, `lock.release`."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks._common import confirm, load, print_json, task
from retail_deploy.tasks._kube import kubernetes_env, runner


@task(read_only=True)
def status(c, env=None, config=None, json=False):
    """Who holds the environment's deploy lock, for which version, until when."""
    from retail_deploy import history
    from retail_deploy.kube_settings import kube_env

    cfg = load(config)
    environment = kubernetes_env(cfg, env, "lock.status")
    with runner(c) as run:
        lock = history.read_lock(run, kube_env(cfg, environment).kube)
        if json:
            from retail_deploy.api import lock_result

            print_json(lock_result(environment.name, lock))
            return
        if lock is None:
            print(f"{environment.name}: not locked")
            return
        state = "EXPIRED" if lock.expired(history.utcnow()) else "held"
        print(f"{environment.name}: {state} by {lock.describe()}")


@task(plans_reads=True)
def release(c, env=None, yes=False, config=None):
    """Remove the deploy lock (after a deploy died without releasing it)."""
    from retail_deploy import history
    from retail_deploy.kube_settings import kube_env

    cfg = load(config)
    environment = kubernetes_env(cfg, env, "lock.release")
    with runner(c) as run:
        kube = kube_env(cfg, environment).kube
        lock = history.read_lock(run, kube)
        if lock is None:
            print(f"{environment.name}: not locked")
            return
        if not run.dry and not lock.expired(history.utcnow()):
            confirm(f"Release the lock held by {lock.describe()}? Only do this if that deploy is dead.", yes=yes)
        history.force_release(run, kube)
        if not run.dry:
            print(f"{environment.name}: released the lock of {lock.describe()}")


ns = Collection("lock")
ns.add_task(status)
ns.add_task(release)
