"""The page of `stance agreement --html`: κ per axis with its CI, the confusions, the cells in dispute.

It reads the JSON of evaluation.agreement (this layer does not import evaluation); every label
string and file name is escaped.
"""
from __future__ import annotations

from pathlib import Path

from ..files import atomic_write
from .page import esc

AXIS_TITLE = {"stance": "Stance", "basis": "Basis (cells both gave a stance)", "addressed": "Addressed vs none"}
CSS = ("body{font:15px/1.5 system-ui,sans-serif;color:#1d2327;max-width:1000px;margin:0 auto;padding:20px}"
       "table{border-collapse:collapse;margin:8px 0 18px}th,td{border:1px solid #e3e6ea;padding:3px 10px;text-align:left}"
       "td.n{text-align:right}td.diag{background:#e3f1e4}th{background:#f4f5f7}.muted{color:#5b6670}")


def _num(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def render_agreement(result: dict, name_a: str, name_b: str) -> str:
    axes = result["axes"]
    out = ["<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Annotator agreement</title>",
           f"<style>{CSS}</style></head><body><h1>Annotator agreement</h1>",
           f"<p>A: <code>{esc(name_a)}</code><br>B: <code>{esc(name_b)}</code></p>",
           f"<p>{result['n_cells']} cells labelled by both, in {result['n_documents']} documents "
           f"(only in A: {result['only_in_a']}, only in B: {result['only_in_b']}). 95% CIs: bootstrap over "
           f"documents, {result['bootstrap']['n_boot']} resamples, seed {result['bootstrap']['seed']}.</p>",
           "<table><tr><th>axis</th><th>cells</th><th>observed agreement</th><th>Cohen's κ</th><th>95% CI</th></tr>"]
    for ax, a in axes.items():
        lo, hi = a["ci95"]
        out.append(f"<tr><td>{esc(AXIS_TITLE.get(ax, ax))}</td><td class=n>{a['cells']}</td>"
                   f"<td class=n>{_num(a['observed'])}</td><td class=n><b>{_num(a['kappa'])}</b></td>"
                   f"<td>{_num(lo)} – {_num(hi)}</td></tr>")
    out.append("</table>")
    for ax, a in axes.items():
        cats = a["categories"]
        out.append(f"<h2>{esc(AXIS_TITLE.get(ax, ax))}: confusion</h2><table><tr><th>A \\ B</th>"
                   + "".join(f"<th>{esc(c)}</th>" for c in cats) + "</tr>")
        for i, c in enumerate(cats):
            out.append(f"<tr><th>{esc(c)}</th>" + "".join(
                f'<td class="n{" diag" if i == j else ""}">{v}</td>' for j, v in enumerate(a["confusion"][i])) + "</tr>")
        out.append("</table>")
    dis = result["disagreements"]
    out.append(f"<h2>Cells they disagree on ({len(dis)})</h2>")
    if dis:
        out.append("<table><tr><th>document</th><th>proposal</th><th>A</th><th>B</th></tr>")
        for d in dis:
            out.append(f"<tr><td>{esc(d['doc_id'])}</td><td>{esc(d['proposal_id'])}</td>"
                       f"<td>{esc(d['a']['stance'])} {esc(d['a']['basis'] or '')}</td>"
                       f"<td>{esc(d['b']['stance'])} {esc(d['b']['basis'] or '')}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="muted">None.</p>')
    out.append("</body></html>\n")
    return "".join(out)


def write_agreement(result: dict, name_a: str, name_b: str, path) -> Path:
    atomic_write(path, render_agreement(result, name_a, name_b))
    return Path(path)
