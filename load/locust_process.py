"""Locust in a subprocess: its command line, and running it bounded in time.

``import locust`` monkey-patches the whole process (gevent) and registers a pytest plugin,
so only the Locust processes import it: the CLI writes a ``LoadConfig`` file, names it in
``PURCHASEFLOW_LOAD_CONFIG`` and runs ``python -m locust -f load/locustfile.py ...``. The
process runs in a session of its own, so that a run past its deadline is stopped with its
``--processes`` children (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from load.config import CONFIG_ENV

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class LocustCommand:
    config_path: Path
    stats_prefix: Path
    html: Path | None = None
    csv_prefix: Path | None = None
    headless: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 8089
    #: Seconds the web UI stays up after the run, before the audit.
    web_linger: int = 30
    processes: int | None = None
    role: str = "local"  # local, master or worker
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    master_bind_host: str = "127.0.0.1"
    expect_workers: int = 1
    expect_workers_wait: int = 120
    stop_timeout: float = 10.0
    loglevel: str = "INFO"
    locustfile: Path = LOCUSTFILE

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "locust", "-f", str(self.locustfile),
                "--loglevel", self.loglevel,
                # Failed requests are judged by our thresholds; Locust's own non-zero exit
                # then means Locust itself failed.
                "--exit-code-on-error", "0"]
        if self.role == "worker":
            # A worker only runs users: the master owns the shape, the reports and the end.
            argv += ["--worker", "--master-host", self.master_host,
                     "--master-port", str(self.master_port)]
            return argv
        argv += ["--stop-timeout", f"{self.stop_timeout:g}",
                 "--json-file", str(self.stats_prefix)]
        if self.html is not None:
            argv += ["--html", str(self.html)]
        if self.csv_prefix is not None:
            argv += ["--csv", str(self.csv_prefix)]
        if self.headless:
            argv.append("--headless")
        else:
            argv += ["--autostart", "--autoquit", str(self.web_linger),
                     "--web-host", self.web_host, "--web-port", str(self.web_port)]
        if self.role == "master":
            argv += ["--master", "--master-bind-host", self.master_bind_host,
                     "--master-bind-port", str(self.master_port),
                     "--expect-workers", str(self.expect_workers),
                     "--expect-workers-max-wait", str(self.expect_workers_wait)]
        elif self.processes is not None:
            argv += ["--processes", str(self.processes)]
        return argv

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env[CONFIG_ENV] = str(self.config_path)
        # The locustfile imports the harness packages wherever Locust is started from.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        return env


class LocustTimeout(RuntimeError):
    pass


def run_locust(command: LocustCommand, *, timeout: float, log_path: Path,
               echo: IO[str] | None) -> int:
    """Run Locust to its end; its output goes to ``log_path`` and, if given, ``echo``.

    Raises LocustTimeout (after stopping it) when it outlives ``timeout`` seconds.
    """
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command.argv(), env=command.environment(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True, bufsize=1)
        assert process.stdout is not None
        pump = threading.Thread(target=_pump, args=(process.stdout, log, echo), daemon=True)
        pump.start()
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise LocustTimeout(f"Locust did not finish within {timeout:g} s; stopped it "
                                f"(log: {log_path})") from None
        except BaseException:
            _stop_group(process)
            raise
        finally:
            pump.join(5)
    return code


def _pump(source: IO[str], log: IO[str], echo: IO[str] | None) -> None:
    for line in source:
        log.write(line)
        if echo is not None:
            echo.write(line)
            echo.flush()


def _stop_group(process: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue
