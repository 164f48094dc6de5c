"""The compatibility matrix: which flows can run between which plugins, and what is lost.

Computed from capability declarations alone (DESIGN §2): a pair is
"unsupported" when the source does not read or the target does not write the
flow's entity, "partial" when records lose something on the way (variants
flattened, images or categories dropped, written only when the target's setting names
an endpoint the docs do not show, ...), else "supported". Every partial
and unsupported pair says why in `notes`.
"""

from __future__ import annotations

import html
from typing import Any

from host.capabilities import Capabilities
from host.plugins import PluginInfo
from host.vocabulary import ENTITIES


def pair_notes(flow: str, source: Capabilities, target: Capabilities) -> tuple[str, list[str]]:
    """The status of `flow` from `source` to `target`, with the reasons behind it."""
    missing = []
    if flow not in source.reads:
        missing.append(f"source does not read {flow}{source.reason('reads', flow)}")
    if flow not in target.writes:
        missing.append(f"target does not write {flow}{target.reason('writes', flow)}")
    if missing:
        return "unsupported", missing
    losses = _losses(flow, source, target)
    return ("partial" if losses else "supported"), losses


def _losses(flow: str, source: Capabilities, target: Capabilities) -> list[str]:
    notes: list[str] = []
    if flow == "products":
        if source.variants and not target.variants:
            notes.append("variants flattened: target has no variants")
        if source.images and not target.images:
            notes.append("images dropped: target has no images")
        elif source.images > target.images:
            notes.append(f"images dropped: target keeps at most {target.images} per product")
        if target.variants and source.variant_images > target.variant_images:
            notes.append(
                f"variant images dropped: target keeps at most {target.variant_images} per variant"
            )
        if source.categories and not target.categories:
            notes.append("categories dropped: target has no categories")
        if source.attributes and not target.attributes:
            notes.append("attributes dropped: target has no option attributes")
        for kind in sorted(source.product_types - target.product_types):
            if kind == "configurable" and not target.variants:
                continue  # already said: flattened
            notes.append(f"{kind} products refused: target takes {_listing(target.product_types)}")
    elif flow == "shipments" and source.split_shipments and not target.split_shipments:
        notes.append(
            "partial shipments written whole with a warning: target has no split shipments"
        )
    if switch := target.writes_when_set.get(flow):  # type: ignore[call-overload]
        notes.append(f"off unless the target's {switch} is set{target.reason('writes', flow)}")
    if flow == "orders" and not target.order_types:
        notes.append("target declares no order types")
    return notes


def _listing(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def build_matrix(plugins: list[PluginInfo]) -> dict[str, Any]:
    """The matrix of every flow between every two loaded plugins (JSON shape of DESIGN §6)."""
    loaded = [(p.name, caps) for p in plugins if (caps := p.capabilities) is not None]
    pairs = []
    for flow in ENTITIES:
        for source, source_caps in loaded:
            for target, target_caps in loaded:
                status, notes = pair_notes(flow, source_caps, target_caps)
                pairs.append(
                    {
                        "flow": flow,
                        "source": source,
                        "target": target,
                        "status": status,
                        "notes": notes,
                    }
                )
    return {"plugins": [p.as_dict() for p in plugins], "pairs": pairs}


_MARK = {"supported": "yes", "partial": "partial", "unsupported": "-"}


def render_markdown(matrix: dict[str, Any]) -> str:
    """One table per flow (rows: sources, columns: targets), then the notes."""
    names = [p["name"] for p in matrix["plugins"] if p["error"] is None]
    out: list[str] = []
    for flow in ENTITIES:
        pairs = {(p["source"], p["target"]): p for p in matrix["pairs"] if p["flow"] == flow}
        if not any(p["status"] != "unsupported" for p in pairs.values()):
            continue
        out += [f"### {flow}", "", "| source \\ target | " + " | ".join(names) + " |"]
        out.append("|---" * (len(names) + 1) + "|")
        for source in names:
            cells = [_MARK[pairs[(source, target)]["status"]] for target in names]
            out.append(f"| {source} | " + " | ".join(cells) + " |")
        partial = [p for p in pairs.values() if p["status"] == "partial"]
        if partial:
            out.append("")
            out += [f"- {p['source']} -> {p['target']}: {'; '.join(p['notes'])}" for p in partial]
        out.append("")
    return "\n".join(out) if out else "No flow is possible between the installed plugins.\n"


def render_html(matrix: dict[str, Any]) -> str:
    """A standalone HTML page of the matrix; each partial cell explains itself on hover."""
    names = [p["name"] for p in matrix["plugins"] if p["error"] is None]
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>ihost compatibility matrix</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #bbb;padding:4px 8px}.supported{background:#cfc}"
        ".partial{background:#ffd}.unsupported{color:#999}</style></head><body>",
        "<h1>ihost compatibility matrix</h1>",
    ]
    for flow in ENTITIES:
        pairs = {(p["source"], p["target"]): p for p in matrix["pairs"] if p["flow"] == flow}
        parts.append(f"<h2>{esc(flow)}</h2><table><tr><th>source \\ target</th>")
        parts += [f"<th>{esc(n)}</th>" for n in names]
        parts.append("</tr>")
        for source in names:
            parts.append(f"<tr><th>{esc(source)}</th>")
            for target in names:
                pair = pairs[(source, target)]
                title = esc("; ".join(pair["notes"]), quote=True)
                parts.append(
                    f"<td class='{pair['status']}' title='{title}'>{_MARK[pair['status']]}</td>"
                )
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
