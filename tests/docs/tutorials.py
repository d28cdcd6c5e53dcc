"""Runs the commands of the tutorial pages (docs/qa.md, docs/performance.md, docs/architect.md).

A tutorial marks each of its command blocks with an HTML comment on the line just above the
fence; readers see a plain code block, this module sees what to do with it. The convention
is documented for page authors in docs/contributing.md:

    <!-- tutorial: run [timeout=S] [exit=N] [expect="text"] [needs=cmd,cmd] -->
    <!-- tutorial: background url=URL | port=N [timeout=S] [needs=cmd,cmd] -->
    <!-- tutorial: file path=RELATIVE/PATH -->
    <!-- tutorial: show reason="why it is not run" -->
    <!-- tutorial: ports 8000 8780 -->        (page-wide, anywhere on the page)

Every ``sh``/``bash``/``console`` fence of a tutorial page must carry a marker, so that no
command is left unrun without a stated reason. A page runs in a new temporary directory
holding a copy of ``scenarios/`` (as the root of a clone would), with the virtual
environment's ``bin`` first on ``PATH`` and no ``PURCHASEFLOW_*`` variable inherited. The
ports a page declares are replaced, in every block, by free ports, so that a run never meets
another server on the machine. Background servers are started in process groups of their
own and stopped (SIGTERM, then SIGKILL) when the page ends, whatever happened.

A block that calls a ``purchaseflow`` subcommand this installation does not have (or names it
in ``needs=``) is skipped, saying which: the pages can document a command before it lands,
and their blocks run as soon as it does.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TUTORIAL_PAGES = ("qa.md", "performance.md", "architect.md")
BIN = Path(sys.executable).parent
PURCHASEFLOW = BIN / "purchaseflow"

COMMAND_FENCES = frozenset({"sh", "bash", "shell", "console"})
KINDS: dict[str, frozenset[str]] = {
    "run": frozenset({"timeout", "exit", "expect", "needs"}),
    "background": frozenset({"url", "port", "timeout", "needs"}),
    "file": frozenset({"path"}),
    "show": frozenset({"reason"}),
}
RUN_TIMEOUT = 120.0
READY_TIMEOUT = 60.0
STOP_GRACE = 20.0

_MARKER = re.compile(r"^\s*<!--\s*tutorial:\s*(?P<body>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
_SUBCOMMAND = re.compile(r"\bpurchaseflow\s+([a-z][a-z-]*)")


class MarkupError(ValueError):
    """A tutorial page whose markers this module cannot follow."""


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the fence's opening line, 1-based
    kind: str
    body: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.options).get(name, default)

    @property
    def test_id(self) -> str:
        words = re.findall(r"[a-z][a-z-]+", self.body.split("\n", 1)[0])
        what = words[1] if words[:1] == ["purchaseflow"] and len(words) > 1 else (
            words[0] if words else self.kind)
        return f"{self.page}:{self.line}-{self.kind}-{what}"

    @property
    def needs(self) -> tuple[str, ...]:
        named = [n for n in (self.option("needs") or "").split(",") if n]
        return tuple(dict.fromkeys([*_SUBCOMMAND.findall(self.body), *named]))


@dataclass(frozen=True)
class Page:
    name: str
    ports: tuple[int, ...]
    blocks: tuple[Block, ...]

    @property
    def runnable(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.kind != "show")


def _marker_fields(text: str, where: str) -> tuple[str, list[str], dict[str, str]]:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise MarkupError(f"{where}: {exc}") from None
    if not words:
        raise MarkupError(f"{where}: empty tutorial marker")
    kind, rest = words[0], words[1:]
    options = dict(w.split("=", 1) for w in rest if "=" in w)
    positional = [w for w in rest if "=" not in w]
    return kind, positional, options


def _check_block(kind: str, positional: list[str], options: dict[str, str], body: str,
                 where: str) -> None:
    if kind not in KINDS:
        raise MarkupError(f"{where}: unknown kind {kind!r} (one of {', '.join(KINDS)}, ports)")
    unknown = set(options) - KINDS[kind]
    if positional or unknown:
        extra = ", ".join(sorted(unknown)) or " ".join(positional)
        raise MarkupError(f"{where}: {kind} takes {', '.join(sorted(KINDS[kind]))}; got {extra}")
    if kind == "show" and not options.get("reason"):
        raise MarkupError(f"{where}: a show block must say why it is not run (reason=...)")
    if kind == "file":
        path = options.get("path", "")
        if not path or Path(path).is_absolute() or ".." in Path(path).parts:
            raise MarkupError(f"{where}: file needs path=, relative, inside the working dir")
    if kind == "background":
        if ("url" in options) == ("port" in options):
            raise MarkupError(f"{where}: background needs url= or port= (one of them)")
        if "\n" in body.replace("\\\n", "").strip():
            raise MarkupError(f"{where}: a background block holds one command")
    for name in ("timeout", "exit", "port"):
        if name in options and not re.fullmatch(r"\d+(\.\d+)?", options[name]):
            raise MarkupError(f"{where}: {name}={options[name]!r} is not a number")


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def parse_page(path: Path, name: str | None = None) -> Page:
    """The page's marked blocks, in order; ``MarkupError`` for anything ambiguous."""
    name = name or path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    ports: list[int] = []
    blocks: list[Block] = []
    pending: tuple[int, str, list[str], dict[str, str]] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        where = f"{name}:{index + 1}"
        marker = _MARKER.match(line)
        if marker:
            if pending is not None:
                raise MarkupError(f"{name}:{pending[0]}: marker not followed by a fence")
            kind, positional, options = _marker_fields(marker["body"], where)
            if kind == "ports":
                if options or not positional or not all(p.isdigit() for p in positional):
                    raise MarkupError(f"{where}: ports takes port numbers only")
                ports += [int(p) for p in positional]
            else:
                pending = (index + 1, kind, positional, options)
            index += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            close = fence["fence"]
            end = index + 1
            while end < len(lines) and not _closes(lines[end], close):
                end += 1
            if end == len(lines):
                raise MarkupError(f"{where}: fence never closed")
            indent = len(fence["indent"])
            body = "\n".join(line[indent:] for line in lines[index + 1:end]) + "\n"
            language = (fence["info"].split() or [""])[0]
            if pending is not None:
                if pending[0] != index:
                    raise MarkupError(f"{name}:{pending[0]}: marker not just above its fence")
                _, kind, positional, options = pending
                _check_block(kind, positional, options, body, where)
                blocks.append(Block(name, index + 1, kind, body, tuple(sorted(options.items()))))
                pending = None
            elif language in COMMAND_FENCES:
                raise MarkupError(
                    f"{where}: a ```{language} block without a tutorial marker; mark it run, "
                    "background or show (docs/contributing.md)")
            index = end + 1
            continue
        if pending is not None and line.strip():
            raise MarkupError(f"{name}:{pending[0]}: marker not followed by a fence")
        index += 1
    if pending is not None:
        raise MarkupError(f"{name}:{pending[0]}: marker not followed by a fence")
    return Page(name, tuple(ports), tuple(blocks))


