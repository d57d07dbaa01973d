"""Shared plumbing of the kubectl and helm doubles: argv parsing, call log, injected failures, exit."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import kube_state as ks


class Exit(Exception):
    """Stop with this stderr text and exit code (stdout written so far is kept)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code


class Result:
    """What an invocation prints and returns. `early_out` is printed first, then the double sleeps
    `sleep` seconds (None: until killed) before printing `out`/`err`. (No dataclass: its import of
    `inspect` costs a visible share of every invocation's start-up.)"""

    def __init__(self, out: str = "", err: str = "", code: int = 0, early_out: str = "",
                 sleep: float | None = 0.0):
        self.out, self.err, self.code, self.early_out, self.sleep = out, err, code, early_out, sleep


class Args:
    def __init__(self) -> None:
        self.positional: list[str] = []
        self.flags: dict[str, list[str]] = {}
        self.after_dash: list[str] | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return self.flags.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.flags

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None:
            return default
        return value.lower() not in ("false", "0", "no")


def parse(argv: list[str], value_flags: dict[str, str], bool_flags: dict[str, str]) -> Args:
    """pflag-like parsing: `--f v`, `--f=v`, `-f v`, `-fv`, `-f=v`, combined booleans `-it`, `--`.

    `value_flags`/`bool_flags` map every spelling (without dashes) to a canonical name.
    """
    args = Args()
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            args.after_dash = argv[i + 1:]
            break
        if tok.startswith("--") and len(tok) > 2:
            name, eq, value = tok[2:].partition("=")
            if name in value_flags:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise Exit(f"error: flag needs an argument: --{name}")
                    value = argv[i]
                args.flags.setdefault(value_flags[name], []).append(value)
            elif name in bool_flags:
                args.flags.setdefault(bool_flags[name], []).append(value if eq else "true")
            else:
                raise Exit(f"error: unknown flag: --{name}")
        elif tok.startswith("-") and len(tok) > 1 and tok != "-":
            body = tok[1:]
            j = 0
            while j < len(body):
                ch = body[j]
                if ch in value_flags:
                    value = body[j + 1:]
                    value = value.removeprefix("=")
                    if not value:
                        i += 1
                        if i >= len(argv):
                            raise Exit(f"error: flag needs an argument: '{ch}' in -{ch}")
                        value = argv[i]
                    args.flags.setdefault(value_flags[ch], []).append(value)
                    break
                if ch in bool_flags:
                    rest = body[j + 1:]
                    if rest.startswith("="):
                        args.flags.setdefault(bool_flags[ch], []).append(rest[1:])
                        break
                    args.flags.setdefault(bool_flags[ch], []).append("true")
                    j += 1
                    continue
                raise Exit(f"error: unknown shorthand flag: '{ch}' in {tok}")
        else:
            args.positional.append(tok)
        i += 1
    return args


GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float:
    """Seconds in a Go duration ("5m", "1m30s", "300s"); a bare integer counts as seconds (kubectl)."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    total, num, i = 0.0, "", 0
    if not text:
        raise ValueError("empty duration")
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = ""
        while i < len(text) and not (text[i].isdigit() or text[i] == "."):
            unit += text[i]
            i += 1
        if not num or unit not in GO_DURATION_UNITS:
            raise ValueError(f"invalid duration {text!r}")
        total += float(num) * GO_DURATION_UNITS[unit]
        num = ""
    if num:
        raise ValueError(f"missing unit in duration {text!r}")
    return total


def injected(state: dict[str, Any], tool: str, argv: list[str]) -> Result | None:
    """A `fail_command` or `hang` fault whose `match` is a substring of this invocation."""
    # Match the shell-quoted line and the plain space-joined one (a JSON patch is quoted in the first).
    lines = (tool + " " + shlex.join(argv), tool + " " + " ".join(argv))
    for fault in list(state["faults"]):
        if fault["kind"] not in ("fail_command", "hang"):
            continue
        kw = fault.get("kw", {})
        if kw.get("tool") not in (None, tool):
            continue
        match = kw.get("match") or fault.get("target") or ""
        if not any(match in line for line in lines):
            continue
        ks.consume(state, fault)
        if fault["kind"] == "hang":
            return Result(sleep=None)
        stderr = kw.get("stderr", f"error: injected failure for {match!r}")
        return Result(out=kw.get("stdout", ""), err=stderr, code=int(kw.get("exit", 1)))
    return None


def run(tool: str, argv: list[str], handler: Callable[[dict[str, Any], list[str], str | None], Result]) -> int:
    path = os.environ.get(ks.STATE_ENV)
    if not path:
        sys.stderr.write(f"error: fake {tool}: ${ks.STATE_ENV} is not set (see tests/doubles/README.md)\n")
        return 1
    stdin_text = None
    if not sys.stdin.closed and ("-" in argv or "--filename=-" in argv or "-f-" in argv):
        try:
            stdin_text = sys.stdin.read()
        except (OSError, ValueError):
            stdin_text = ""
    with ks.locked(path) as state:
        entry: dict[str, Any] = {"tool": tool, "argv": list(argv), "time": ks.now(), "pid": os.getpid()}
        if stdin_text is not None:
            entry["stdin"] = stdin_text
        state["calls"].append(entry)
        ks.reconcile(state)
        result = injected(state, tool, argv)
        if result is None:
            try:
                result = handler(state, argv, stdin_text)
            except Exit as exc:
                result = Result(err=exc.message, code=exc.code)
            ks.reconcile(state)
        entry["exit"] = None if result.sleep is None else result.code
        hang_limit = float(state["settings"].get("hang_limit", 300.0))
    if result.sleep is None:
        result.sleep = hang_limit
        result.err, result.code = f"error: fake {tool}: hung for {hang_limit:g}s (hang_limit) and was never killed", 1
    return finish(result)


def finish(result: Result) -> int:
    try:
        if result.early_out:
            sys.stdout.write(result.early_out)
            sys.stdout.flush()
        if result.sleep:  # a hang sleeps until killed (or hang_limit)
            time.sleep(result.sleep)
    except KeyboardInterrupt:
        return 130
    if result.out:
        sys.stdout.write(result.out)
    if result.err:
        sys.stderr.write(result.err if result.err.endswith("\n") else result.err + "\n")
    sys.stdout.flush()
    return result.code


def dump_json(obj: Any) -> str:
    """kubectl prints unstructured objects with 4-space indent and sorted keys."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def human_age(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration."""
    s = int(max(seconds, 0))
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def table(rows: list[list[str]], padding: int = 3) -> str:
    """Go tabwriter as kubectl's printers use it: left aligned, `padding` spaces, last cell unpadded."""
    if not rows:
        return ""
    widths = [0] * max(len(r) for r in rows)
    for row in rows:
        for idx, cell in enumerate(row[:-1]):
            widths[idx] = max(widths[idx], len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[idx] + padding) for idx, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"
