"""The execution boundary: the only place where external commands run.

Everything above it builds `Command`s (argv data) and decides; the `Runner` carries them out:
- locally through an invoke `Context`, or on a remote host through a fabric `Connection`
  (`host="ssh://user@host:port"`), which is opened lazily and closed with the runner;
- honouring invoke's `--dry`: actions are printed as `$ <command>` and not run, while read-only
  probes still run (with `dry=False`, since invoke's dry run returns blank results);
- with stdin closed and a timeout on every command, so no prompt or hung tool can stall a deploy;
- with every secret masked in echoed commands, streamed output and error messages;
- stoppable at once: SIGINT or SIGTERM, sent to the process alone or to its group, terminates the
  running command's process group and raises KeyboardInterrupt (`Terminated` for SIGTERM) in the
  caller, so recovery code runs without waiting for a kubectl to time out; inside `shielded()`
  (recovery under way) a signal is reported and otherwise ignored (docs/architecture.md, "Signals").
"""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from subprocess import PIPE, Popen
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

from invoke.runners import Local

from retail_deploy import redact
from retail_deploy.commands import Command
from retail_deploy.errors import CommandFailed, InputError, OperationFailed

if TYPE_CHECKING:
    from invoke.context import Context

T = TypeVar("T")
P = ParamSpec("P")
DEFAULT_TIMEOUT = 600.0
# Set for the dry run of a read-only task (see retail_deploy.tasks._common): its plan is its reads,
# so each read is printed as a `$ ` line before it runs, like an action.
SHOW_READS: ContextVar[bool] = ContextVar("retail_deploy_show_reads", default=False)


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class _RedactingWriter(io.TextIOBase):
    """A stream that masks secrets line by line before passing text on (for live output)."""

    def __init__(self, target: IO[str], prefix: str = ""):
        self._target = target
        self._prefix = prefix
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._target.write(f"{self._prefix}{redact.redact(line)}\n")
        self._target.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._target.write(f"{self._prefix}{redact.redact(self._pending)}")
            self._pending = ""
        self._target.flush()


# --- signals: stop the running command at once, then let the caller recover ------------------

STOP_GRACE_S = 3.0  # a command stopped by a signal gets SIGTERM, then SIGKILL if still there
_HANDLED = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling a job, a supervisor stopping us, `kill PID`). A
    KeyboardInterrupt, so every Ctrl-C recovery path handles it the same way; the exit code stays
    the contract's 130 (interrupted)."""