# -- which commands this installation has -----------------------------------------------------


@functools.cache
def available_commands(executable: Path = PURCHASEFLOW) -> tuple[frozenset[str], str]:
    """The subcommands ``purchaseflow --help`` lists, and what it said about broken ones."""
    if not executable.exists():
        return frozenset(), f"the console script {executable} is not installed"
    done = subprocess.run([str(executable), "--help"], capture_output=True, text=True,
                          timeout=120, env=_environment())
    listed = re.findall(r"^ {4}([a-z][a-z-]*)(?:\s|$)", done.stdout, flags=re.MULTILINE)
    return frozenset(listed), done.stderr.strip()


def missing_reason(block: Block, executable: Path = PURCHASEFLOW) -> str | None:
    """Why ``block`` cannot run here (a subcommand it needs is absent), or None."""
    if not block.needs:
        return None
    commands, notes = available_commands(executable)
    missing = [c for c in block.needs if c not in commands]
    if not missing:
        return None
    names = ", ".join(f"`purchaseflow {c}`" for c in missing)
    said = [line for line in notes.splitlines() if any(f"'{c}'" in line for c in missing)]
    detail = f" ({'; '.join(said)})" if said else ""
    return f"needs {names}, which this installation does not have yet{detail}"


# -- running a page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: Literal["passed", "failed", "skipped"]
    message: str = ""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PURCHASEFLOW_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120",
               PYTHONUNBUFFERED="1", MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1")
    return env


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the group this module created for the process


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        for proc in _LIVE:
            _kill_group(proc, signal.SIGKILL)


@dataclass
class _Background:
    block: Block
    proc: subprocess.Popen[bytes]
    log: Path
    stopped_by_us: bool = False


