"""The kubectl double: the subset of kubectl the deploy tooling runs, against the JSON state file."""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
import shlex
import sys
from typing import Any

import jsonpath
import kube_state as ks
from fake_common import Args, Exit, Result, dump_json, go_duration, human_age, parse, table

VALUE_FLAGS = {
    "context": "context", "namespace": "namespace", "n": "namespace", "request-timeout": "request-timeout",
    "output": "output", "o": "output", "selector": "selector", "l": "selector", "kubeconfig": "kubeconfig",
    "timeout": "timeout", "to-revision": "to-revision", "revision": "revision", "replicas": "replicas",
    "current-replicas": "current-replicas", "patch": "patch", "type": "type", "filename": "filename",
    "tail": "tail", "from-literal": "from-literal", "field-selector": "field-selector", "sort-by": "sort-by",
    "container": "container", "c": "container", "since": "since", "dry-run": "dry-run", "cluster": "cluster",
    "user": "user", "field-manager": "field-manager", "v": "v", "pod-running-timeout": "pod-running-timeout",
    "max-log-requests": "max-log-requests", "grace-period": "grace-period", "for": "for",
}
BOOL_FLAGS = {
    "watch": "watch", "w": "watch", "stdin": "stdin", "i": "stdin", "tty": "tty", "t": "tty",
    "all-namespaces": "all-namespaces", "A": "all-namespaces", "ignore-not-found": "ignore-not-found",
    "no-headers": "no-headers", "show-labels": "show-labels", "record": "record", "overwrite": "overwrite",
    "all-containers": "all-containers", "prefix": "prefix", "wait": "wait", "force": "force", "quiet": "quiet",
    "q": "quiet", "previous": "previous", "follow": "follow", "client": "client", "containers": "containers",
    "server-side": "server-side", "timestamps": "timestamps",
}

# canonical resource -> (aliases, "resource.group" used in messages, kind, apiVersion, namespaced)
RESOURCES: dict[str, tuple[tuple[str, ...], str, str, str, bool]] = {
    "deployments": (("deployment", "deploy", "deployments.apps", "deployment.apps"), "deployments.apps",
                    "Deployment", "apps/v1", True),
    "replicasets": (("replicaset", "rs", "replicasets.apps", "replicaset.apps"), "replicasets.apps",
                    "ReplicaSet", "apps/v1", True),
    "pods": (("pod", "po"), "pods", "Pod", "v1", True),
    "services": (("service", "svc"), "services", "Service", "v1", True),
    "configmaps": (("configmap", "cm"), "configmaps", "ConfigMap", "v1", True),
    "certificates": (("certificate", "cert", "certs", "certificates.cert-manager.io",
                      "certificate.cert-manager.io"), "certificates.cert-manager.io", "Certificate",
                     "cert-manager.io/v1", True),
    "events": (("event", "ev"), "events", "Event", "v1", True),
    "namespaces": (("namespace", "ns"), "namespaces", "Namespace", "v1", False),
    "nodes": (("node", "no"), "nodes", "Node", "v1", False),
}


def resource_type(word: str) -> str:
    low = word.lower()
    for canonical, (aliases, *_rest) in RESOURCES.items():
        if low == canonical or low in aliases:
            return canonical
    raise Exit(f'error: the server doesn\'t have a resource type "{word}"')


def ref_name(resource: str, name: str) -> str:
    """`deployment.apps/x`, `service/x`: the name printer's format."""
    group_res = RESOURCES[resource][1]
    kind = RESOURCES[resource][2].lower()
    group = group_res.split(".", 1)[1] if "." in group_res else ""
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"


def not_found(resource: str, name: str) -> Exit:
    return Exit(f'Error from server (NotFound): {RESOURCES[resource][1]} "{name}" not found')


def unsupported(argv: list[str]) -> Exit:
    return Exit("error: fake kubectl does not support: " + shlex.join(argv))


class Ctx:
    """One invocation: parsed flags, the state, the context and namespace in force."""

    def __init__(self, state: dict[str, Any], argv: list[str], args: Args, stdin: str | None):
        self.state, self.argv, self.args, self.stdin = state, argv, args, stdin
        context = args.get("context")
        if context is None:
            raise Exit("error: fake kubectl requires --context: pin the environment's context "
                       "(see tests/doubles/README.md)")
        if context not in state["contexts"]:
            raise Exit(f'error: context "{context}" does not exist')
        self.context = context
        self.ns = args.get("namespace") or "default"
        timeout = args.get("request-timeout")
        if timeout is not None:
            try:
                go_duration(timeout)
            except ValueError:
                raise Exit("error: invalid argument \"" + timeout + "\" for \"--request-timeout\" flag: "
                           "time: invalid duration \"" + timeout + "\"") from None

    def visible(self, ns: str) -> bool:
        return ns in self.state["namespaces"] and ks.context_sees(self.state, self.context, ns)

    def objects(self, resource: str, ns: str | None = None) -> list[dict[str, Any]]:
        if resource == "events":
            items = self.state["events"]
        elif resource == "namespaces":
            return [self.namespace_obj(n) for n in sorted(self.state["namespaces"]) if self.visible(n)]
        elif resource == "nodes":
            return [self.node_obj()]
        else:
            items = list(self.state["objects"][resource].values())
        out = []
        for obj in items:
            obj_ns = obj["metadata"].get("namespace")
            if not self.visible(obj_ns):
                continue
            if ns is not None and obj_ns != ns:
                continue
            out.append(obj)
        return sorted(out, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def find(self, resource: str, name: str, ns: str | None = None) -> dict[str, Any]:
        ns = ns or self.ns
        if resource in ("namespaces", "nodes"):
            for obj in self.objects(resource):
                if obj["metadata"]["name"] == name:
                    return obj
            raise not_found(resource, name)
        if resource == "events":
            for obj in self.objects(resource, ns):
                if obj["metadata"]["name"] == name:
                    return obj
            raise not_found(resource, name)
        obj = self.state["objects"][resource].get(ks.key(ns, name))
        if obj is None or not self.visible(ns):
            raise not_found(resource, name)
        return obj

    def namespace_obj(self, name: str) -> dict[str, Any]:
        created = self.state["namespaces"][name].get("created", ks.now())
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "creationTimestamp": ks.iso(created),
                             "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    def node_obj(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "fake-node-1", "creationTimestamp": ks.iso(ks.now() - 86400 * 30),
                             "labels": {"kubernetes.io/hostname": "fake-node-1"}},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                           "nodeInfo": {"kubeletVersion": "v1.28.3"},
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}


# ---------------------------------------------------------------- selectors

