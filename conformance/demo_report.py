"""The demo's report folder index: one HTML page linking every part of the run."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any


def _link(out: Path, target: str, text: str | None = None) -> str:
    if not target:
        return ""
    relative = os.path.relpath(target, out)
    return f'<a href="{html.escape(relative)}">{html.escape(text or relative)}</a>'


def write_index(out: Path, summary: dict[str, Any]) -> Path:
    rows = []
    for seed in summary["seeds"]:
        for path in seed["paths"]:
            traces = sorted(out.glob(f"{seed['profile']}-{path['name']}*.json"))
            rows.append(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
                .format(html.escape(f"{seed['profile']} {path['name']}"),
                        html.escape(str(path.get("status"))),
                        html.escape(str(path.get("trace_verdict"))),
                        html.escape(str(path.get("boundary_verdict"))),
                        " ".join(_link(out, str(t), t.name) for t in traces),
                        "yes" if path.get("ok") else "NO"))
    stages = []
    for stage in summary["stages"]:
        images = "".join(
            f'<figure><img src="{html.escape(os.path.relpath(p, out))}" width="640">'
            f"<figcaption>{html.escape(Path(p).name)}</figcaption></figure>"
            for p in stage.get("artifacts", []) if p.endswith(".png"))
        stages.append(
            f"<h2>{html.escape(stage['name'])}: {'passed' if stage['ok'] else 'FAILED'}</h2>"
            f"<p>{html.escape(stage['summary'])} ({stage['seconds']:.0f} s). "
            f"Report: {_link(out, stage.get('report', ''))}</p>{images}")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>purchaseflow demo</title>
<style>body{{font-family:sans-serif;max-width:72rem;margin:2rem auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .5rem;
vertical-align:top;font-size:.9rem}}</style></head>
<body><h1>purchaseflow demo</h1>
<p>Every seed flow on the reference implementation, with its trace checked against the
seed's own sequence diagram; then a conformance run, a simulation and a load run
({summary['seconds']} s in all).</p>
<h2>Seed flows</h2>
<table><tr><th>flow</th><th>status</th><th>trace vs diagram</th><th>boundary vs diagram</th>
<th>traces</th><th>ok</th></tr>
{''.join(rows)}
</table>
{''.join(stages)}
<p>Raw data: {_link(out, str(out / 'summary.json'), 'summary.json')}</p>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index