def interruption(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(output: str) -> str:
    """A command's output without terminal colour codes, stripped: Maven ends its stderr with a
    bare colour reset, which would otherwise be all an error message quotes of a failed build."""
    return _ANSI.sub("", output).strip()


def signal_name(interrupt: BaseException) -> str:
    """For messages: which signal a KeyboardInterrupt stands for."""
    return "SIGTERM" if isinstance(interrupt, Terminated) else "SIGINT"


class _SignalState:
    """Process-wide: the commands running now, and what a shield protects."""

    def __init__(self) -> None:
        self.running: set[_StoppableLocal] = set()
        self.shields: list[SignalGuard] = []


_SIGNALS = _SignalState()


def _report(text: str) -> None:
    # os.write, not print: a handler may run in the middle of a print to the same stream.
    try:
        os.write(2, f"retail-deploy: {text}\n".encode())
    except OSError:
        pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _SIGNALS.shields:
        guard = _SIGNALS.shields[-1]
        guard.received.append(name)
        _report(f"{name} received while {guard.doing}: finishing that first, so it is not left half done")
        return
    main_waits = False
    for child in list(_SIGNALS.running):
        child.halt(signum)
        main_waits = main_waits or child.owner is threading.main_thread()
    if not main_waits:  # the main thread is not waiting for a command (it sleeps, checks HTTP...)
        raise interruption(signum)
    # else: the stopped command returns at once, and Runner._execute raises the interruption


class SignalGuard:
    """What `handling_signals()` yields: `shield(doing)` makes every later signal, until the guard
    ends, reported and otherwise ignored (`received` lists them), so `doing` is not left half done."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.doing = ""
        self._shielded = False

    def shield(self, doing: str) -> None:
        self.doing = doing
        if not self._shielded:
            self._shielded = True
            _SIGNALS.shields.append(self)

    def lower(self) -> None:
        if self._shielded:
            self._shielded = False
            _SIGNALS.shields.remove(self)


@contextmanager
def handling_signals() -> Iterator[SignalGuard]:
    """SIGINT and SIGTERM, to this process alone or to its group, stop the running command at
    once and raise KeyboardInterrupt (`Terminated`) here. Only the main thread can install signal
    handlers: elsewhere this changes nothing. A signal ignored when we started (a background job
    of a script ignores SIGINT) stays ignored."""
    guard = SignalGuard()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in _HANDLED:
            current = signal.getsignal(signum)
            if current not in (signal.SIG_IGN, _on_signal):
                previous[signum] = signal.signal(signum, _on_signal)
    try:
        yield guard
    finally:
        guard.lower()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def shielded(doing: str) -> Iterator[SignalGuard]:
    """Recovery under way (putting traffic back, rolling back): a signal now is reported and
    ignored. Outside `handling_signals()` in the main thread, a signal still reaches Python's own
    handler (SIGINT: KeyboardInterrupt), so the handlers are installed here too."""
    with handling_signals() as guard:
        guard.shield(doing)
        yield guard


class _StoppableLocal(Local):
    """invoke's local runner, made stoppable by a signal handler at once.

    When our handler takes SIGINT, the command runs in its own session: a Ctrl-C to the terminal's
    process group reaches it only through us (so a recovery command is not killed by the second
    Ctrl-C the shield ignores), and `halt()` ends its whole process group, not only the shell."""

    owner: threading.Thread
    stopped_by: int | None = None
    own_session = False

    def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
        if self.using_pty:
            super().start(command, shell, env)
        else:
            self.own_session = signal.getsignal(signal.SIGINT) is _on_signal
            # as invoke's Local.start (the command is shlex-joined argv), plus the session
            self.process = Popen(command, shell=True, executable=shell, env=env,  # noqa: S602
                                 stdout=PIPE, stderr=PIPE, stdin=PIPE, start_new_session=self.own_session)
        self.owner = threading.current_thread()
        _SIGNALS.running.add(self)

    def _signal(self, signum: int) -> None:
        pid = self.pid if self.using_pty else self.process.pid
        try:
            if self.own_session:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def halt(self, signum: int) -> None:
        """Terminate the command now (SIGTERM to its group); SIGKILL after a grace period."""
        self.stopped_by = self.stopped_by or signum
        self._signal(signal.SIGTERM)
        timer = threading.Timer(STOP_GRACE_S, self._kill_if_running)
        timer.daemon = True
        timer.start()

    def _kill_if_running(self) -> None:
        if not self.using_pty and self.process.poll() is None:  # reaped: its pid may be reused
            self._signal(signal.SIGKILL)

    def kill(self) -> None:  # invoke's timeout: the whole group, not only the shell
        self._signal(signal.SIGKILL)

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # invoke writes "\x03" to stdin, which we closed; stop the command instead
        self.halt(signal.SIGINT)

    def stop(self) -> None:  # invoke's cleanup once the command ended (or failed to start)
        super().stop()
        _SIGNALS.running.discard(self)


def _is_ssh_failure(error: BaseException) -> bool:
    from paramiko.ssh_exception import SSHException

    return isinstance(error, OSError | SSHException | EOFError)


def parse_ssh_url(url: str) -> tuple[str | None, str, int | None]:
    """`ssh://user@host:port` -> (user, host, port)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise InputError(f"invalid remote host {url!r}: expected ssh://user@host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"invalid port in remote host {url!r}") from None
    return parts.username, parts.hostname, port


class Runner:
    """Runs Commands on an invoke Context (local) or fabric Connection (remote)."""

    def __init__(self, ctx: Context, *, host: str | None = None,
                 default_timeout: float = DEFAULT_TIMEOUT, out: IO[str] | None = None,
                 connect_kwargs: dict[str, Any] | None = None, dry: bool | None = None):
        self.ctx = ctx
        self.host = host
        self.default_timeout = default_timeout
        self._out = out
        self._connect_kwargs = connect_kwargs or {}
        self._connection: Context | None = None  # a fabric Connection (an invoke Context over SSH)
        self._dry = dry
        self._announced: tuple[str, ...] = ()  # the argv last printed (a read is printed once)

    # -- lifecycle: `with Runner(...) as runner:` closes the SSH connection ---------------------
    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def dry(self) -> bool:
        if self._dry is not None:
            return self._dry
        try:
            return bool(self.ctx.config.run.dry)
        except AttributeError:
            return False

    @property
    def where(self) -> str:
        return self.host or "local"

    @property
    def out(self) -> IO[str]:
        return self._out or sys.stdout

    # -- narration ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A progress line. In a dry run it is a `# comment`, so the plan stays a readable script."""
        text = redact.redact(text)
        print(f"# {text}" if self.dry else text, file=self.out, flush=True)

    def announce(self, command: Command) -> None:
        suffix = "" if self.host is None else f"    # on {self.host}"
        self._announced = command.argv
        print(f"$ {redact.redact(command.display())}{suffix}", file=self.out, flush=True)

    # -- running ------------------------------------------------------------------------------
    def run(self, command: Command, *, check: bool = True, hide: bool = False,
            timeout: float | None = None) -> Result:
        """Run an action. In a dry run: print it, run nothing, return an empty success."""
        if command.read_only:
            return self.probe(command, check=check, timeout=timeout)
        self.announce(command)
        if self.dry:
            return Result("", "", 0)
        return self._execute(command, check=check, hide=hide, timeout=timeout)

    def probe(self, command: Command, *, check: bool = True, timeout: float | None = None) -> Result:
        """Run a read-only command and return its output, even in a dry run; output is not shown.
        In the dry run of a read-only task the command is printed first (`SHOW_READS`)."""
        if self.dry and SHOW_READS.get() and command.argv != self._announced:
            self.announce(command)
        return self._execute(command, check=check, hide=True, timeout=timeout)

    def action(self, equivalent: Command, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """An action done through an SDK or HTTP: printed as its CLI equivalent; skipped in a dry run."""
        self.announce(equivalent)
        if self.dry:
            return None
        return fn(*args, **kwargs)

    def attach(self, command: Command) -> int:
        """Run an interactive or long-lived command (a shell in a pod, a port-forward) on this
        terminal: stdin attached, a pty, no timeout; it ends when the person ends it. Dry run: print."""
        self.announce(command)
        if self.dry:
            return 0
        raw = self._backend().run(command.shell(), pty=True, warn=True, dry=False, echo=False)
        assert raw is not None  # invoke returns None only for a disowned command
        return int(raw.exited)

    def _execute(self, command: Command, *, check: bool, hide: bool, timeout: float | None) -> Result:
        from invoke.exceptions import CommandTimedOut

        limit = timeout or command.timeout or self.default_timeout
        # Registered secrets too (a URI, a token from a file), not only the command's declared ones.
        shown = redact.redact(command.display())
        options: dict[str, Any] = {
            "warn": True,
            "hide": True if hide else None,
            "dry": False,
            "echo": False,
            "pty": False,
            "timeout": limit,
            # stdin is fed from a string and then closed: a tool that wants to prompt (kubectl
            # credentials, ssh passphrases) gets EOF and fails instead of hanging a deploy at 2 a.m.
            "in_stream": io.StringIO(command.stdin or ""),
        }
        if not hide:
            options["out_stream"] = _RedactingWriter(self.out)
            options["err_stream"] = _RedactingWriter(sys.stderr)
        local = None if self.host is not None else _StoppableLocal(self.ctx)
        try:
            with handling_signals():
                if local is None:
                    raw = self._backend().run(command.shell(), **options)
                else:  # Context.run with our runner class (as fabric's Connection does)
                    raw = self.ctx._run(local, command.shell(), **options)
                if local is not None and local.stopped_by is not None:
                    raise interruption(local.stopped_by)
        except CommandTimedOut:
            raise CommandFailed(shown, None, f"no answer within {limit:g}s", self.where,
                                read_only=command.read_only) from None
        except Exception as error:
            # On Ctrl-C invoke forwards "\x03" to the child's stdin, which is closed once our
            # in_stream is exhausted: that ValueError would replace the KeyboardInterrupt (the
            # child already got SIGINT from the terminal), so callers could not clean up.
            if isinstance(error, ValueError) and isinstance(error.__context__, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            if self.host is None or not _is_ssh_failure(error):
                raise
            # Unreachable host, refused key, closed session: an operation that failed, said plainly,
            # not the "unexpected failure" of a bug.
            detail = redact.redact(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
            raise OperationFailed(f"cannot run on {self.host} ({detail}): {shown}; check that the host is up "
                                  "and accepts your SSH key") from error
        finally:
            for key in ("out_stream", "err_stream"):
                if key in options:
                    options[key].flush()
        assert raw is not None  # invoke returns None only for a disowned command
        result = Result(raw.stdout or "", raw.stderr or "", int(raw.exited))
        if check and not result.ok:
            detail = redact.redact(_plain(result.stderr) or _plain(result.stdout))
            raise CommandFailed(shown, result.exit_code, detail, self.where, read_only=command.read_only)
        return result

    def _backend(self) -> Context:
        if self.host is None:
            return self.ctx
        if self._connection is None:
            from fabric import Connection

            user, hostname, port = parse_ssh_url(self.host)
            self._connection = Connection(
                hostname, user=user, port=port, connect_timeout=15,
                connect_kwargs=dict(self._connect_kwargs),
            )
        return self._connection