def parse_selector(text: str | None) -> list[tuple[str, str, str | None]]:
    if not text:
        return []
    reqs: list[tuple[str, str, str | None]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(!?)([A-Za-z0-9_./-]+)\s*(==|!=|=)?\s*(.*)$", part)
        if not m:
            raise Exit(f"error: unable to parse requirement: {part}")
        neg, k, op, v = m.groups()
        if neg:
            reqs.append((k, "!exists", None))
        elif op is None:
            reqs.append((k, "exists", None))
        else:
            reqs.append((k, "!=" if op == "!=" else "=", v))
    return reqs


def selected(obj: dict[str, Any], reqs: list[tuple[str, str, str | None]]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for k, op, v in reqs:
        if op == "exists" and k not in labels:
            return False
        if op == "!exists" and k in labels:
            return False
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and labels.get(k) == v:
            return False
    return True


def field_selected(obj: dict[str, Any], text: str | None) -> bool:
    if not text:
        return True
    for part in text.split(","):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", part.strip())
        if not m:
            raise Exit(f"error: invalid field selector: {part}")
        path, op, value = m.groups()
        node: Any = obj
        for seg in path.split("."):
            node = node.get(seg) if isinstance(node, dict) else None
        if (str(node) == value) != (op != "!="):
            return False
    return True


# ---------------------------------------------------------------- resource/name arguments

def targets(words: list[str]) -> list[tuple[str, str | None]]:
    """`deployment/x`, `deployment x y`, `deployments` -> [(resource, name|None)]."""
    if not words:
        raise Exit("error: You must specify the type of resource to get.")
    if "/" in words[0]:
        out: list[tuple[str, str | None]] = []
        for word in words:
            if "/" not in word:
                raise Exit("error: there is no need to specify a resource type as a separate argument "
                           "when passing arguments in resource/name form")
            kind, _, name = word.partition("/")
            out.append((resource_type(kind), name))
        return out
    kinds = [resource_type(k) for k in words[0].split(",")]
    if len(words) == 1:
        return [(k, None) for k in kinds]
    return [(kinds[0], name) for name in words[1:]]


def one_target(words: list[str], verb: str) -> tuple[str, str]:
    pairs = targets(words)
    if len(pairs) != 1 or pairs[0][1] is None:
        raise Exit(f"error: {verb} requires exactly one resource and name, e.g. deployment/NAME")
    res, name = pairs[0]
    assert name is not None
    return res, name


# ---------------------------------------------------------------- tables

def _age(obj: dict[str, Any]) -> str:
    ts = obj["metadata"].get("creationTimestamp")
    return human_age(ks.now() - ks.parse_iso(ts)) if ts else "<unknown>"


def _sel_text(sel: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (sel or {}).items()) or "<none>"


def pod_status_text(pod: dict[str, Any]) -> str:
    reason = pod["status"].get("phase", "Unknown")
    for st in pod["status"].get("containerStatuses", []):
        waiting = st.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        terminated = st.get("state", {}).get("terminated")
        if terminated and terminated.get("reason"):
            reason = terminated["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def pod_restarts(pod: dict[str, Any]) -> str:
    sts = pod["status"].get("containerStatuses", [])
    count = sum(s.get("restartCount", 0) for s in sts)
    for s in sts:
        fin = s.get("lastState", {}).get("terminated", {}).get("finishedAt")
        if fin and count:
            return f"{count} ({human_age(ks.now() - ks.parse_iso(fin))} ago)"
    return str(count)


def row_for(resource: str, obj: dict[str, Any], wide: bool) -> tuple[list[str], list[str]]:
    md, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    name = md["name"]
    if resource == "pods":
        sts = status.get("containerStatuses", [])
        ready = f"{sum(1 for s in sts if s.get('ready'))}/{len(spec.get('containers', []))}"
        head = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        row = [name, ready, pod_status_text(obj), pod_restarts(obj), _age(obj)]
        if wide:
            head += ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
            row += [status.get("podIP", "<none>"), spec.get("nodeName", "<none>"), "<none>", "<none>"]
        return head, row
    if resource in ("deployments", "replicasets"):
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        if resource == "deployments":
            head = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
            row = [name, f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
                   str(status.get("updatedReplicas", 0)), str(status.get("availableReplicas", 0)), _age(obj)]
        else:
            head = ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
            row = [name, str(spec.get("replicas", 0)), str(status.get("replicas", 0)),
                   str(status.get("readyReplicas", 0)), _age(obj)]
        if wide:
            head += ["CONTAINERS", "IMAGES", "SELECTOR"]
            row += [",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers),
                    _sel_text(spec.get("selector", {}).get("matchLabels"))]
        return head, row
    if resource == "services":
        ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])) or "<none>"
        head = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        row = [name, spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), "<none>", ports, _age(obj)]
        if wide:
            head.append("SELECTOR")
            row.append(_sel_text(spec.get("selector")))
        return head, row
    if resource == "configmaps":
        return ["NAME", "DATA", "AGE"], [name, str(len(obj.get("data", {})) + len(obj.get("binaryData", {}))),
                                         _age(obj)]
    if resource == "certificates":
        conds = {c["type"]: c for c in status.get("conditions", [])}
        ready = conds.get("Ready", {}).get("status", "")
        return ["NAME", "READY", "SECRET", "AGE"], [name, ready, spec.get("secretName", ""), _age(obj)]
    if resource == "events":
        inv = obj["involvedObject"]
        last = obj.get("lastTimestamp") or md.get("creationTimestamp")
        seen = human_age(ks.now() - ks.parse_iso(last)) if last else "<unknown>"
        return (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
                [seen, obj.get("type", ""), obj.get("reason", ""), f"{inv['kind'].lower()}/{inv['name']}",
                 obj.get("message", "")])
    if resource == "namespaces":
        return ["NAME", "STATUS", "AGE"], [name, "Active", _age(obj)]
    if resource == "nodes":
        return (["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
                [name, "Ready", "control-plane", _age(obj), "v1.28.3"])
    raise Exit(f"error: no table printer for {resource}")


def render_table(resource: str, objs: list[dict[str, Any]], args: Args, all_ns: bool) -> str:
    wide = args.get("output") == "wide"
    rows: list[list[str]] = []
    head: list[str] = []
    for obj in objs:
        head, row = row_for(resource, obj, wide)
        if args.bool("show-labels"):
            head = head + ["LABELS"]
            row = row + [_sel_text(obj["metadata"].get("labels"))]
        if all_ns:
            head = ["NAMESPACE"] + head
            row = [obj["metadata"].get("namespace", "")] + row
        rows.append(row)
    if not args.bool("no-headers"):
        rows.insert(0, head)
    return table(rows)


def list_obj(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def output(objs: list[dict[str, Any]], single: bool, resource: str, args: Args, all_ns: bool,
           ns: str) -> Result:
    fmt = args.get("output")
    objs = [_decorated(resource, o) for o in objs]
    if fmt in ("json", "yaml") or (fmt and fmt.startswith(("jsonpath", "go-template"))):
        data: Any = objs[0] if single and len(objs) == 1 else list_obj(objs)
        if fmt == "json":
            return Result(out=dump_json(data))
        if fmt == "yaml":
            import yaml
            return Result(out=yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
        if fmt.startswith("jsonpath"):
            _, _, template = fmt.partition("=")
            if not template:
                raise Exit("error: template format specified but no template given")
            try:
                return Result(out=jsonpath.render(template, data))
            except jsonpath.JSONPathError as exc:
                raise Exit(f"error: error parsing jsonpath {template}, {exc}") from None
        raise Exit("error: fake kubectl does not support: -o " + fmt)
    if fmt == "name":
        return Result(out="".join(ref_name(resource, o["metadata"]["name"]) + "\n" for o in objs))
    if fmt not in (None, "wide"):
        raise Exit("error: fake kubectl does not support: -o " + fmt)
    if not objs:
        where = "" if all_ns or not RESOURCES[resource][4] else f" in {ns} namespace"
        return Result(err=f"No resources found{where}.")
    return Result(out=render_table(resource, objs, args, all_ns))


def _decorated(resource: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Objects as the API returns them: apiVersion/kind always present."""
    out = copy.deepcopy(obj)
    out.setdefault("apiVersion", RESOURCES[resource][3])
    out.setdefault("kind", RESOURCES[resource][2])
    return out


# ---------------------------------------------------------------- verbs

def cmd_get(c: Ctx) -> Result:
    args = c.args
    words = args.positional[1:]
    all_ns = args.bool("all-namespaces")
    pairs = targets(words)
    reqs = parse_selector(args.get("selector"))
    objs: list[dict[str, Any]] = []
    single = len(pairs) == 1 and pairs[0][1] is not None
    errors = []
    resource = pairs[0][0]
    for res, name in pairs:
        resource = res
        if name is not None:
            try:
                objs.append(c.find(res, name))
            except Exit as exc:
                if not args.bool("ignore-not-found"):
                    errors.append(exc.message)
            continue
        found = c.objects(res, None if all_ns else c.ns)
        objs.extend(o for o in found if selected(o, reqs) and field_selected(o, args.get("field-selector")))
    if resource == "events":
        objs.sort(key=lambda o: o.get("lastTimestamp") or "")
    sort_by = args.get("sort-by")
    if sort_by:
        template = sort_by if sort_by.startswith("{") else "{" + sort_by + "}"
        objs.sort(key=lambda o: _sort_key(jsonpath.render(template, o)))
    if errors and not objs:
        raise Exit("\n".join(errors))
    if single and not objs:
        return Result()
    result = output(objs, single, resource, args, all_ns, c.ns)
    if errors:
        result.err = (result.err + "\n" if result.err else "") + "\n".join(errors)
        result.code = 1
    return result


def _sort_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def cmd_set(c: Ctx) -> Result:
    pos = c.args.positional
    if len(pos) < 2 or pos[1] != "image":
        raise unsupported(c.argv)
    words = [w for w in pos[2:] if "=" not in w]
    pairs = [w for w in pos[2:] if "=" in w]
    if not pairs:
        raise Exit("error: at least one image update is required")
    res, name = one_target(words, "set image")
    if res != "deployments":
        raise unsupported(c.argv)
    dep = c.find(res, name)
    containers = dep["spec"]["template"]["spec"]["containers"]
    changed = False
    for pair in pairs:
        cname, _, image = pair.partition("=")
        matches = [ct for ct in containers if cname in ("*", ct["name"])]
        if not matches:
            raise Exit(f'error: unable to find container named "{cname}"')
        for ct in matches:
            if ct.get("image") != image:
                ct["image"] = image
                changed = True
    if not changed:
        return Result()  # kubectl sends no patch, prints nothing and starts no rollout
    if _dry(c):
        return Result(out=f"{ref_name(res, name)} image updated (dry run)\n")
    ks.bump_generation(c.state, dep)
    return Result(out=f"{ref_name(res, name)} image updated\n")


def _dry(c: Ctx) -> bool:
    value = c.args.get("dry-run")
    return value not in (None, "none")


def cmd_rollout(c: Ctx) -> Result:
    pos = c.args.positional
    if len(pos) < 3:
        raise Exit("error: required resource not specified")
    sub = pos[1]
    res, name = one_target(pos[2:], "rollout " + sub)
    if res != "deployments":
        raise unsupported(c.argv)
    dep = c.find(res, name)
    if sub == "status":
        return rollout_status(c, dep)
    if sub == "history":
        return rollout_history(c, dep)
    if sub == "undo":
        return rollout_undo(c, dep)
    if sub == "restart":
        tmpl_md = dep["spec"]["template"].setdefault("metadata", {})
        tmpl_md.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = (
            _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + f".{ks.next_seq(c.state)}")
        ks.bump_generation(c.state, dep)
        return Result(out=f"{ref_name(res, name)} restarted\n")
    raise unsupported(c.argv)


def rollout_status(c: Ctx, dep: dict[str, Any]) -> Result:
    name = dep["metadata"]["name"]
    spec, status = dep["spec"], dep.get("status", {})
    replicas = spec.get("replicas", 1)
    conds = {cd["type"]: cd for cd in status.get("conditions", [])}
    prog = conds.get("Progressing", {})
    if prog.get("reason") == "ProgressDeadlineExceeded":
        raise Exit(f'error: deployment "{name}" exceeded its progress deadline')
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        waiting = f"{updated} out of {replicas} new replicas have been updated...\n"
    elif total > updated:
        waiting = f"{total - updated} old replicas are pending termination...\n"
    elif available < updated:
        waiting = f"{available} of {updated} updated replicas are available...\n"
    else:
        return Result(out=f'deployment "{name}" successfully rolled out\n')
    if not c.args.bool("watch", default=True):
        return Result(out=prefix + waiting)
    timeout_text = c.args.get("timeout")
    timeout = go_duration(timeout_text) if timeout_text else 0.0
    image = spec["template"]["spec"]["containers"][0].get("image", "")
    remaining = ks.rollout_remaining(c.state, dep)
    if remaining > 0 and ks.template_health(c.state, dep["metadata"]["namespace"], name, image) is None:
        # A healthy rollout still starting (setting rollout_seconds): wait for it, within --timeout.
        if 0 < timeout < remaining:
            return Result(early_out=prefix + waiting, sleep=timeout,
                          err="error: timed out waiting for the condition", code=1)
        return Result(early_out=prefix + waiting, sleep=remaining,
                      out=f'deployment "{name}" successfully rolled out\n')
    cap = float(c.state["settings"]["rollout_wait_cap"])
    if timeout <= 0 and c.state["settings"].get("hang_without_timeout", True):
        return Result(early_out=prefix + waiting, sleep=None)  # kubectl waits forever
    wait = min(timeout, cap) if timeout > 0 else cap
    return Result(early_out=prefix + waiting, sleep=wait, err="error: timed out waiting for the condition",
                  code=1)


def _history(c: Ctx, dep: dict[str, Any]) -> dict[int, dict[str, Any]]:
    md = dep["metadata"]
    return {ks.revision_of(rs): rs for rs in ks.owned_replicasets(c.state, md["namespace"], md["name"])}


def rollout_history(c: Ctx, dep: dict[str, Any]) -> Result:
    name = dep["metadata"]["name"]
    hist = _history(c, dep)
    rev_text = c.args.get("revision")
    revision = int(rev_text) if rev_text else 0
    if revision and revision not in hist:
        raise Exit("error: unable to find the specified revision")
    fmt = c.args.get("output")
    if fmt:
        chosen = [hist[revision]] if revision else [hist[r] for r in sorted(hist)]
        # kubectl prints each ReplicaSet as its own document (not a List).
        out = "".join(output([rs], True, "replicasets", c.args, False, c.ns).out for rs in chosen)
        return Result(out=out)
    if not hist:
        return Result(out="No rollout history found.\n")
    if revision:
        rs = hist[revision]
        return Result(out=f"{ref_name('deployments', name)} with revision #{revision}\n"
                      + pod_template_text(rs["spec"]["template"]) + "\n")
    rows = [["REVISION", "CHANGE-CAUSE"]]
    for r in sorted(hist):
        cause = hist[r]["metadata"].get("annotations", {}).get("kubernetes.io/change-cause", "<none>")
        rows.append([str(r), cause])
    return Result(out=f"{ref_name('deployments', name)}\n" + table(rows, padding=2) + "\n")


def pod_template_text(tmpl: dict[str, Any]) -> str:
    labels = tmpl.get("metadata", {}).get("labels", {})
    lines = ["Pod Template:"]
    label_lines = [f"{k}={v}" for k, v in sorted(labels.items())] or ["<none>"]
    lines.append(f"  Labels:\t{label_lines[0]}")
    lines += [f"\t{x}" for x in label_lines[1:]]
    annotations = tmpl.get("metadata", {}).get("annotations", {})
    ann = [f"{k}: {v}" for k, v in sorted(annotations.items())] or ["<none>"]
    lines.append(f"  Annotations:\t{ann[0]}")
    lines += [f"\t{x}" for x in ann[1:]]
    lines.append("  Containers:")
    for ct in tmpl.get("spec", {}).get("containers", []):
        lines.append(f"   {ct['name']}:")
        lines.append(f"    Image:\t{ct.get('image', '')}")
        for port in ct.get("ports", []):
            lines.append(f"    Port:\t{port['containerPort']}/{port.get('protocol', 'TCP')}")
        lines.append("    Host Port:\t0/TCP")
        lines.append("    Environment:\t<none>")
        lines.append("    Mounts:\t<none>")
    lines.append("  Volumes:\t<none>")
    lines.append("  Node-Selectors:\t<none>")
    lines.append("  Tolerations:\t<none>")
    return "\n".join(lines) + "\n"


def rollout_undo(c: Ctx, dep: dict[str, Any]) -> Result:
    name = dep["metadata"]["name"]
    hist = _history(c, dep)
    to_text = c.args.get("to-revision")
    to_rev = int(to_text) if to_text else 0
    if to_rev:
        if to_rev not in hist:
            raise Exit(f"error: unable to find specified revision {to_rev} in history")
        target = hist[to_rev]
    else:
        revs = sorted(hist)
        if len(revs) < 2:
            raise Exit(f'error: no rollout history found for deployment "{name}"')
        to_rev = revs[-2]
        target = hist[to_rev]
    tmpl = copy.deepcopy(target["spec"]["template"])
    tmpl.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    if ks.template_hash(tmpl) == ks.template_hash(dep["spec"]["template"]):
        return Result(out=f"{ref_name('deployments', name)} skipped rollback "
                      f"(current template already matches revision {to_rev})\n")
    if _dry(c):
        return Result(out=f"{ref_name('deployments', name)} Pod Template: (dry run)\n")
    dep["spec"]["template"] = tmpl  # only the pod template: replicas and Services are untouched
    ks.bump_generation(c.state, dep)
    return Result(out=f"{ref_name('deployments', name)} rolled back\n")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge behaves the same for maps such as selectors)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    doc = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent: Any = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            idx = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(idx, op["value"])
            elif kind == "replace":
                parent[idx] = op["value"]
            elif kind == "remove":
                del parent[idx]
            else:
                raise Exit(f"error: fake kubectl does not support json patch op {kind}")
        else:
            if kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise Exit(f'The request is invalid: the server rejected our request due to an error in '
                               f'our request: replace operation does not apply: doc is missing key: {op["path"]}')
                parent[last] = op["value"]
            elif kind == "remove":
                parent.pop(last)
            else:
                raise Exit(f"error: fake kubectl does not support json patch op {kind}")
    return doc


def cmd_patch(c: Ctx) -> Result:
    res, name = one_target(c.args.positional[1:], "patch")
    text = c.args.get("patch")
    if text is None:
        raise Exit("error: must specify -p to patch")
    try:
        patch = json.loads(text)
    except ValueError:
        try:
            import yaml
            patch = yaml.safe_load(text)
        except yaml.YAMLError:
            raise Exit(f"error: unable to parse \"{text}\": yaml: did not find expected node content") from None
    obj = c.find(res, name)
    for fault in ks.matching_faults(c.state, "patch_refused", name):
        kw = fault.get("kw", {})
        if kw.get("namespace") not in (None, c.ns):
            continue
        ks.consume(c.state, fault)
        raise Exit(kw.get("message") or (
            f'Error from server (Forbidden): {RESOURCES[res][1]} "{name}" is forbidden: User "deployer" cannot '
            f'patch resource "{res}" in API group "" in the namespace "{c.ns}"'))
    kind = c.args.get("type", "strategic")
    if kind == "json":
        new = json_patch(obj, patch)
    elif kind in ("merge", "strategic"):
        new = merge_patch(obj, patch)
    else:
        raise Exit(f'error: --type must be one of [json merge strategic], not "{kind}"')
    if new == obj:
        return Result(out=f"{ref_name(res, name)} patched (no change)\n")
    if _dry(c):
        return Result(out=f"{ref_name(res, name)} patched (dry run)\n")
    template_changed = res == "deployments" and new.get("spec", {}).get("template") != obj["spec"]["template"]
    obj.clear()
    obj.update(new)
    obj["metadata"]["resourceVersion"] = ks.next_rv(c.state)
    if template_changed:
        ks.bump_generation(c.state, obj)
    return Result(out=f"{ref_name(res, name)} patched\n")


def cmd_scale(c: Ctx) -> Result:
    res, name = one_target(c.args.positional[1:], "scale")
    replicas = c.args.get("replicas")
    if replicas is None:
        raise Exit("error: required flag(s) \"replicas\" not set")
    try:
        n = int(replicas)
    except ValueError:
        raise Exit(f'error: invalid argument "{replicas}" for "--replicas" flag: strconv.ParseInt: '
                   f'parsing "{replicas}": invalid syntax') from None
    if n < 0:
        raise Exit("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    if res not in ("deployments", "replicasets"):
        raise unsupported(c.argv)
    obj = c.find(res, name)
    current = c.args.get("current-replicas")
    if current is not None and int(current) != obj["spec"].get("replicas"):
        raise Exit(f"error: Expected replicas to be {current}, was {obj['spec'].get('replicas')}")
    if not _dry(c):
        obj["spec"]["replicas"] = n
        obj["metadata"]["resourceVersion"] = ks.next_rv(c.state)
    return Result(out=f"{ref_name(res, name)} scaled\n")


def _stdin_configmaps(c: Ctx, verb: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, name, manifest) of each ConfigMap in `-f -`; other kinds are not supported."""
    if c.args.get("filename") != "-":
        raise unsupported(c.argv)
    out = []
    for doc in _load_docs(c.stdin or ""):
        name = doc.get("metadata", {}).get("name")
        if doc.get("kind") != "ConfigMap" or not name:
            raise unsupported(c.argv + [f"(kind {doc.get('kind')})"])
        ns = doc["metadata"].get("namespace") or c.ns
        if not c.visible(ns):
            raise Exit(f'Error from server (NotFound): error when {verb} "STDIN": namespaces "{ns}" not found')
        out.append((ns, name, doc))
    return out


def cmd_create_from_file(c: Ctx) -> Result:
    out = ""
    for ns, name, doc in _stdin_configmaps(c, "creating"):
        store = c.state["objects"]["configmaps"]
        if ks.key(ns, name) in store:
            raise Exit(out + f'Error from server (AlreadyExists): error when creating "STDIN": '
                       f'configmaps "{name}" already exists')
        md = doc["metadata"]
        if not _dry(c):
            store[ks.key(ns, name)] = ks.make_configmap(c.state, ns, name, doc.get("data") or {},
                                                        md.get("labels"), md.get("annotations"))
        out += f"configmap/{name} created\n"
    return Result(out=out)


def cmd_replace(c: Ctx) -> Result:
    """`replace -f -`: optimistic concurrency through metadata.resourceVersion, as the API server."""
    out = ""
    for ns, name, doc in _stdin_configmaps(c, "replacing"):
        store = c.state["objects"]["configmaps"]
        existing = store.get(ks.key(ns, name))
        if existing is None:
            raise Exit(f'Error from server (NotFound): error when replacing "STDIN": configmaps "{name}" not found')
        wanted_rv = doc["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != existing["metadata"]["resourceVersion"]:
            raise Exit(f'Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled '
                       f'on configmaps "{name}": the object has been modified; please apply your changes to the '
                       f'latest version and try again')
        md = doc["metadata"]
        new = ks.make_configmap(c.state, ns, name, doc.get("data") or {}, md.get("labels"), md.get("annotations"))
        new["metadata"]["uid"] = existing["metadata"]["uid"]
        new["metadata"]["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
        if not _dry(c):
            store[ks.key(ns, name)] = new
        out += f"configmap/{name} replaced\n"
    return Result(out=out)


def cmd_label_annotate(c: Ctx) -> Result:
    verb = c.args.positional[0]
    words = [w for w in c.args.positional[1:] if "=" not in w and not w.endswith("-")]
    changes = [w for w in c.args.positional[1:] if "=" in w or w.endswith("-")]
    res, name = one_target(words, verb)
    obj = c.find(res, name)
    field_name = "labels" if verb == "label" else "annotations"
    current = dict(obj["metadata"].get(field_name) or {})
    for change in changes:
        if change.endswith("-") and "=" not in change:
            current.pop(change[:-1], None)
            continue
        k, _, v = change.partition("=")
        if k in current and current[k] != v and not c.args.bool("overwrite"):
            what = "label" if verb == "label" else "annotation"
            raise Exit(f"error: '{k}' already has a value ({current[k]}), and --overwrite is false"
                       if verb == "label" else
                       f"error: --overwrite is false but found the following declared {what}(s): "
                       f"'{k}' already has a value ({current[k]})")
        current[k] = v
    past = "labeled" if verb == "label" else "annotated"
    if current == (obj["metadata"].get(field_name) or {}):
        return Result(out=f"{ref_name(res, name)} not {past}\n")
    if not _dry(c):
        obj["metadata"][field_name] = current
        obj["metadata"]["resourceVersion"] = ks.next_rv(c.state)
    return Result(out=f"{ref_name(res, name)} {past}\n")


def cmd_create(c: Ctx) -> Result:
    pos = c.args.positional
    if c.args.get("filename") is not None:
        return cmd_create_from_file(c)
    if len(pos) < 3 or resource_type(pos[1]) != "configmaps":
        raise unsupported(c.argv)
    name = pos[2]
    data: dict[str, str] = {}
    for lit in c.args.all("from-literal"):
        k, eq, v = lit.partition("=")
        if not eq or not k:
            raise Exit(f"error: invalid literal source {lit}, expected key=value")
        if k in data:
            raise Exit(f'error: cannot add key "{k}", another key by that name already exists in Data '
                       f"for ConfigMap \"{name}\"")
        data[k] = v
    ns = c.ns
    cm = ks.make_configmap(c.state, ns, name, data)
    if _dry(c) or c.args.get("output"):
        if c.args.get("output"):
            shown = copy.deepcopy(cm)
            for k in ("uid", "resourceVersion"):
                shown["metadata"].pop(k, None)
            if _dry(c):
                shown["metadata"]["creationTimestamp"] = None
            if not _dry(c):
                _store_new_configmap(c, ns, name, cm)
            return output([shown], True, "configmaps", c.args, False, ns)
        return Result(out=f"configmap/{name} created (dry run)\n")
    _store_new_configmap(c, ns, name, cm)
    return Result(out=f"configmap/{name} created\n")


def _store_new_configmap(c: Ctx, ns: str, name: str, cm: dict[str, Any]) -> None:
    if not c.visible(ns):
        raise Exit(f'error: failed to create configmap: namespaces "{ns}" not found')
    if ks.key(ns, name) in c.state["objects"]["configmaps"]:
        raise Exit(f'error: failed to create configmap: configmaps "{name}" already exists')
    c.state["objects"]["configmaps"][ks.key(ns, name)] = cm


def cmd_delete(c: Ctx) -> Result:
    pairs = targets(c.args.positional[1:])
    out, errors = "", []
    for res, name in pairs:
        if name is None:
            raise Exit("error: resource(s) were provided, but no name was specified")
        if res not in ("configmaps", "certificates", "pods", "services", "deployments"):
            raise unsupported(c.argv)
        store = c.state["objects"][res]
        k = ks.key(c.ns, name)
        if k not in store or not c.visible(c.ns):
            if not c.args.bool("ignore-not-found"):
                errors.append(not_found(res, name).message)
            continue
        if not _dry(c):
            del store[k]
            if res == "deployments":
                for rs in ks.owned_replicasets(c.state, c.ns, name):
                    for pod in ks.owned_pods(c.state, c.ns, rs["metadata"]["name"]):
                        del c.state["objects"]["pods"][ks.key(c.ns, pod["metadata"]["name"])]
                    del c.state["objects"]["replicasets"][ks.key(c.ns, rs["metadata"]["name"])]
        out += f'{ref_name(res, name).split("/")[0]} "{name}" deleted\n'
    return Result(out=out, err="\n".join(errors), code=1 if errors else 0)


def _load_docs(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        raise Exit("error: no objects passed to apply")
    try:
        docs = [json.loads(text)]
    except ValueError:
        import yaml
        try:
            docs = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise Exit(f"error: error parsing STDIN: {exc}") from None
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
            out.extend(doc["items"])
        else:
            out.append(doc)
    return out


def cmd_apply(c: Ctx) -> Result:
    source = c.args.get("filename")
    if source != "-":
        raise unsupported(c.argv)
    out = ""
    for doc in _load_docs(c.stdin or ""):
        kind = doc.get("kind")
        name = doc.get("metadata", {}).get("name")
        if not kind or not name:
            raise Exit("error: error validating data: [apiVersion not set, kind not set]; "
                       "if you choose to ignore these errors, turn validation off with --validate=false")
        if kind != "ConfigMap":
            raise unsupported(c.argv + [f"(kind {kind})"])
        ns = doc.get("metadata", {}).get("namespace") or c.ns
        if doc.get("metadata", {}).get("namespace") and c.args.get("namespace") and ns != c.ns:
            raise Exit(f"error: the namespace from the provided object \"{ns}\" does not match the namespace "
                       f"\"{c.ns}\". You must pass '--namespace={ns}' to perform this operation.")
        if not c.visible(ns):
            raise Exit(f'Error from server (NotFound): error when creating "STDIN": namespaces "{ns}" not found')
        store = c.state["objects"]["configmaps"]
        k = ks.key(ns, name)
        existing = store.get(k)
        md = doc.get("metadata", {})
        if existing is None:
            if not _dry(c):
                store[k] = ks.make_configmap(c.state, ns, name, doc.get("data") or {}, md.get("labels"),
                                             md.get("annotations"))
            out += f"configmap/{name} created\n"
            continue
        new = copy.deepcopy(existing)
        if doc.get("data") is not None:
            new["data"] = dict(doc["data"])
        else:
            new.pop("data", None)
        for field_name in ("labels", "annotations"):
            if md.get(field_name) is not None:
                new["metadata"][field_name] = dict(md[field_name])
        if new == existing:
            out += f"configmap/{name} unchanged\n"
            continue
        if not _dry(c):
            new["metadata"]["resourceVersion"] = ks.next_rv(c.state)
            store[k] = new
        out += f"configmap/{name} configured\n"
    return Result(out=out)


# ---------------------------------------------------------------- logs, exec, describe, top

def _pods_for(c: Ctx, target: str) -> tuple[list[dict[str, Any]], str]:
    """Pods behind `deploy/NAME`, `pod/NAME` or a bare pod name, and the description for messages."""
    if "/" in target:
        kind, _, name = target.partition("/")
        res = resource_type(kind)
    else:
        res, name = "pods", target
    if res == "pods":
        return [c.find("pods", name)], name
    if res != "deployments":
        raise unsupported(c.argv)
    dep = c.find("deployments", name)
    pods = []
    for rs in ks.owned_replicasets(c.state, c.ns, name):
        pods.extend(ks.owned_pods(c.state, c.ns, rs["metadata"]["name"]))
    pods.sort(key=lambda p: (not ks.pod_ready(p), p["metadata"]["name"]))
    if not pods:
        raise Exit(f"error: timed out waiting for the condition on deployments/{dep['metadata']['name']}")
    return pods, name


def _log_text(c: Ctx, pod: dict[str, Any], previous: bool) -> str:
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    dep = ks.pod_deployment(c.state, pod)
    logs = c.state["logs"]
    if previous:
        text = logs.get(f"previous/pod/{ns}/{name}")
        if text is None and dep is not None:
            text = logs.get(f"previous/deploy/{ns}/{dep}")
        restarts = sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", []))
        if text is None and restarts == 0:
            container = pod["spec"]["containers"][0]["name"]
            raise Exit(f'Error from server (BadRequest): previous terminated container "{container}" '
                       f'in pod "{name}" not found')
        return text or ""
    text = logs.get(f"pod/{ns}/{name}")
    if text is None and dep is not None:
        text = logs.get(f"deploy/{ns}/{dep}")
    return text or ""


def _tail(text: str, n: int | None) -> str:
    if not text:
        return ""
    lines = text.splitlines(keepends=True)
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if n is not None and n >= 0:
        lines = lines[-n:] if n else []
    return "".join(lines)


def cmd_logs(c: Ctx) -> Result:
    args = c.args
    sel = args.get("selector")
    tail_text = args.get("tail")
    tail = int(tail_text) if tail_text is not None else None
    previous = args.bool("previous")
    if sel:
        if tail is None:
            tail = 10  # kubectl: --tail defaults to 10 when a selector is given
        reqs = parse_selector(sel)
        pods = [p for p in c.objects("pods", c.ns) if selected(p, reqs)]
        if not pods:
            return Result(err=f"No resources found in {c.ns} namespace.")
        out = ""
        for pod in pods:
            text = _tail(_log_text(c, pod, previous), tail)
            if args.bool("prefix"):
                cname = pod["spec"]["containers"][0]["name"]
                text = "".join(f"[pod/{pod['metadata']['name']}/{cname}] {line}"
                               for line in text.splitlines(keepends=True))
            out += text
        return Result(out=out)
    if len(args.positional) < 2:
        raise Exit("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.")
    pods, _ = _pods_for(c, args.positional[1])
    err = ""
    if len(pods) > 1:
        err = f"Found {len(pods)} pods, using pod/{pods[0]['metadata']['name']}"
    return Result(out=_tail(_log_text(c, pods[0], previous), tail), err=err)


HEALTH_URL = re.compile(r"localhost:(\d+)(/actuator/health(?:/([A-Za-z0-9_-]+))?)")


def cmd_exec(c: Ctx) -> Result:
    args = c.args
    if len(args.positional) < 2 or not args.after_dash:
        raise Exit("error: you must specify at least one command for the container")
    err = ""
    if args.bool("tty") and not sys.stdin.isatty():
        err = "Unable to use a TTY - input is not a terminal or the right kind of file\n"
    pods, name = _pods_for(c, args.positional[1])
    pod = pods[0]
    sts = pod["status"].get("containerStatuses", [])
    container = pod["spec"]["containers"][0]["name"]
    if sts and sts[0].get("state", {}).get("waiting"):
        raise Exit(err + f'error: unable to upgrade connection: container not found ("{container}")')
    command = args.after_dash
    line = shlex.join(command)
    dep = ks.pod_deployment(c.state, pod) or name
    for rule in reversed(c.state["exec"]):  # the latest rule wins
        if rule["match"] in line and rule.get("deployment") in (None, dep) and rule.get("namespace") in (None, c.ns):
            code = int(rule.get("exit", 0))
            if code:
                stderr = rule.get("stderr", "")
                err += (stderr if not stderr or stderr.endswith("\n") else stderr + "\n")
                err += f"command terminated with exit code {code}"
            return Result(out=rule.get("stdout", ""), err=err, code=code)
    m = HEALTH_URL.search(line)
    if command and command[0] == "curl" and m:
        component = m.group(3)
        deps = c.state["dependencies"].get(ks.key(c.ns, dep), {})
        down = component is not None and (deps.get(component, "UP") != "UP" or any(
            f["kind"] == "dependency_down" and f.get("target") == component
            and f.get("kw", {}).get("deployment") in (None, dep) for f in c.state["faults"]))
        if component is None:
            down = any(v != "UP" for v in deps.values()) or any(
                f["kind"] == "dependency_down" and f.get("kw", {}).get("deployment") in (None, dep)
                for f in c.state["faults"])
        body = json.dumps({"status": "DOWN" if down else "UP"})
        fail_flag = any(t.startswith("-") and not t.startswith("--") and "f" in t for t in command[1:]) or \
            "--fail" in command
        if down and fail_flag:
            silent = any(t.startswith("-") and not t.startswith("--") and "s" in t for t in command[1:])
            curl_err = "" if silent else "curl: (22) The requested URL returned error: 503\n"
            return Result(err=err + curl_err + "command terminated with exit code 22", code=22)
        return Result(out=body, err=err.rstrip("\n"))
    raise unsupported(c.argv)


def _fmt_time(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    d = _dt.datetime.fromtimestamp(ks.parse_iso(ts), _dt.UTC)
    return d.strftime("%a, %d %b %Y %H:%M:%S +0000")


def tabwrite(text: str, padding: int = 2) -> str:
    """Go's text/tabwriter as kubectl describe uses it: a column is aligned over each run of
    consecutive lines that have a tab-terminated cell in it (blocks nest column by column)."""
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[dict[int, int]] = [{} for _ in lines]

    def block(start: int, end: int, col: int) -> None:
        i = start
        while i < end:
            if len(lines[i]) - 1 > col:
                j = i
                while j < end and len(lines[j]) - 1 > col:
                    j += 1
                width = max(len(lines[n][col]) for n in range(i, j)) + padding
                for n in range(i, j):
                    widths[n][col] = width
                block(i, j, col + 1)
                i = j
            else:
                i += 1

    block(0, len(lines), 0)
    out = []
    for n, cells in enumerate(lines):
        out.append("".join(cell.ljust(widths[n].get(idx, 0)) if idx < len(cells) - 1 else cell
                           for idx, cell in enumerate(cells)))
    return "\n".join(out)


def _events_for(c: Ctx, kind: str, name: str, ns: str) -> str:
    evs = [e for e in c.state["events"] if e["metadata"]["namespace"] == ns
           and e["involvedObject"]["kind"] == kind and e["involvedObject"]["name"] == name]
    if not evs:
        return "Events:\t<none>\n"
    out = "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n"
    for e in evs:
        age = human_age(ks.now() - ks.parse_iso(e["lastTimestamp"]))
        if e.get("count", 1) > 1:
            age = f"{age} (x{e['count']} over {human_age(ks.now() - ks.parse_iso(e['firstTimestamp']))})"
        out += f"  {e['type']}\t{e['reason']}\t{age}\t{e.get('source', {}).get('component', '')}\t{e['message']}\n"
    return out


def _labels_lines(title: str, mapping: dict[str, str] | None, sep: str = "=") -> str:
    items = [f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items())] or ["<none>"]
    return f"{title}:\t{items[0]}\n" + "".join(f"\t{x}\n" for x in items[1:])


def describe_pod(c: Ctx, pod: dict[str, Any]) -> str:
    md, spec, status = pod["metadata"], pod["spec"], pod["status"]
    out = (f"Name:\t{md['name']}\nNamespace:\t{md['namespace']}\nPriority:\t0\nService Account:\tdefault\n"
           f"Node:\t{spec.get('nodeName', '<none>')}/127.0.0.1\nStart Time:\t{_fmt_time(status.get('startTime'))}\n")
    out += _labels_lines("Labels", md.get("labels"))
    out += _labels_lines("Annotations", md.get("annotations"), ": ")
    out += f"Status:\t{status.get('phase', 'Unknown')}\nIP:\t{status.get('podIP', '')}\nIPs:\n"
    out += f"  IP:\t{status.get('podIP', '')}\n"
    owner = (md.get("ownerReferences") or [{}])[0]
    if owner:
        out += f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}\n"
    out += "Containers:\n"
    sts = {s["name"]: s for s in status.get("containerStatuses", [])}
    for ct in spec.get("containers", []):
        st = sts.get(ct["name"], {})
        port = (ct.get("ports") or [{}])[0]
        out += (f"  {ct['name']}:\n    Container ID:\t{st.get('containerID', '')}\n    Image:\t{ct.get('image', '')}\n"
                f"    Image ID:\t{st.get('imageID', '')}\n"
                f"    Port:\t{port.get('containerPort', '<none>')}/{port.get('protocol', 'TCP')}\n"
                f"    Host Port:\t0/{port.get('protocol', 'TCP')}\n")
        state = st.get("state", {})
        if "waiting" in state:
            out += f"    State:\tWaiting\n      Reason:\t{state['waiting'].get('reason', '')}\n"
        elif "running" in state:
            out += f"    State:\tRunning\n      Started:\t{_fmt_time(state['running'].get('startedAt'))}\n"
        last = st.get("lastState", {}).get("terminated")
        if last:
            out += (f"    Last State:\tTerminated\n      Reason:\t{last.get('reason', '')}\n"
                    f"      Exit Code:\t{last.get('exitCode', 0)}\n"
                    f"      Started:\t{_fmt_time(last.get('startedAt'))}\n"
                    f"      Finished:\t{_fmt_time(last.get('finishedAt'))}\n")
        out += (f"    Ready:\t{'True' if st.get('ready') else 'False'}\n"
                f"    Restart Count:\t{st.get('restartCount', 0)}\n    Environment:\t<none>\n    Mounts:\t<none>\n")
    out += "Conditions:\n  Type\tStatus\n"
    out += "".join(f"  {cd['type']} \t{cd['status']} \n" for cd in status.get("conditions", []))
    out += (f"Volumes:\t<none>\nQoS Class:\t{status.get('qosClass', 'BestEffort')}\nNode-Selectors:\t<none>\n"
            f"Tolerations:\t<none>\n")
    return tabwrite(out + _events_for(c, "Pod", md["name"], md["namespace"]))


def describe_deployment(c: Ctx, dep: dict[str, Any]) -> str:
    md, spec, status = dep["metadata"], dep["spec"], dep.get("status", {})
    sel = spec.get("selector", {}).get("matchLabels", {})
    total, updated = status.get("replicas", 0), status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    strategy = spec.get("strategy", {})
    ru = strategy.get("rollingUpdate", {})
    out = (f"Name:\t{md['name']}\nNamespace:\t{md['namespace']}\n"
           f"CreationTimestamp:\t{_fmt_time(md.get('creationTimestamp'))}\n")
    out += _labels_lines("Labels", md.get("labels"))
    out += _labels_lines("Annotations", md.get("annotations"), ": ")
    out += (f"Selector:\t{_sel_text(sel)}\n"
            f"Replicas:\t{spec.get('replicas', 1)} desired | {updated} updated | {total} total | "
            f"{available} available | {status.get('unavailableReplicas', 0)} unavailable\n"
            f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\nMinReadySeconds:\t0\n"
            f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '25%')} max unavailable, "
            f"{ru.get('maxSurge', '25%')} max surge\n")
    tmpl = pod_template_text(spec["template"]).replace("\t", "\t")
    out += "\n".join(line for line in tmpl.splitlines() if "Node-Selectors" not in line
                     and "Tolerations" not in line) + "\n"
    out += "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n"
    out += "".join(f"  {cd['type']}\t{cd['status']}\t{cd.get('reason', '')}\n" for cd in status.get("conditions", []))
    rss = ks.owned_replicasets(c.state, md["namespace"], md["name"])
    h = ks.template_hash(spec["template"])
    new = [rs for rs in rss if rs["metadata"]["labels"].get("pod-template-hash") == h]
    old = [rs for rs in rss if rs not in new and rs["spec"].get("replicas", 0) > 0]

    def rs_text(items: list[dict[str, Any]]) -> str:
        return ", ".join(f"{rs['metadata']['name']} ({rs.get('status', {}).get('replicas', 0)}/"
                         f"{rs['spec'].get('replicas', 0)} replicas created)" for rs in items) or "<none>"

    out += f"OldReplicaSets:\t{rs_text(old)}\nNewReplicaSet:\t{rs_text(new)}\n"
    return tabwrite(out + _events_for(c, "Deployment", md["name"], md["namespace"]))


def describe_service(c: Ctx, svc: dict[str, Any]) -> str:
    md, spec = svc["metadata"], svc["spec"]
    selector = spec.get("selector") or {}
    pods = [p for p in c.objects("pods", md["namespace"]) if selector
            and ks.labels_match(p["metadata"].get("labels", {}), selector) and ks.pod_ready(p)]
    out = f"Name:\t{md['name']}\nNamespace:\t{md['namespace']}\n"
    out += _labels_lines("Labels", md.get("labels"))
    out += _labels_lines("Annotations", md.get("annotations"), ": ")
    out += (f"Selector:\t{_sel_text(selector)}\nType:\t{spec.get('type', 'ClusterIP')}\n"
            f"IP Family Policy:\t{spec.get('ipFamilyPolicy', 'SingleStack')}\nIP Families:\tIPv4\n"
            f"IP:\t{spec.get('clusterIP', '')}\nIPs:\t{spec.get('clusterIP', '')}\n")
    for port in spec.get("ports", []):
        endpoints = ",".join(f"{p['status'].get('podIP')}:{port.get('targetPort', port['port'])}" for p in pods)
        out += (f"Port:\t{port.get('name', '<unset>')}  {port['port']}/{port.get('protocol', 'TCP')}\n"
                f"TargetPort:\t{port.get('targetPort', port['port'])}/{port.get('protocol', 'TCP')}\n"
                f"Endpoints:\t{endpoints or '<none>'}\n")
    out += f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n"
    return tabwrite(out + _events_for(c, "Service", md["name"], md["namespace"]))


def _title(key: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return words[:1].upper() + words[1:]


def _generic(value: Any, indent: int) -> str:
    """kubectl's describe of custom resources: keys title-cased, nested maps indented by two."""
    pad = " " * indent
    out = ""
    if isinstance(value, dict):
        for k, v in sorted(value.items()):  # unstructured objects describe in key order
            if isinstance(v, (dict, list)):
                out += f"{pad}{_title(k)}:\n" + _generic(v, indent + 2)
            else:
                out += f"{pad}{_title(k)}:\t{v}\n"
    elif isinstance(value, list):
        for item in value:
            out += _generic(item, indent) if isinstance(item, (dict, list)) else f"{pad}{item}\n"
    return out


def describe_generic(c: Ctx, obj: dict[str, Any]) -> str:
    md = obj["metadata"]
    out = f"Name:\t{md['name']}\nNamespace:\t{md.get('namespace', '')}\n"
    out += _labels_lines("Labels", md.get("labels"))
    out += _labels_lines("Annotations", md.get("annotations"), ": ")
    out += f"API Version:\t{obj['apiVersion']}\nKind:\t{obj['kind']}\n"
    out += "Metadata:\n" + _generic({"creationTimestamp": md.get("creationTimestamp"),
                                    "resourceVersion": md.get("resourceVersion"), "uid": md.get("uid")}, 2)
    for section in ("spec", "status", "data"):
        if section in obj:
            out += f"{_title(section)}:\n" + _generic(obj[section], 2)
    return tabwrite(out + _events_for(c, obj["kind"], md["name"], md.get("namespace", "")))


def cmd_describe(c: Ctx) -> Result:
    pairs = targets(c.args.positional[1:])
    out = []
    reqs = parse_selector(c.args.get("selector"))
    for res, name in pairs:
        objs = [c.find(res, name)] if name else [o for o in c.objects(res, c.ns) if selected(o, reqs)]
        for obj in objs:
            obj = _decorated(res, obj)
            describer = {"pods": describe_pod, "deployments": describe_deployment,
                         "services": describe_service}.get(res, describe_generic)
            out.append(describer(c, obj))
    if not out:
        return Result(err=f"No resources found in {c.ns} namespace.")
    return Result(out="\n\n".join(out))


def cmd_top(c: Ctx) -> Result:
    pos = c.args.positional
    if len(pos) < 2 or resource_type(pos[1]) != "pods":
        raise unsupported(c.argv)
    reqs = parse_selector(c.args.get("selector"))
    pods = [p for p in c.objects("pods", c.ns) if selected(p, reqs)]
    if len(pos) > 2:
        pods = [p for p in pods if p["metadata"]["name"] == pos[2]]
        if not pods:
            raise Exit(f'Error from server (NotFound): pods "{pos[2]}" not found')
    if not pods:
        return Result(err=f"No resources found in {c.ns} namespace.")
    rows = [["NAME", "CPU(cores)", "MEMORY(bytes)"]]
    for pod in pods:
        dep = ks.pod_deployment(c.state, pod)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        usage = c.state["top"].get(f"pod/{ns}/{name}") or c.state["top"].get(f"deploy/{ns}/{dep}") \
            or ["1m", "16Mi"]
        rows.append([name, usage[0], usage[1]])
    return Result(out=table(rows))


def cmd_cluster_info(c: Ctx) -> Result:
    return Result(out="Kubernetes control plane is running at https://127.0.0.1:6443\n"
                      "CoreDNS is running at https://127.0.0.1:6443/api/v1/namespaces/kube-system/services/"
                      "kube-dns:dns/proxy\n\n"
                      "To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n")


def cmd_version(c: Ctx) -> Result:
    data = {"clientVersion": {"major": "1", "minor": "28", "gitVersion": "v1.28.3"},
            "kustomizeVersion": "v5.0.4-0.20230601165947-6ce0bf390ce3",
            "serverVersion": {"major": "1", "minor": "28", "gitVersion": "v1.28.3"}}
    if c.args.get("output") == "json":
        return Result(out=json.dumps(data, indent=2) + "\n")
    return Result(out="Client Version: v1.28.3\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3\n"
                      "Server Version: v1.28.3\n")


def cmd_wait(c: Ctx) -> Result:
    """`wait --for=condition=Available deployment/NAME [--timeout=T]` (deployments only)."""
    cond_text = c.args.get("for") or ""
    if not cond_text.startswith("condition="):
        raise unsupported(c.argv)
    cond, _, want = cond_text[len("condition="):].partition("=")
    want = want or "True"
    out = ""
    for res, name in targets(c.args.positional[1:]):
        if res != "deployments" or name is None:
            raise unsupported(c.argv)
        dep = c.find(res, name)
        conds = {cd["type"].lower(): cd for cd in dep.get("status", {}).get("conditions", [])}
        if conds.get(cond.lower(), {}).get("status", "").lower() == want.lower():
            out += f"{ref_name(res, name)} condition met\n"
            continue
        timeout_text = c.args.get("timeout") or "30s"  # kubectl wait's default timeout
        wait = min(go_duration(timeout_text), float(c.state["settings"]["rollout_wait_cap"]))
        return Result(early_out=out, sleep=wait, code=1,
                      err=f"error: timed out waiting for the condition on deployments/{name}")
    return Result(out=out)


def cmd_auth(c: Ctx) -> Result:
    """`auth can-i VERB RESOURCE[/NAME]`: yes, unless a patch_refused fault denies that patch."""
    pos = c.args.positional
    if len(pos) < 4 or pos[1] != "can-i":
        raise unsupported(c.argv)
    verb, target = pos[2], pos[3]
    kind, _, name = target.partition("/")
    denied = verb == "patch" and any(
        f["kind"] == "patch_refused" and (not name or f.get("target") in (None, name))
        and f.get("kw", {}).get("namespace") in (None, c.ns) for f in c.state["faults"])
    resource_type(kind)
    return Result(out="no\n", code=1) if denied else Result(out="yes\n")


VERBS = {
    "get": cmd_get, "set": cmd_set, "rollout": cmd_rollout, "patch": cmd_patch, "scale": cmd_scale,
    "create": cmd_create, "replace": cmd_replace, "label": cmd_label_annotate, "annotate": cmd_label_annotate,
    "delete": cmd_delete, "apply": cmd_apply, "logs": cmd_logs, "exec": cmd_exec,
    "describe": cmd_describe, "top": cmd_top, "wait": cmd_wait, "cluster-info": cmd_cluster_info,
    "version": cmd_version, "auth": cmd_auth,
}


def _verb(argv: list[str]) -> str | None:
    """The subcommand, skipping global flags and their values (`--context C -n NS logs ...`)."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return None
        if tok.startswith("-"):
            name = tok.lstrip("-")
            if "=" not in name and name in VALUE_FLAGS and name not in ("p", "f"):
                i += 1  # its value
        else:
            return tok
        i += 1
    return None


def handle(state: dict[str, Any], argv: list[str], stdin: str | None) -> Result:
    verb = _verb(argv)
    value_flags = dict(VALUE_FLAGS)
    bool_flags = dict(BOOL_FLAGS)
    if verb == "logs":  # -p is --previous and -f is --follow for logs
        value_flags.pop("f", None)
        bool_flags.update({"p": "previous", "f": "follow"})
    else:
        value_flags.update({"p": "patch", "f": "filename"})
    args = parse(argv, value_flags, bool_flags)
    if not args.positional:
        raise unsupported(argv)
    verb = args.positional[0]
    if verb == "config":
        return cmd_config(state, args, argv)
    fn = VERBS.get(verb)
    if fn is None:
        raise unsupported(argv)
    if verb == "version" and args.bool("client"):
        if args.get("output") == "json":
            return Result(out=json.dumps({"clientVersion": {"major": "1", "minor": "28", "gitVersion": "v1.28.3"},
                                          "kustomizeVersion": "v5.0.4-0.20230601165947-6ce0bf390ce3"},
                                         indent=2) + "\n")
        return Result(out="Client Version: v1.28.3\nKustomize Version: v5.0.4-0.20230601165947-6ce0bf390ce3\n")
    return fn(Ctx(state, argv, args, stdin))


def cmd_config(state: dict[str, Any], args: Args, argv: list[str]) -> Result:
    sub = args.positional[1] if len(args.positional) > 1 else ""
    if sub == "get-contexts":
        names = sorted(state["contexts"])
        wanted = args.positional[2:]
        for name in wanted:
            if name not in state["contexts"]:
                raise Exit(f'error: context {name} not found')
        names = wanted or names
        if args.get("output") == "name":
            return Result(out="".join(n + "\n" for n in names))
        rows = [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
        rows += [["", n, n, n, ""] for n in names]
        return Result(out=table(rows))
    if sub == "current-context":
        raise Exit("error: current-context is not set")
    raise unsupported(argv)


def main() -> int:
    from fake_common import run
    return run("kubectl", sys.argv[1:], handle)
