"""The subset of kubectl's JSONPath templates that deploy tooling uses.

Supports `{.a.b}`, escaped dots (`{.metadata.annotations.deployment\\.kubernetes\\.io/revision}`),
`[N]`, `[-1]`, `[*]`, `[a:b]`, `['key']`, `.*`, filters `[?(@.a.b=="x")]` (== != < > <= >=, or just
`[?(@.a)]`), `{range ...}...{end}`, quoted literals `{"\\n"}` and plain text. Like `kubectl get`,
missing keys print nothing (--allow-missing-template-keys defaults to true). Several results of one
expression are joined by a space; maps and lists print as JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any


class JSONPathError(Exception):
    pass


def _split_template(template: str) -> list[tuple[str, str]]:
    """[('text', ...) | ('expr', ...)] honouring quotes inside braces."""
    parts: list[tuple[str, str]] = []
    i, buf = 0, ""
    while i < len(template):
        ch = template[i]
        if ch == "{":
            if buf:
                parts.append(("text", buf))
                buf = ""
            j, quote = i + 1, None
            while j < len(template):
                c = template[j]
                if quote:
                    if c == "\\":
                        j += 1
                    elif c == quote:
                        quote = None
                elif c in "\"'":
                    quote = c
                elif c == "}":
                    break
                j += 1
            if j >= len(template):
                raise JSONPathError(f"unclosed action in {template!r}")
            parts.append(("expr", template[i + 1:j].strip()))
            i = j + 1
            continue
        buf += ch
        i += 1
    if buf:
        parts.append(("text", buf))
    return parts


def _parse_path(path: str) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = []
    i = 0
    if path[:1] in ("$", "@"):
        i = 1
    while i < len(path):
        ch = path[i]
        if ch == ".":
            i += 1
            if i < len(path) and path[i] == "*":
                steps.append(("wild", None))
                i += 1
                continue
            name = ""
            while i < len(path) and path[i] not in ".[":
                if path[i] == "\\" and i + 1 < len(path):
                    name += path[i + 1]
                    i += 2
                    continue
                name += path[i]
                i += 1
            if name:
                steps.append(("key", name))
        elif ch == "[":
            depth, j = 1, i + 1
            while j < len(path) and depth:
                if path[j] == "[":
                    depth += 1
                elif path[j] == "]":
                    depth -= 1
                j += 1
            inner = path[i + 1:j - 1].strip()
            i = j
            if inner == "*":
                steps.append(("wild", None))
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(("filter", inner[2:-1].strip()))
            elif inner[:1] in "'\"":
                steps.append(("key", inner[1:-1]))
            elif ":" in inner:
                a, b = (inner.split(":") + [""])[:2]
                steps.append(("slice", (int(a) if a.strip() else None, int(b) if b.strip() else None)))
            else:
                try:
                    steps.append(("index", int(inner)))
                except ValueError:
                    raise JSONPathError(f"unrecognized character in action: {inner!r}") from None
        else:
            raise JSONPathError(f"unrecognized character in action: {path[i:]!r}")
    return steps


_FILTER = re.compile(r"^(@[^\s=!<>]*)\s*(==|!=|<=|>=|<|>)\s*(.+)$")


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _filter_ok(node: Any, expr: str) -> bool:
    m = _FILTER.match(expr)
    if not m:
        return bool(_eval(node, expr))
    left = _eval(node, m.group(1))
    if not left:
        return False
    a, op, b = left[0], m.group(2), _literal(m.group(3))
    try:
        return bool({"==": a == b, "!=": a != b}.get(op) if op in ("==", "!=") else
                    {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])
    except TypeError:
        return False


def _eval(root: Any, path: str) -> list[Any]:
    nodes = [root]
    for kind, arg in _parse_path(path):
        out: list[Any] = []
        for node in nodes:
            if kind == "key":
                if isinstance(node, dict) and arg in node:
                    out.append(node[arg])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    out.append(node[arg])
            elif kind == "slice":
                if isinstance(node, list):
                    out.extend(node[arg[0]:arg[1]])
            elif kind == "wild":
                if isinstance(node, list):
                    out.extend(node)
                elif isinstance(node, dict):
                    out.extend(node[k] for k in sorted(node))
            elif kind == "filter":
                items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
                out.extend(item for item in items if _filter_ok(item, arg))
        nodes = out
    return nodes


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return body.encode("utf-8").decode("unicode_escape") if "\\" in body else body


def render(template: str, data: Any) -> str:
    parts = _split_template(template)
    out, _ = _render(parts, 0, data)
    return out


def _render(parts: list[tuple[str, str]], i: int, node: Any) -> tuple[str, int]:
    out = ""
    while i < len(parts):
        kind, text = parts[i]
        if kind == "text":
            out += text
            i += 1
            continue
        if text == "end":
            return out, i
        if text.startswith("range "):
            items = _eval(node, text[len("range "):].strip())
            # find the matching end by rendering the body once per item
            body_start = i + 1
            end_index = _matching_end(parts, body_start)
            for item in items:
                rendered, _ = _render(parts[:end_index], body_start, item)
                out += rendered
            i = end_index + 1
            continue
        if text[:1] in "'\"":
            out += _unquote(text)
        else:
            out += " ".join(_fmt(v) for v in _eval(node, text))
        i += 1
    return out, i


def _matching_end(parts: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for j in range(start, len(parts)):
        kind, text = parts[j]
        if kind != "expr":
            continue
        if text.startswith("range "):
            depth += 1
        elif text == "end":
            if depth == 0:
                return j
            depth -= 1
    raise JSONPathError("not all range actions were closed")
