"""The report: a verdict per invariant, in Markdown, HTML, JUnit XML and JSON.

Every invariant gets one verdict: ``passed`` (checked on that many examples, never
violated), ``failed`` (with its evidence: the minimal sequence and its replay script, the
race's history, or Schemathesis' reproduction), or ``not applicable`` (with the reason:
the profile, ``--only``, or what this run could not reach).

    report-dir/
      report.md  report.html  report.json  junit.xml
      failures/I3/steps.md        the minimal sequence, numbered requests and responses
      failures/I3/steps.json
      failures/I3/replay.py       runnable against the SUT
      histories/last-units.jsonl  each race's history (invoke / ok / fail / info)
      schema/findings.json        Schemathesis' findings with their curl reproductions
"""

from __future__ import annotations

import html
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.invariants import INVARIANTS

PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not applicable"


@dataclass
class Verdict:
    invariant: str
    status: str
    examples: int = 0
    #: Why it does not apply, or (passed) what this run could not reach.
    reason: str | None = None
    findings: list[str] = field(default_factory=list)
    #: Where the evidence is, relative to the report folder.
    evidence: list[str] = field(default_factory=list)
    #: Which phase caught it first ("walk: happy path", "exploration", "race: ...", "schema").
    caught_by: str | None = None
    seconds_to_catch: float | None = None

    @property
    def title(self) -> str:
        return INVARIANTS[self.invariant].title

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "title": self.title, "status": self.status,
                "examples": self.examples, "reason": self.reason, "findings": self.findings,
                "evidence": self.evidence, "caught_by": self.caught_by,
                "seconds_to_catch": self.seconds_to_catch}


