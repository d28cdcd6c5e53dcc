"""``purchaseflow gateway`` and ``purchaseflow mailsink`` as a user runs them: subprocesses."""

from __future__ import annotations

import os
import queue
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from conformance.doubles._serving import bind_loopback
from reference_impl.cli import main
from tests.support.native import loaded_extensions

from .receiver import Receiver

PURCHASEFLOW = str(Path(sys.executable).with_name("purchaseflow"))
URL = re.compile(r"http://127\.0\.0\.1:\d+")


class Cli:
    """A running ``purchaseflow`` subcommand whose stdout is read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [PURCHASEFLOW, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            self._lines.put(line.strip())
        self._lines.put(None)

    def read_line(self, timeout: float = 20.0) -> str:
        line = self._lines.get(timeout=timeout)
        if line is None:
            raise RuntimeError(f"exited with {self.process.wait()}: {self.stderr()}")
        return line

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> tuple[int, str, str]:
        """Send ``sig``; return the exit status, all of stdout and stderr."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code, "".join(self._output), self.stderr()

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def cli() -> Iterator[list[Cli]]:
    started: list[Cli] = []
    yield started
    for running in started:
        running.kill()


def start(cli: list[Cli], *args: str) -> Cli:
    running = Cli(*args)
    cli.append(running)
    return running


