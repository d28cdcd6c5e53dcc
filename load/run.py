"""One ``purchaseflow load`` run, from options to exit status.

1. Check the options and the scenario (one line and exit status 2 for anything wrong).
2. Start what is not given: gateway double, mail sink, the reference implementation.
3. Reset the shop and load the scenario's data; mint the buyers' tokens.
4. Run Locust in a subprocess (``load/locust_process.py``), bounded in time.
5. Let the shop come to rest and audit it (``load/after_run.py``); judge the thresholds.
6. Print the summary, write ``summary.json``; exit 0, 1 (threshold), 3 (invariant) or 4.

A worker (``--worker``) only does 3's tokens and 4: the master owns the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from conformance.adapters import AdapterError, ShopAdapter
from conformance.doubles._serving import ServerThread
from conformance.reference_shop import ShopStartError
from load.adapters import build_adapter, load_adapter_class
from load.after_run import settle_and_audit
from load.config import Burst, LoadConfig, OpenWorkload, Stage, parse_duration
from load.diff import Diff, DiffError, diff
from load.diff import Run as DiffRun
from load.environment import LoadEnvironment, buyer_pool, mint_auth, prepare_shop
from load.locust_process import LocustCommand, LocustTimeout, run_locust
from load.lossy_link import LossyLink
from load.metrics import LATENCY_FILE, LatencyWindows, RunMetrics
from load.plan import closed_stages, open_stages
from load.report import RunStats, Threshold, top_failures, with_default_thresholds
from load.summary import Outcome, print_summary
from reference_impl.cli import CommandError
from scenarios import Scenario, ScenarioError, load_scenario

#: Startup of the Locust processes and writing their reports, beyond the load itself.
LOCUST_MARGIN = 60.0


@dataclass(frozen=True)
class Plan:
    """The options, checked and resolved against the scenario."""

    scenario: Scenario
    stages: tuple[Stage, ...]
    open: OpenWorkload | None
    thresholds: list[Threshold]
    seed: int
    run_time: float

    @property
    def description(self) -> str:
        if self.open is not None:
            users = self.stages[0].users
            return (f"open workload, {self.open.rate:g} arrivals/s"
                    f"{' + bursts' if self.open.bursts else ''}, up to {users} users, "
                    f"{self.run_time:g} s")
        peak = max(s.users for s in self.stages)
        return f"closed workload, {peak} users, {self.run_time:g} s"


def _stage(text: str, default_rate: float) -> tuple[float, int, float]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise CommandError(f"--stage {text!r}: expected DURATION:USERS[:RATE], e.g. 30s:10")
    try:
        duration = parse_duration(parts[0])
        users = int(parts[1])
        rate = float(parts[2]) if len(parts) == 3 else default_rate
    except ValueError as exc:
        raise CommandError(f"--stage {text!r}: {exc}") from None
    if duration <= 0 or users < 0 or rate <= 0:
        raise CommandError(f"--stage {text!r}: needs a duration > 0, users >= 0, rate > 0")
    return duration, users, rate


def plan_run(args: argparse.Namespace) -> Plan:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc).splitlines()[0]) from None
    if args.mix is not None and args.mix not in scenario.buyers.mixes:
        raise CommandError(f"--mix {args.mix!r}: the scenario's mixes are "
                           f"{', '.join(scenario.buyers.mixes)}")
    try:
        thresholds = with_default_thresholds([Threshold.parse(t) for t in args.threshold])
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    settings = scenario.run.load
    users = args.users or settings.users
    spawn_rate = args.spawn_rate or settings.spawn_rate
    run_time = args.run_time or settings.run_time or scenario.run.duration
    if args.closed and args.arrival_rate:
        raise CommandError("--closed and --arrival-rate: choose one workload model")
    # Open when asked for, or when the scenario's run.load gives an arrival rate.
    rate = args.arrival_rate
    if rate is None and not args.closed and (args.open or settings.arrival_rate):
        rate = settings.arrival_rate or scenario.buyers.arrivals.rate
    if rate is not None:
        if args.stage:
            raise CommandError("--stage shapes a closed workload; an open one is shaped by "
                               "its arrival rate and the scenario's bursts")
        if not args.spawn_rate:
            spawn_rate = max(spawn_rate, float(users))  # the pool is ready within a second
        stages, start_after = open_stages(users, spawn_rate, run_time)
        bursts = tuple(Burst(b.at, b.buyers, b.over) for b in scenario.buyers.arrivals.bursts
                       if b.at < run_time)
        open_workload = OpenWorkload(rate=rate, run_time=run_time, start_after=start_after,
                                     bursts=bursts, poisson=args.arrivals == "poisson")
        return Plan(scenario, stages, open_workload, thresholds,
                    scenario.run.seed if args.seed is None else args.seed, run_time)
    shaped = [_stage(s, spawn_rate) for s in args.stage]
    stages = closed_stages(users, spawn_rate, run_time, shaped)
    if shaped:
        run_time = stages[-1].until
    return Plan(scenario, stages, None, thresholds,
                scenario.run.seed if args.seed is None else args.seed, run_time)


def _check_roles(args: argparse.Namespace) -> None:
    if args.worker:
        if args.reference or not args.url:
            raise CommandError("--worker needs --url (the shop) and no --reference: the "
                               "master starts and audits everything")
    elif not args.url and not args.reference:
        raise CommandError("give the shop to load: --url URL, or --reference")
    if not args.reference:
        for option, given in (("--shop-workers", args.shop_workers != 1),
                              ("--shop-database-url", args.shop_database_url is not None),
                              ("--shop-writer-priority", args.shop_writer_priority != 0)):
            if given:
                raise CommandError(f"{option} goes with --reference")
    if args.lose_answers and (args.master or args.worker):
        # The link runs on loopback beside this process: users on other machines could
        # not reach it.
        raise CommandError("--lose-answers runs on one machine: not with --master or --worker")


def _baseline(args: argparse.Namespace) -> DiffRun | None:
    """The ``--baseline`` run, read before anything starts: a wrong folder costs no load."""
    if args.baseline is None:
        return None
    if args.worker:
        raise CommandError("--baseline goes with the master (or the only process), which "
                           "writes the reports")
    try:
        return DiffRun.read(Path(args.baseline))
    except DiffError as exc:
        raise CommandError(f"--baseline: {exc}") from None


def _against(baseline: DiffRun, outcome: Outcome, out: Path, latency: Path,
             problems: list[str]) -> Diff | None:
    """This run compared with the baseline, or None (with a problem) where it cannot be."""
    try:
        windows = LatencyWindows.from_json(json.loads(latency.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        problems.append(f"cannot compare with the baseline: no response times ({exc})")
        return None
    data = outcome.to_json()
    return diff(baseline, DiffRun(out, outcome.title, data["steps"], data["audit"], windows))


def execute(args: argparse.Namespace) -> int:
    _check_roles(args)
    plan = plan_run(args)
    baseline = _baseline(args)
    try:
        load_adapter_class(args.adapter)  # before anything starts
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.worker:
        return _run_worker(args, plan)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # logs and CI: room for the tables' columns
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if plan.open is None and plan.scenario.buyers.arrivals.bursts:
        console.print("note: the scenario's bursts shape the open workload (--open); "
                      "a closed workload ignores them", highlight=False)
    environment = LoadEnvironment(
        plan.scenario, shop_url=args.url, reference=args.reference,
        reference_workers=args.shop_workers, reference_database_url=args.shop_database_url,
        reference_writer_priority=args.shop_writer_priority, admin_token=args.admin_token,
        webhook_secret=args.webhook_secret, gateway_url=args.gateway_url,
        gateway_port=args.gateway_port, mail_url=args.mailsink_url, smtp_port=args.smtp_port)
    try:
        wiring = environment.start()
    except (ShopStartError, OSError, ValueError) as exc:
        raise CommandError(f"cannot start the run's servers: {exc}") from None
    with environment, ExitStack() as stop_after:
        assert wiring.shop_url is not None
        adapter = build_adapter_or_fail(args.adapter, wiring.shop_url, args.admin_token)
        buyers = buyer_pool(plan.scenario, args.buyers)
        try:
            prepare_shop(adapter, plan.scenario, buyers, reset=not args.keep_data,
                         mail_url=wiring.mail_url, seed=plan.seed)
            auth = mint_auth(adapter, buyers)
        except (AdapterError, httpx.HTTPError) as exc:
            raise CommandError(f"cannot set up the shop at {wiring.shop_url}: {exc}") from None
        html = Path(args.html) if args.html else out / "report.html"
        csv_prefix = Path(args.csv) if args.csv else out / "locust"
        metrics_path = out / "metrics.json"
        stats_prefix = out / "stats"
        for stale in (metrics_path, metrics_path.with_name(LATENCY_FILE),
                      stats_prefix.with_suffix(".json")):
            stale.unlink(missing_ok=True)
        link, users_url = _lossy_link(stop_after, args.lose_answers, wiring.shop_url,
                                      plan.seed)
        config = LoadConfig(
            url=users_url, scenario=str(plan.scenario.source), adapter=args.adapter,
            admin_token=args.admin_token, gateway_url=wiring.gateway_url, mix=args.mix,
            think_scale=args.think_time_scale, seed=plan.seed, buyers=tuple(buyers), auth=auth,
            stages=plan.stages, open=plan.open, metrics_path=str(metrics_path),
            retries=args.retries, retry_backoff=args.retry_backoff)
        command = LocustCommand(
            config_path=Path(), stats_prefix=stats_prefix, html=html, csv_prefix=csv_prefix,
            headless=args.headless, web_host=args.web_host, web_port=args.web_port,
            web_linger=args.web_linger, processes=args.processes,
            role="master" if args.master else "local", master_port=args.master_port,
            master_bind_host=args.master_bind_host, expect_workers=args.expect_workers,
            stop_timeout=args.stop_timeout)
        timeout = (plan.stages[-1].until + args.stop_timeout + LOCUST_MARGIN
                   + (0 if args.headless else args.web_linger)
                   + (command.expect_workers_wait if args.master else 0))
        title = f"purchaseflow load: {plan.scenario.profile.name}, {plan.description}"
        console.print(f"[bold]{title}[/] against {wiring.shop_url}", highlight=False)
        # Workers on other machines need the gateway's address (--gateway-url).
        console.print(f"gateway double: {wiring.gateway_url}; mail sink: {wiring.mail_url}"
                      + ("" if args.headless else
                         f"; web UI: http://{args.web_host}:{args.web_port}"), highlight=False)
        if link is not None:
            console.print(f"lossy link: {users_url} loses {args.lose_answers:.0%} of the "
                          "answers to requests with an Idempotency-Key", highlight=False)
        problems = _run_generator(command, config, timeout, out, args.quiet)
        lossy = None
        if link is not None:
            lossy = {"share": args.lose_answers, "lost": link.lost}
            console.print(f"lossy link: {link.lost} answers lost", highlight=False)
        audit = None
        try:
            audit = settle_and_audit(
                adapter, plan.scenario, gateway_url=wiring.gateway_url,
                mail_url=wiring.mail_url, settle_timeout=args.settle_timeout,
                grace=args.ttl_grace)
        except (AdapterError, httpx.HTTPError, KeyError, ValueError) as exc:
            problems.append(f"the audit could not read the shop: {exc}")
        adapter.close()
    stats_file = stats_prefix.with_suffix(".json")
    stats = RunStats.read(stats_file) if stats_file.exists() else None
    if stats is None:
        problems.append("Locust wrote no statistics (see locust.log)")
    metrics = (RunMetrics.from_json(_json(metrics_path)) if metrics_path.exists()
               else RunMetrics())
    if metrics.user_errors:
        problems.append(f"{metrics.user_errors} exceptions in the load test's users "
                        "(see locust.log)")
    results = [t.judge(stats, metrics) for t in plan.thresholds] if stats else []
    outcome = Outcome(
        title=title, stats=stats, metrics=metrics, thresholds=results, audit=audit,
        failures=top_failures(Path(f"{csv_prefix}_failures.csv")),
        reports={"HTML report": str(html), "CSV": f"{csv_prefix}_*.csv",
                 "Locust log": str(out / "locust.log"), "summary": str(out / "summary.json"),
                 **({"latency windows": str(latency)} if (
                     latency := metrics_path.with_name(LATENCY_FILE)).exists() else {})},
        problems=problems, lossy_link=lossy)
    if baseline is not None:
        outcome.baseline = _against(baseline, outcome, out, latency, problems)
    print_summary(outcome, console)
    outcome.write(out / "summary.json")
    return outcome.exit_code


def _lossy_link(stop_after: ExitStack, lose: float, shop_url: str,
                seed: int) -> tuple[LossyLink | None, str]:
    """The relay that loses answers (``--lose-answers``), serving until ``stop_after``
    closes, and the address the users are to call: the relay's, or the shop's without it."""
    if not lose:
        return None, shop_url
    link = LossyLink(shop_url, lose, seed)
    server = ServerThread(link, name="purchaseflow-lossy-link")
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        raise CommandError(f"cannot start the lossy link: {exc}") from None
    stop_after.callback(server.stop)
    return link, server.url


def build_adapter_or_fail(spec: str, url: str, admin_token: str) -> ShopAdapter:
    try:
        return build_adapter(spec, url, admin_token)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _run_generator(command: LocustCommand, config: LoadConfig, timeout: float, out: Path,
                   quiet: bool) -> list[str]:
    """Run Locust; what went wrong with it (the audit runs whatever happened)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="purchaseflow-load-") as tmp:
        # The config holds the buyers' tokens: it lives only as long as the run.
        path = config.write(Path(tmp) / "config.json")
        command = replace(command, config_path=path)
        try:
            code = run_locust(command, timeout=timeout, log_path=out / "locust.log",
                              echo=None if quiet else sys.stdout)
            if code != 0:
                problems.append(f"Locust exited with status {code} (see locust.log)")
        except LocustTimeout as exc:
            problems.append(str(exc))
        except KeyboardInterrupt:
            # Locust got SIGTERM and wrote its reports; the shop is audited all the same.
            problems.append("interrupted")
    return problems


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _run_worker(args: argparse.Namespace, plan: Plan) -> int:
    adapter = build_adapter_or_fail(args.adapter, args.url, args.admin_token)
    buyers = buyer_pool(plan.scenario, args.buyers)
    try:
        auth = mint_auth(adapter, buyers)
    except (AdapterError, httpx.HTTPError) as exc:
        raise CommandError(f"cannot log the buyers in at {args.url}: {exc}") from None
    gateway_url = args.gateway_url or f"http://127.0.0.1:{args.gateway_port}"
    config = LoadConfig(
        url=args.url, scenario=str(plan.scenario.source), adapter=args.adapter,
        admin_token=args.admin_token, gateway_url=gateway_url, mix=args.mix,
        think_scale=args.think_time_scale, seed=plan.seed, buyers=tuple(buyers), auth=auth,
        open=plan.open, retries=args.retries, retry_backoff=args.retry_backoff)
    command = LocustCommand(config_path=Path(), stats_prefix=Path(), role="worker",
                            master_host=args.master_host, master_port=args.master_port)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # A worker waits for its master: bounded by the run it expects, plus the wait for it.
    timeout = plan.stages[-1].until + args.stop_timeout + LOCUST_MARGIN + 600
    problems = _run_generator(command, config, timeout, out, args.quiet)
    for problem in problems:
        print(f"purchaseflow load: {problem}", file=sys.stderr)
    return 4 if problems else 0

