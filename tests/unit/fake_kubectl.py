#!/usr/bin/env python3
"""A kubectl test double for the troubleshooting tasks: answers from recorded output files.

It refuses any command that does not pin --context, --namespace and --request-timeout (the
tasks must never read the wrong cluster), records every call as a JSON line in
$FAKE_KUBECTL_LOG, and answers from the scenario in $FAKE_KUBECTL_SCENARIO:
{"<args after the pins, space-joined>": {"stdout": "...", "file": "fixture name", "stderr": "", "exit": 0}}.
Anything not in the scenario gets its "*" answer, if any, else kubectl's NotFound error and exit 1.
"""

import json
import os
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubectl"


def main() -> int:
    args = sys.argv[1:]
    pins = {}
    rest = []
    i = 0
    while i < len(args):
        if args[i] in ("--context", "--namespace", "--request-timeout") and i + 1 < len(args):
            pins[args[i]] = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
        log.write(json.dumps({"pins": pins, "args": rest}) + "\n")
    if set(pins) != {"--context", "--namespace", "--request-timeout"}:
        print("fake kubectl: command not pinned to context/namespace/request-timeout", file=sys.stderr)
        return 2
    scenario = json.loads(Path(os.environ["FAKE_KUBECTL_SCENARIO"]).read_text())
    answer = scenario.get(" ".join(rest), scenario.get("*"))
    if answer is None:
        print(f'Error from server (NotFound): no recorded answer for "{" ".join(rest)}"', file=sys.stderr)
        return 1
    stdout = answer.get("stdout", "")
    if "file" in answer:
        stdout = (FIXTURES / answer["file"]).read_text()
    sys.stdout.write(stdout)
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit", 0))


if __name__ == "__main__":
    sys.exit(main())