def own_lines(stderr: str) -> list[str]:
    """The lines of stderr that the command wrote, without the CLI host's notes about
    other plugins that cannot load (a half-installed checkout)."""
    unavailable = re.compile(r"^purchaseflow: command '[\w-]+' is unavailable")
    return [line for line in stderr.strip().splitlines() if not unavailable.match(line)]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PURCHASEFLOW, *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_gateway_runs_until_signalled(cli: list[Cli], sig: int, tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("seed: 9\ndecline_rate: 0.25\nwebhook:\n  drop_first: 1\n")
    gateway = start(
        cli, "gateway", "--port", "0", "--faults", str(faults), "--decline-rate", "0.5",
        "--duplicates", "2", "--dialect", "stripe",
    )
    match = URL.search(gateway.read_line())
    assert match is not None
    url = match.group(0)
    assert "stripe" in gateway.read_line()
    with httpx.Client(base_url=url) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        created = http.post(
            "/v1/checkout/sessions", json={"amount": 100, "currency": "EUR", "order_id": "o"}
        )
        assert created.status_code == 200
        faults_now = http.get("/_control/faults").json()
    assert faults_now["seed"] == 9  # from the file
    assert faults_now["decline_rate"] == 0.5  # the flag wins
    assert faults_now["webhook"]["drop_first"] == 1
    assert faults_now["webhook"]["duplicates"]["copies"] == 2

    code, out, err = gateway.stop(sig)
    assert code == 0, err
    assert "gateway double stopped" in out
    assert "Traceback" not in err


def test_gateway_serves_on_httptools_and_uvloop(cli: list[Cli]) -> None:
    # A double that shares the machine with the server it serves (the benchmarks) should
    # cost it as little CPU as it can: the C parser and loop, where the pure-Python ones
    # cost half as much again per call.
    gateway = start(cli, "gateway", "--port", "0")
    match = URL.search(gateway.read_line())
    assert match is not None
    assert loaded_extensions(gateway.process.pid, "httptools", "uvloop") == {
        "httptools", "uvloop"}
    with httpx.Client(base_url=match.group(0)) as http:
        created = http.post(
            "/v1/checkout/sessions", json={"amount": 100, "currency": "EUR", "order_id": "o"}
        )
        assert created.status_code == 200 and created.json()["url"]
        malformed = http.post("/v1/checkout/sessions", content=b"{not json",
                              headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400, malformed.text


def test_gateway_delivers_webhooks(cli: list[Cli], receiver: Receiver) -> None:
    gateway = start(
        cli, "gateway", "--port", "0", "--webhook-url", receiver.url, "--secret", "whsec_cli"
    )
    match = URL.search(gateway.read_line())
    assert match is not None
    with httpx.Client(base_url=match.group(0)) as http:
        session = http.post(
            "/v1/checkout/sessions", json={"amount": 100, "currency": "EUR", "order_id": "o"}
        ).json()
        http.post(f"/v1/checkout/sessions/{session['id']}/complete", json={"outcome": "failed"})
    [webhook] = receiver.wait_for(1)
    assert webhook.json["status"] == "Failed"
    assert gateway.stop(signal.SIGTERM)[0] == 0


def test_gateway_state_survives_a_restart_of_the_process(cli: list[Cli], tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite")
    sock = bind_loopback()
    hook = f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"
    args = ["gateway", "--port", "0", "--webhook-url", hook, "--state", state,
            "--backoff", "0.05", "--max-backoff", "0.1", "--max-attempts", "100"]
    first = start(cli, *args)
    url = URL.search(first.read_line())
    assert url is not None
    with httpx.Client(base_url=url.group(0)) as http:
        session = http.post(
            "/v1/checkout/sessions", json={"amount": 100, "currency": "EUR", "order_id": "o"}
        ).json()
        http.post(f"/v1/checkout/sessions/{session['id']}/complete", json={"outcome": "succeeded"})
        while not http.get("/v1/events", params={"kind": "delivery.attempt"}).json()["data"]:
            time.sleep(0.02)
    assert first.stop(signal.SIGTERM)[0] == 0

    with Receiver(sock=sock) as receiver:
        second = start(cli, *args)
        assert URL.search(second.read_line())
        [webhook] = receiver.wait_for(1, timeout=20)
        assert webhook.json["orderId"] == "o"
        assert second.stop()[0] == 0


def test_mailsink_runs_until_signalled(cli: list[Cli]) -> None:
    sink = start(cli, "mailsink", "--smtp-port", "0", "--http-port", "0")
    smtp_port = int(sink.read_line().rsplit(":", 1)[1])
    match = URL.search(sink.read_line())
    assert match is not None
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@x.test", "b@x.test", "Hi"
    message["X-Purchaseflow-Order-Id"] = "ord_cli"
    message.set_content("confirmed")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
        smtp.send_message(message)
    listed = httpx.get(match.group(0) + "/messages", params={"order_id": "ord_cli"}).json()
    assert [m["subject"] for m in listed["data"]] == ["Hi"]
    code, out, err = sink.stop(signal.SIGTERM)
    assert code == 0, err
    assert "mail sink stopped" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gateway", "--decline-rate", "2"], "decline_rate"),
        (["gateway", "--no-such-flag"], "unrecognized"),
        (["mailsink", "--smtp-port", "x"], "port"),
    ],
)
def test_bad_flags_are_one_line_and_a_failure(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = own_lines(result.stderr)
    assert len(lines) == 1 or lines[0].startswith("usage:"), result.stderr
    assert message in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gateway", "--faults", "/nonexistent/faults.yaml"], "cannot read"),
        (["gateway", "--webhook-url", "http://example.com/hook"], "loopback"),
        (["gateway", "--latency", "gaussian:1"], "--latency"),
        (["gateway", "--latency", "uniform:1"], "--latency"),
        (["gateway", "--outage", "5"], "--outage"),
        (["gateway", "--outage", "5:1"], "outage must end after it starts"),
        (["gateway", "--reorder-window", "1"], "webhook.reorder.window"),
        (["gateway", "--max-attempts", "0"], "max_attempts"),
        (["gateway", "--port", "70000"], "port must be 0-65535"),
        (["gateway", "--dialect", "soap"], "dialect"),
        (["mailsink", "--http-port", "-1"], "port must be 0-65535"),
    ],
)
def test_more_bad_flags_in_process(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_in_process(capsys, *args)
    assert code == 2
    assert len(lines) == 1 or lines[0].startswith("usage:"), lines
    assert message in lines[-1]


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """The console script's entry point without paying a process start: exit status and
    the command's own stderr lines."""
    try:
        code = main(list(args))
    except SystemExit as exit_:  # argparse's own errors
        code = int(exit_.code or 0)
    return code, own_lines(capsys.readouterr().err)


def test_bad_files_are_one_line_and_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("webhook:\n  duplicates: {copies: 0}\n")
    assert run_in_process(capsys, "gateway", "--faults", str(faults)) == (2, [
        "purchaseflow gateway: invalid faults: webhook.duplicates.copies: "
        "Input should be greater than or equal to 1"
    ])
    faults.write_text("seed: [1\n")
    code, [line] = run_in_process(capsys, "gateway", "--faults", str(faults))
    assert code == 2 and "line" in line
    state = tmp_path / "state.sqlite"
    state.write_text("not a database" * 100)
    code, [line] = run_in_process(capsys, "gateway", "--state", str(state))
    assert code == 2 and "cannot use state file" in line


def test_a_busy_port_is_one_line_and_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    taken = bind_loopback()
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        code, [line] = run_in_process(capsys, "gateway", "--port", port)
        assert code == 2 and "cannot listen" in line
        code, [line] = run_in_process(capsys, "mailsink", "--smtp-port", port)
        assert code == 2 and "cannot listen" in line
    finally:
        taken.close()