@dataclass
class PageRun:
    """One run of one page: every runnable block's outcome, keyed by the block's line."""

    page: Page
    workdir: Path
    logdir: Path
    executable: Path = PURCHASEFLOW
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    port_map: dict[int, int] = field(default_factory=dict)
    _background: list[_Background] = field(default_factory=list)
    _settled: threading.Condition = field(default_factory=threading.Condition)
    _finished: bool = False

    def _settle(self, block: Block, outcome: Outcome) -> None:
        with self._settled:
            self.outcomes[block.line] = outcome
            self._settled.notify_all()

    def wait_for(self, block: Block, timeout: float | None = None) -> Outcome | None:
        """``block``'s outcome as soon as it is final (a server's only when the page ends,
        since it may still die while later blocks use it); None if the page ended without
        one (it raised)."""
        with self._settled:
            self._settled.wait_for(
                lambda: self._finished or (block.kind != "background"
                                           and block.line in self.outcomes),
                timeout=timeout)
            return self.outcomes.get(block.line)

    def substitute(self, text: str) -> str:
        for declared, actual in self.port_map.items():
            text = re.sub(rf"(?<!\d){declared}(?!\d)", str(actual), text)
        return text

    def run(self) -> dict[int, Outcome]:
        self.port_map = dict(zip(self.page.ports, free_ports(len(self.page.ports)), strict=True))
        failed_at: int | None = None
        try:
            for block in self.page.runnable:
                if failed_at is not None:
                    self._settle(block, Outcome(
                        "skipped", f"not run: the block at {self.page.name}:{failed_at} failed"))
                    continue
                reason = missing_reason(block, self.executable)
                if reason:
                    self._settle(block, Outcome("skipped", reason))
                    continue
                outcome = self._run_block(block)
                self._settle(block, outcome)
                if outcome.status == "failed":
                    failed_at = block.line
        finally:
            self._stop_background()
            with self._settled:
                self._finished = True
                self._settled.notify_all()
        return self.outcomes

    def _run_block(self, block: Block) -> Outcome:
        body = self.substitute(block.body)
        if block.kind == "file":
            target = self.workdir / (block.option("path") or "")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(body, encoding="utf-8")
            return Outcome("passed")
        if block.kind == "background":
            return self._start_background(block, body)
        return self._run_foreground(block, body)

    def _popen(self, script: str, stdout: int | object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["bash", "-c", script], cwd=self.workdir, env=_environment(),
                                stdout=stdout, stderr=subprocess.STDOUT,  # type: ignore[arg-type]
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        return proc

    def _forget(self, proc: subprocess.Popen[bytes]) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(proc)

    def _run_foreground(self, block: Block, body: str) -> Outcome:
        timeout = float(block.option("timeout") or RUN_TIMEOUT)
        expected_exit = int(block.option("exit") or 0)
        proc = self._popen("set -euo pipefail\n" + body, subprocess.PIPE)
        started = time.monotonic()
        try:
            raw, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc, signal.SIGKILL)
            raw, _ = proc.communicate()
            return Outcome("failed", f"{block.test_id}: still running after {timeout:g} s\n"
                                     f"{_tail(raw.decode(errors='replace'))}")
        finally:
            _kill_group(proc, signal.SIGKILL)  # anything the block left running in its group
            self._forget(proc)
        output = raw.decode(errors="replace")
        took = time.monotonic() - started
        header = f"{block.test_id} (after {took:.1f} s):\n{body}"
        if proc.returncode != expected_exit:
            return Outcome("failed", f"{header}exit status {proc.returncode}, the page says "
                                     f"{expected_exit}; output:\n{_tail(output)}")
        expect = block.option("expect")
        if expect and self.substitute(expect) not in output:
            return Outcome("failed", f"{header}the output lacks {expect!r}; output:\n"
                                     f"{_tail(output)}")
        return Outcome("passed", f"{took:.1f} s")

    def _start_background(self, block: Block, body: str) -> Outcome:
        log = self.logdir / f"{self.page.name}-{block.line}.log"
        with log.open("wb") as sink:
            proc = self._popen("exec " + body.strip(), sink)
        self._background.append(_Background(block, proc, log))
        timeout = float(block.option("timeout") or READY_TIMEOUT)
        url = self.substitute(block.option("url") or "")
        port = int(self.substitute(block.option("port") or "0"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return Outcome("failed", f"{block.test_id}: exited with {proc.returncode} "
                                         f"before it was ready:\n{_tail(log.read_text())}")
            if _answers(url, port):
                return Outcome("passed")
            time.sleep(0.2)
        return Outcome("failed", f"{block.test_id}: not ready after {timeout:g} s "
                                 f"({url or port}):\n{_tail(log.read_text())}")

    def _stop_background(self) -> None:
        for job in self._background:
            if job.proc.poll() is None:
                job.stopped_by_us = True
                _kill_group(job.proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for job in self._background:
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            _kill_group(job.proc, signal.SIGKILL)  # the server, or anything it left behind
            job.proc.wait()
            self._forget(job.proc)
            ready = self.outcomes.get(job.block.line)
            if not job.stopped_by_us and ready is not None and ready.status == "passed":
                self._settle(job.block, Outcome(
                    "failed", f"{job.block.test_id}: exited with {job.proc.returncode} while "
                              f"the page still needed it:\n{_tail(job.log.read_text())}"))


def _answers(url: str, port: int) -> bool:
    if url:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (urllib.error.URLError, OSError):
            return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def prepare_workdir(workdir: Path) -> Path:
    """A fresh directory that looks like the root of a clone to the tutorial's paths."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "scenarios", workdir / "scenarios",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return workdir