@dataclass
class Report:
    target: str
    scenario: str
    profile: str
    seed: int
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    #: Harness or SUT breakdowns (unreachable, not HTTP, setup refused): exit status 2.
    errors: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [i for i, v in self.verdicts.items() if v.status == FAILED]

    @property
    def exit_code(self) -> int:
        """0 every invariant held; 1 one was violated; 2 the harness or the SUT broke down."""
        if self.errors:
            return 2
        return 1 if self.failed else 0

    @property
    def first_failure(self) -> Verdict | None:
        caught = [v for v in self.verdicts.values() if v.status == FAILED]
        caught.sort(key=lambda v: v.seconds_to_catch if v.seconds_to_catch is not None
                    else float("inf"))
        return caught[0] if caught else None

    def summary_line(self) -> str:
        counts = {s: sum(v.status == s for v in self.verdicts.values())
                  for s in (PASSED, FAILED, NOT_APPLICABLE)}
        line = (f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[NOT_APPLICABLE]} "
                f"not applicable in {self.seconds:.1f} s")
        if self.failed:
            line += f"; violated: {', '.join(self.failed)}"
        if self.errors:
            line += f"; harness error: {self.errors[0]}"
        return line

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "scenario": self.scenario, "profile": self.profile,
                "seed": self.seed, "started_at": self.started_at,
                "seconds": round(self.seconds, 3), "exit_code": self.exit_code,
                "verdicts": [v.to_json() for v in self.verdicts.values()],
                "phases": self.phases, "errors": self.errors}

    # -- writing -----------------------------------------------------------------------------

    def write(self, folder: Path, junit: Path | None = None) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "json": folder / "report.json",
            "markdown": folder / "report.md",
            "html": folder / "report.html",
            "junit": junit or folder / "junit.xml",
        }
        files["json"].write_text(json.dumps(self.to_json(), indent=2, default=str))
        files["markdown"].write_text(self.markdown())
        files["html"].write_text(self.html())
        files["junit"].parent.mkdir(parents=True, exist_ok=True)
        files["junit"].write_text(self.junit())
        self.files.update(files)
        return files

    def markdown(self) -> str:
        lines = [
            "# purchaseflow conformance report", "",
            f"- target: `{self.target}`",
            f"- scenario: `{self.scenario}` (profile `{self.profile}`)",
            f"- seed: {self.seed}; {self.summary_line()}",
            f"- exit status: {self.exit_code}", "",
            "| invariant | verdict | examples | notes |", "|---|---|---|---|",
        ]
        for v in self.verdicts.values():
            note = v.reason or ""
            if v.status == FAILED:
                note = "; ".join(v.findings[:2])
                if v.evidence:
                    note += " — " + ", ".join(f"[{Path(e).name}]({e})" for e in v.evidence)
            lines.append(f"| {v.invariant} {v.title} | **{v.status}** | {v.examples} | "
                         f"{note.replace('|', '/')} |")
        if self.errors:
            lines += ["", "## Harness errors", ""] + [f"- {e}" for e in self.errors]
        lines += ["", "## Phases", ""]
        for phase in self.phases:
            detail = ", ".join(f"{k}: {v}" for k, v in phase.items()
                               if k not in ("name", "details"))
            lines.append(f"- **{phase['name']}**: {detail}")
            for item in phase.get("details", []):
                lines.append(f"  - {item}")
        lines += ["", "## Invariants", ""]
        for inv in INVARIANTS.values():
            lines.append(f"- **{inv.id} {inv.title}**: {inv.statement}")
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        colour = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_APPLICABLE: "#6e7781"}
        rows = []
        for v in self.verdicts.values():
            links = " ".join(f'<a href="{html.escape(e)}">{html.escape(Path(e).name)}</a>'
                             for e in v.evidence)
            notes = html.escape(v.reason or "; ".join(v.findings[:3]))
            rows.append(
                f"<tr><td><b>{v.invariant}</b> {html.escape(v.title)}</td>"
                f'<td style="color:{colour[v.status]};font-weight:bold">{v.status}</td>'
                f"<td>{v.examples}</td><td>{notes} {links}</td></tr>")
        phases = "".join(
            f"<li><b>{html.escape(str(p['name']))}</b>: "
            + html.escape(", ".join(f"{k}: {v}" for k, v in p.items()
                                    if k not in ("name", "details")))
            + ("<ul>" + "".join(f"<li>{html.escape(str(d))}</li>" for d in p.get("details", []))
               + "</ul>" if p.get("details") else "") + "</li>"
            for p in self.phases)
        errors = "".join(f"<li>{html.escape(e)}</li>" for e in self.errors)
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>purchaseflow conformance</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #d0d7de;padding:.3em .6em;
vertical-align:top}}th{{background:#f6f8fa}}</style></head><body>
<h1>purchaseflow conformance report</h1>
<p>Target <code>{html.escape(self.target)}</code>, scenario
<code>{html.escape(self.scenario)}</code> (profile <code>{html.escape(self.profile)}</code>),
seed {self.seed}.<br>{html.escape(self.summary_line())}. Exit status {self.exit_code}.</p>
{'<h2>Harness errors</h2><ul>' + errors + '</ul>' if errors else ''}
<table><tr><th>invariant</th><th>verdict</th><th>examples</th><th>notes</th></tr>
{''.join(rows)}</table>
<h2>Phases</h2><ul>{phases}</ul>
</body></html>
"""

    def junit(self) -> str:
        suite = ET.Element("testsuite", {
            "name": f"purchaseflow conformance ({self.profile})",
            "tests": str(len(self.verdicts)),
            "failures": str(len(self.failed)),
            "errors": str(1 if self.errors else 0),
            "skipped": str(sum(v.status == NOT_APPLICABLE for v in self.verdicts.values())),
            "time": f"{self.seconds:.3f}",
        })
        for v in self.verdicts.values():
            case = ET.SubElement(suite, "testcase", {
                "classname": "purchaseflow.invariants", "name": f"{v.invariant} {v.title}",
                "time": f"{v.seconds_to_catch or 0:.3f}"})
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", {"name": "examples", "value": str(v.examples)})
            if v.status == FAILED:
                failure = ET.SubElement(case, "failure", {
                    "message": v.findings[0] if v.findings else "violated"})
                failure.text = "\n".join(v.findings + [f"evidence: {e}" for e in v.evidence])
            elif v.status == NOT_APPLICABLE:
                ET.SubElement(case, "skipped", {"message": v.reason or NOT_APPLICABLE})
        if self.errors:
            case = ET.SubElement(suite, "testcase", {"classname": "purchaseflow.harness",
                                                     "name": "harness"})
            error = ET.SubElement(case, "error", {"message": self.errors[0]})
            error.text = "\n".join(self.errors)
        ET.indent(suite)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def steps_markdown(invariant: str, findings: list[str], steps: list[Any],
                   replay: str | None) -> str:
    """The minimal sequence as a numbered list of requests and responses."""
    inv = INVARIANTS[invariant]
    shown = [s for s in steps if s.number > 0]
    lines = [f"# {invariant} {inv.title}: minimal failing sequence ({len(shown)} steps)", "",
             f"> {inv.statement}", "", "Finding:", ""]
    lines += [f"- {f}" for f in findings]
    if replay:
        lines += ["", f"Replay it: `python {replay}` (see `--help`).", ""]
    lines.append("")
    for step in shown:
        args = ", ".join(f"{k}={v}" for k, v in step.args.items() if v is not None)
        head = f"{step.number}. **{step.operation}**({args})"
        if step.result:
            head += f" → `{step.result}`"
        lines.append(head)
        if step.expected or step.observed:
            lines.append(f"   - expected: {step.expected or '-'}; observed: "
                         f"{step.observed or '-'}")
        for exchange in step.exchanges:
            body = json.dumps(exchange.request_body, default=str) \
                if exchange.request_body is not None else ""
            answer = json.dumps(exchange.response_body, default=str)
            looked = " (checker's look)" if exchange.observation else ""
            status = exchange.status if exchange.error is None else exchange.error
            lines.append(f"   - `{exchange.method} {exchange.path}`{looked} "
                         f"{_clip(body, 300)}")
            lines.append(f"     → **{status}** {_clip(answer, 400)}")
        for finding in step.findings:
            lines.append(f"   - ❌ {finding}")
    return "\n".join(lines) + "\n"


def _clip(text: str, limit: int) -> str:
    text = text.replace("`", "'")
    return f"`{text[:limit]}{'…' if len(text) > limit else ''}`" if text else ""
