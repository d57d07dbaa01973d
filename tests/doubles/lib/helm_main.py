"""The helm double (Helm 3 output): upgrade --install, status, list, history, rollback.

A release's "workload" is the Deployment named like the release in the release's namespace: an
upgrade sets its image tag from the values (`image.tag`, `image.repository`), which starts a
rollout in the kubectl double's state.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import sys
from typing import Any

import kube_state as ks
from fake_common import Args, Exit, Result, go_duration, parse

VALUE_FLAGS = {
    "namespace": "namespace", "n": "namespace", "kube-context": "kube-context", "set": "set",
    "set-string": "set-string", "values": "values", "f": "values", "timeout": "timeout", "output": "output",
    "o": "output", "version": "version", "max": "max", "kubeconfig": "kubeconfig", "description": "description",
    "history-max": "history-max", "filter": "filter",
}
BOOL_FLAGS = {
    "install": "install", "i": "install", "atomic": "atomic", "rollback-on-failure": "atomic", "wait": "wait",
    "wait-for-jobs": "wait-for-jobs", "create-namespace": "create-namespace", "reuse-values": "reuse-values",
    "reset-values": "reset-values", "dry-run": "dry-run", "all": "all", "a": "all", "pending": "pending",
    "deployed": "deployed", "failed": "failed", "superseded": "superseded", "uninstalled": "uninstalled",
    "debug": "debug", "cleanup-on-fail": "cleanup-on-fail", "force": "force", "all-namespaces": "all-namespaces",
    "A": "all-namespaces", "short": "short", "q": "short", "no-hooks": "no-hooks",
}
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def go_time(ts: float) -> str:
    """`LAST DEPLOYED: Thu Nov 26 04:27:28 2026` (Go's ANSIC layout)."""
    d = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return d.strftime("%a %b ") + f"{d.day:>2}" + d.strftime(" %H:%M:%S %Y")


def _fraction(d: _dt.datetime) -> str:
    """Go's `.999999999` layout: fractional seconds without trailing zeros (none when zero)."""
    digits = f"{d.microsecond:06d}".rstrip("0")
    return "." + digits if digits else ""


def rfc3339(ts: float) -> str:
    """Helm's JSON times (Go RFC3339Nano)."""
    d = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(d) + "Z"


def go_string_time(ts: float) -> str:
    """`helm list -o json` "updated": Go's time.String()."""
    d = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    return d.strftime("%Y-%m-%d %H:%M:%S") + _fraction(d) + " +0000 UTC"


def unsupported(argv: list[str]) -> Exit:
    import shlex
    return Exit("error: fake helm does not support: " + shlex.join(argv))


def _typed(text: str) -> Any:
    """--set value typing (strvals): ints, bools and null become typed; everything else is a string."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        return text


def apply_set(values: dict[str, Any], expr: str, string: bool = False) -> None:
    for part in _split_commas(expr):
        k, eq, v = part.partition("=")
        if not eq:
            raise Exit(f'Error: failed parsing --set data: key "{k}" has no value')
        node = values
        keys = k.split(".")
        for sub in keys[:-1]:
            node = node.setdefault(sub, {})
            if not isinstance(node, dict):
                raise Exit(f"Error: failed parsing --set data: {k} is not a map")
        node[keys[-1]] = v if string else _typed(v)


def _split_commas(expr: str) -> list[str]:
    out, buf, i = [], "", 0
    while i < len(expr):
        if expr[i] == "\\" and i + 1 < len(expr):
            buf += expr[i + 1]
            i += 2
            continue
        if expr[i] == ",":
            out.append(buf)
            buf = ""
        else:
            buf += expr[i]
        i += 1
    out.append(buf)
    return [p for p in out if p]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def chart_meta(chart: str, version: str | None) -> tuple[str, str, str | None]:
    """(name, version, appVersion) from CHART/Chart.yaml when the chart is a local directory."""
    path = os.path.join(chart, "Chart.yaml")
    if os.path.isfile(path):
        import yaml
        with open(path) as handle:
            data = yaml.safe_load(handle) or {}
        return str(data.get("name", os.path.basename(chart.rstrip("/")))), str(data.get("version", "0.1.0")), \
            (str(data["appVersion"]) if data.get("appVersion") is not None else None)
    name = os.path.basename(chart.rstrip("/")) or chart
    return name.split("/")[-1], version or "0.1.0", None


class Helm:
    def __init__(self, state: dict[str, Any], argv: list[str], args: Args):
        self.state, self.argv, self.args = state, argv, args
        context = args.get("kube-context")
        if context is None:
            raise Exit("Error: fake helm requires --kube-context: pin the environment's context "
                       "(see tests/doubles/README.md)")
        if context not in state["contexts"]:
            raise Exit(f'Error: Kubernetes cluster unreachable: context "{context}" does not exist')
        self.context = context
        self.ns = args.get("namespace") or "default"
        if not ks.context_sees(state, context, self.ns):
            self.ns_visible = False
        else:
            self.ns_visible = self.ns in state["namespaces"]

    def revisions(self, name: str) -> list[dict[str, Any]]:
        if not ks.context_sees(self.state, self.context, self.ns):
            return []
        return self.state["helm"].get(ks.key(self.ns, name), [])

    # -------------------------------------------------------------- workload

    def _deployment(self, name: str) -> dict[str, Any] | None:
        return self.state["objects"]["deployments"].get(ks.key(self.ns, name))

    def _image_for(self, name: str, values: dict[str, Any]) -> str | None:
        dep = self._deployment(name)
        raw = values.get("image")
        image: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if dep is None:
            return None
        current = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        repo = image.get("repository") or current.rsplit(":", 1)[0]
        tag = image.get("tag")
        if tag is None:
            return str(current) if not image.get("repository") else f"{repo}:{current.rsplit(':', 1)[-1]}"
        return f"{repo}:{tag}"

    def _set_image(self, name: str, image: str | None) -> None:
        dep = self._deployment(name)
        if dep is None or image is None:
            return
        ct = dep["spec"]["template"]["spec"]["containers"][0]
        if ct["image"] != image:
            ct["image"] = image
            ks.bump_generation(self.state, dep)
            ks.reconcile_deployment(self.state, dep)

    def _workload_failure(self, name: str) -> dict[str, Any] | None:
        dep = self._deployment(name)
        if dep is None:
            return None
        image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        return ks.template_health(self.state, self.ns, name, image)

    # -------------------------------------------------------------- verbs

    def upgrade(self, install_only: bool = False) -> Result:
        pos = self.args.positional
        if len(pos) < 3:
            raise Exit(f'Error: "helm {pos[0]}" requires 2 arguments')
        name, chart = pos[1], pos[2]
        if not self.ns_visible:
            raise Exit(f'Error: create: failed to create: namespaces "{self.ns}" not found')
        revs = self.revisions(name)
        key = ks.key(self.ns, name)
        installing = not revs or all(r["status"] == "uninstalled" for r in revs)
        prefix = "INSTALL FAILED" if installing else "UPGRADE FAILED"
        if install_only and not installing:
            raise Exit("Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
        if revs and revs[-1]["status"] in PENDING:
            raise Exit(f"Error: {prefix}: another operation (install/upgrade/rollback) is in progress")
        if installing and not install_only and not self.args.bool("install"):
            raise Exit(f'Error: UPGRADE FAILED: "{name}" has no deployed releases')
        values: dict[str, Any] = {}
        if self.args.bool("reuse-values") and revs:
            values = copy.deepcopy(revs[-1]["values"])
        for path in self.args.all("values"):
            try:
                import yaml
                with open(path) as handle:
                    values = deep_merge(values, yaml.safe_load(handle) or {})
            except FileNotFoundError:
                raise Exit(f"Error: open {path}: no such file or directory") from None
        for expr in self.args.all("set"):
            apply_set(values, expr)
        for expr in self.args.all("set-string"):
            apply_set(values, expr, string=True)
        local = chart.startswith((".", "/")) or os.path.sep in chart and not chart.startswith("oci://")
        if local and self.state["settings"].get("helm_require_chart_path") and not os.path.isdir(chart):
            raise Exit(f'Error: path "{chart}" not found')
        cname, cversion, app_version = chart_meta(chart, self.args.get("version"))
        image = self._image_for(name, values)
        if app_version is None:
            app_version = ks.image_tag(image) if image else cversion
        timeout = go_duration(self.args.get("timeout") or "5m0s")
        now = ks.now()
        previous_image = self._image_for(name, {}) if self._deployment(name) else None
        revision = (revs[-1]["revision"] + 1) if revs else 1
        rec = {"revision": revision, "status": "deployed", "chart_name": cname, "chart_version": cversion,
               "app_version": app_version, "values": values, "updated": now,
               "description": "Install complete" if installing else "Upgrade complete", "image": image,
               "first_deployed": revs[0].get("first_deployed", revs[0]["updated"]) if revs else now}
        if self.args.bool("dry-run"):
            return Result(out=self._notes(name, rec, installing, dry=True))
        self._set_image(name, image)
        # What fails the release: an injected helm_fail, or (with --wait) a rollout that never completes.
        reason = None
        sleep = 0.0
        for fault in ks.matching_faults(self.state, "helm_fail", name):
            if fault.get("kw", {}).get("namespace") in (None, self.ns):
                ks.consume(self.state, fault)
                reason = fault.get("kw", {}).get("message", "context deadline exceeded")
                break
        waits = self.args.bool("wait") or self.args.bool("atomic")  # --atomic implies --wait
        if reason is None and waits and self._workload_failure(name) is not None:
            reason = "context deadline exceeded"
            sleep = min(timeout, float(self.state["settings"]["helm_wait_cap"]))
        dep = self._deployment(name)
        if reason is None and waits and dep is not None:
            remaining = ks.rollout_remaining(self.state, dep)  # pods still starting (rollout_seconds)
            sleep = min(remaining, timeout)
            if remaining > timeout:
                reason = "context deadline exceeded"
        store = self.state["helm"].setdefault(key, [])
        if reason is None:
            for old in store:
                if old["status"] == "deployed":
                    old["status"] = "superseded"
            store.append(rec)
            if install_only:
                out = ""
            elif installing:
                out = f'Release "{name}" does not exist. Installing it now.\n'
            else:
                out = f'Release "{name}" has been upgraded. Happy Helming!\n'
            return Result(out=out + self._notes(name, rec, installing), sleep=sleep)
        rec["status"] = "failed"
        rec["description"] = (f"Release \"{name}\" failed: {reason}" if installing
                              else f"Upgrade \"{name}\" failed: {reason}")
        store.append(rec)
        head = f'Release "{name}" does not exist. Installing it now.\n' if installing and not install_only else ""
        if not self.args.bool("atomic"):
            return Result(early_out=head, sleep=sleep, err=f"Error: {prefix}: {reason}", code=1)
        if installing:
            # atomic install: the release is uninstalled (its history removed); workload restored.
            del self.state["helm"][key]
            self._set_image(name, previous_image)
            msg = f"release {name} failed, and has been uninstalled due to atomic being set: {reason}"
            return Result(early_out=head, sleep=sleep, err=f"Error: {prefix}: {msg}", code=1)
        last_good = next((r for r in reversed(store[:-1]) if r["status"] in ("deployed", "superseded")), None)
        if last_good is not None:
            self._rollback_to(name, store, last_good)
        msg = f"release {name} failed, and has been rolled back due to atomic being set: {reason}"
        return Result(early_out=head, sleep=sleep, err=f"Error: {prefix}: {msg}", code=1)

    def _rollback_to(self, name: str, store: list[dict[str, Any]], target: dict[str, Any]) -> dict[str, Any]:
        for old in store:
            if old["status"] == "deployed":
                old["status"] = "superseded"
        rec = dict(copy.deepcopy(target), revision=store[-1]["revision"] + 1, status="deployed",
                   updated=ks.now(), description=f"Rollback to {target['revision']}")
        store.append(rec)
        self._set_image(name, target.get("image"))
        return rec

    def _notes(self, name: str, rec: dict[str, Any], installing: bool, dry: bool = False) -> str:
        return (f"NAME: {name}\nLAST DEPLOYED: {go_time(rec['updated'])}\nNAMESPACE: {self.ns}\n"
                f"STATUS: {'pending-install' if dry and installing else 'pending-upgrade' if dry else rec['status']}\n"
                f"REVISION: {rec['revision']}\nTEST SUITE: None\n")

    def _status_obj(self, name: str, rec: dict[str, Any], revs: list[dict[str, Any]]) -> dict[str, Any]:
        first = revs[0]
        return {
            "name": name,
            "info": {"first_deployed": rfc3339(first.get("first_deployed", first["updated"])),
                     "last_deployed": rfc3339(rec["updated"]), "deleted": "",
                     "description": rec["description"], "status": rec["status"], "notes": ""},
            "chart": {"metadata": {"name": rec["chart_name"], "version": rec["chart_version"],
                                   "appVersion": rec["app_version"], "apiVersion": "v2", "type": "application"},
                      "lock": None, "templates": [], "values": {}, "schema": None, "files": []},
            "config": rec["values"],
            "manifest": "",
            "version": rec["revision"],
            "namespace": self.ns,
        }

    def status(self) -> Result:
        name = self._name("status")
        revs = self.revisions(name)
        if not revs:
            raise Exit("Error: release: not found")
        rec = revs[-1]
        fmt = self.args.get("output") or "table"
        if fmt == "json":
            return Result(out=json.dumps(self._status_obj(name, rec, revs)) + "\n")
        if fmt == "yaml":
            import yaml
            return Result(out=yaml.safe_dump(self._status_obj(name, rec, revs)))
        return Result(out=self._notes(name, rec, False))

    def _name(self, verb: str) -> str:
        if len(self.args.positional) < 2:
            raise Exit(f'Error: "helm {verb}" requires 1 argument')
        return self.args.positional[1]

    def history(self) -> Result:
        name = self._name("history")
        revs = self.revisions(name)
        if not revs:
            raise Exit("Error: release: not found")
        limit = int(self.args.get("max") or 256)
        revs = revs[-limit:]
        rows = [{"revision": r["revision"], "updated": rfc3339(r["updated"]), "status": r["status"],
                 "chart": f"{r['chart_name']}-{r['chart_version']}", "app_version": r["app_version"],
                 "description": r["description"]} for r in revs]
        fmt = self.args.get("output") or "table"
        if fmt == "json":
            return Result(out=json.dumps(rows) + "\n")
        if fmt == "yaml":
            import yaml
            return Result(out=yaml.safe_dump(rows))
        table_rows = [["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]]
        table_rows += [[str(r["revision"]), go_time(r["updated"]), r["status"],
                        f"{r['chart_name']}-{r['chart_version']}", r["app_version"], r["description"]]
                       for r in revs]
        return Result(out=_helm_table(table_rows))

    def list(self) -> Result:
        args = self.args
        wanted: set[str] = set()
        if args.bool("all"):
            wanted = {"deployed", "failed", "superseded", "uninstalled", "uninstalling", *PENDING}
        else:
            for flag, states in (("deployed", ["deployed"]), ("failed", ["failed"]), ("pending", list(PENDING)),
                                 ("superseded", ["superseded"]), ("uninstalled", ["uninstalled"])):
                if args.bool(flag):
                    wanted.update(states)
            if not wanted:
                wanted = {"deployed", "failed"}  # Helm's default filter: pending releases are hidden
        rows = []
        for k in sorted(self.state["helm"]):
            ns, name = k.split("/", 1)
            if not args.bool("all-namespaces") and ns != self.ns:
                continue
            if not ks.context_sees(self.state, self.context, ns):
                continue
            rec = self.state["helm"][k][-1]
            if rec["status"] not in wanted:
                continue
            rows.append({"name": name, "namespace": ns, "revision": str(rec["revision"]),
                         "updated": go_string_time(rec["updated"]), "status": rec["status"],
                         "chart": f"{rec['chart_name']}-{rec['chart_version']}", "app_version": rec["app_version"]})
        fmt = args.get("output") or "table"
        if fmt == "json":
            return Result(out=json.dumps(rows) + "\n")
        if args.bool("short"):
            return Result(out="".join(r["name"] + "\n" for r in rows))
        table_rows = [["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"]]
        table_rows += [[r["name"], r["namespace"], r["revision"], r["updated"], r["status"], r["chart"],
                        r["app_version"]] for r in rows]
        return Result(out=_helm_table(table_rows))

    def get_values(self) -> Result:
        """`helm get values REL -o json`: the user-supplied values of the latest revision."""
        name = self.args.positional[2]
        revs = self.revisions(name)
        if not revs:
            raise Exit("Error: release: not found")
        values = revs[-1]["values"]
        fmt = self.args.get("output") or "table"
        if fmt == "json":
            return Result(out=json.dumps(values) + "\n")
        import yaml
        return Result(out="USER-SUPPLIED VALUES:\n" + (yaml.safe_dump(values) if values else "null\n"))

    def rollback(self) -> Result:
        name = self._name("rollback")
        revs = self.revisions(name)
        if not revs:
            raise Exit("Error: release: not found")
        if revs[-1]["status"] in PENDING:
            raise Exit("Error: another operation (install/upgrade/rollback) is in progress")
        pos = self.args.positional
        if len(pos) > 2:
            try:
                target_rev = int(pos[2])
            except ValueError:
                raise Exit(f'Error: invalid revision number: "{pos[2]}"') from None
        else:
            target_rev = revs[-1]["revision"] - 1
        if target_rev < 1:
            raise Exit("Error: no revision to roll back to")
        target = next((r for r in revs if r["revision"] == target_rev), None)
        if target is None:
            raise Exit(f"Error: release has no {target_rev} version")
        if self.args.bool("dry-run"):
            return Result(out="Rollback was a success! Happy Helming!\n")
        self._rollback_to(name, revs, target)
        return Result(out="Rollback was a success! Happy Helming!\n")


def _helm_table(rows: list[list[str]]) -> str:
    """Helm's uitable: columns separated by a tab after padding to the widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("\t".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + "\n" for row in rows)


def handle(state: dict[str, Any], argv: list[str], stdin: str | None) -> Result:
    args = parse(argv, VALUE_FLAGS, BOOL_FLAGS)
    if not args.positional:
        raise unsupported(argv)
    verb = args.positional[0]
    if verb == "version":
        return Result(out='version.BuildInfo{Version:"v3.14.4", GitCommit:"fake", GitTreeState:"clean", '
                          'GoVersion:"go1.21.9"}\n')
    helm = Helm(state, argv, args)
    if verb == "upgrade":
        return helm.upgrade()
    if verb == "install":
        return helm.upgrade(install_only=True)
    if verb == "status":
        return helm.status()
    if verb in ("list", "ls"):
        return helm.list()
    if verb in ("history", "hist"):
        return helm.history()
    if verb == "rollback":
        return helm.rollback()
    if verb == "get" and len(args.positional) > 2 and args.positional[1] == "values":
        return helm.get_values()
    raise unsupported(argv)


def main() -> int:
    from fake_common import run
    return run("helm", sys.argv[1:], handle)


