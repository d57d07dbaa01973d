"""The per-environment deploy lock: `lock.status`, `lock.release`, on every target (Kubernetes:
a ConfigMap in the namespace; Docker engine: a never-started container on the engine)."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks._common import confirm, load, print_json, task
from retail_deploy.tasks._kube import runner


@task(read_only=True)
def status(c, env=None, config=None, json=False):
    """Who holds the environment's deploy lock, for which version, until when."""
    from retail_deploy.targets import history, target_for

    cfg = load(config)
    environment = cfg.environment(env)
    with runner(c) as run:
        lock = target_for(run, cfg, environment).read_lock()
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
    from retail_deploy.errors import RetailDeployError
    from retail_deploy.targets import history, target_for

    cfg = load(config)
    environment = cfg.environment(env)
    with runner(c) as run:
        target = target_for(run, cfg, environment)
        try:
            lock = target.read_lock()
        except RetailDeployError:
            if not run.dry:
                raise
            target.force_release()  # a plan rehearsed offline: the target says what it assumed
            return
        if lock is None:
            print(f"{environment.name}: not locked")
            return
        if not run.dry and not lock.expired(history.utcnow()):
            confirm(f"Release the lock held by {lock.describe()}? Only do this if that deploy is dead.", yes=yes)
        target.force_release()
        if not run.dry:
            print(f"{environment.name}: released the lock of {lock.describe()}")


ns = Collection("lock")
ns.add_task(status)
ns.add_task(release)
