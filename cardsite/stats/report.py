"""Render the report's data (summary.py) as JSON, Markdown (the job summary) or one HTML page.

Pure functions of the data. The HTML page is self-contained: inline CSS and SVG charts, no script,
no font, no request to any other host; card names are escaped in every format.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .count import SOURCES

SOURCE_LABELS = {"qr": "QR", "nfc": "NFC", "wallet": "wallet", "link": "link"}
COLORS = {"qr": "#0b5cad", "nfc": "#d9822b", "wallet": "#2e8b57", "link": "#8a8f98"}
TOP_CARDS = 20
#: What could start markup inside a table cell (HTML is escaped before this).
MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def to_json(report: dict[str, Any]) -> str:
    """Return the report for scripts: the counts of each card under its id."""
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def md(text: object) -> str:
    """Return text that Markdown shows as it is: no markup, no HTML, no broken table cell."""
    return MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def money(value: float) -> str:
    """Return dollars with cents, or with four decimals below a cent."""
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def price_text(value: float) -> str:
    """Return a unit price in plain decimals ($0.000001, not $1e-06)."""
    return "$" + (f"{value:.10f}".rstrip("0").rstrip(".") or "0")


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _period(report: dict[str, Any]) -> str:
    period = report["period"]
    if period["first_day"] is None:
        return "no requests counted yet"
    return f"{period['first_day']} to {period['last_day']}"


def _headline(report: dict[str, Any]) -> list[str]:
    t = report["totals"]
    lines = [
        _row(["", *(SOURCE_LABELS[s] for s in SOURCES), "total"]),
        _row(["---", *("---:" for _ in SOURCES), "---:"]),
        _row(["scans (page views)", *(f"{t['views'][s]:,}" for s in SOURCES), f"{t['views']['total']:,}"]),
        _row(["saves (vCard downloads)", *(f"{t['saves'][s]:,}" for s in SOURCES), f"{t['saves']['total']:,}"]),
        "",
        f"Visitors (approximate, distinct per day, summed): {t['visitors']:,}. Counted apart, not as scans:"
        f" {t['bots']:,} bots, {t['head']:,} HEAD requests, {t['errors']:,} errors,"
        f" {t['redirects']:,} redirects from former ids.",
    ]
    changes = report["changes"]
    if changes["available"]:
        ratio = report["scans_per_change"]
        shown = f"{ratio:,}" if ratio is not None else "n/a (no change in the period)"
        lines.append(
            f"\n**Scans per change: {shown}** ({t['views']['total']:,} scans, {changes['total']:,} changes to cards)"
        )
    else:
        lines.append("\nScans per change: not available (the git history of contacts/ could not be read).")
    return lines


def headline_text(report: dict[str, Any]) -> str:
    """Return the totals in one plain sentence."""
    t = report["totals"]
    by_source = ", ".join(f"{t['views'][s]:,} {SOURCE_LABELS[s]}" for s in SOURCES)
    ratio = report["scans_per_change"]
    per_change = f"; {ratio:,} scans per change" if ratio is not None else ""
    return (
        f"{t['views']['total']:,} scans ({by_source}), {t['saves']['total']:,} saves, about {t['visitors']:,}"
        f" visitor-days{per_change}. Apart: {t['bots']:,} bots, {t['head']:,} HEAD, {t['errors']:,} errors."
    )


def _month_table(report: dict[str, Any]) -> list[str]:
    lines = [
        _row(
            [
                "month",
                "scans",
                *(SOURCE_LABELS[s] for s in SOURCES),
                "saves",
                "visitors",
                "bots",
                "errors",
                "requests",
                "GB out",
                "this design",
                "serverless",
            ]
        ),
        _row(["---", *["---:"] * 13]),
    ]
    for period, m in sorted(report["months"].items()):
        cost = report["cost"]["months"][period]
        lines.append(
            _row(
                [
                    period,
                    f"{m['views']['total']:,}",
                    *(f"{m['views'][s]:,}" for s in SOURCES),
                    f"{m['saves']['total']:,}",
                    f"{m['visitors']:,}",
                    f"{m['bots']:,}",
                    f"{m['errors']:,}",
                    f"{m['requests']:,}",
                    f"{m['bytes'] / 1024**3:.2f}",
                    money(cost["this_design"]["total"]),
                    money(cost["serverless"]["total"]),
                ]
            )
        )
    return lines


def top_cards(report: dict[str, Any], limit: int | None = TOP_CARDS) -> list[tuple[str, dict[str, Any]]]:
    """Return (id, counts) of the most scanned cards, most first, then by id."""
    ranked = sorted(report["cards"].items(), key=lambda item: (-item[1]["views"]["total"], item[0]))
    return ranked[:limit] if limit else ranked


#: The columns of the cards table, in every format.
CARD_HEAD = (
    "card",
    "name",
    "scans",
    *(SOURCE_LABELS[s] for s in SOURCES),
    "saves",
    "visitors",
    "changes",
    "scans/change",
)


def card_cells(card_id: str, c: dict[str, Any]) -> list[object]:
    """Return one card's row of the cards table, unescaped."""
    ratio = c.get("scans_per_change")
    return [
        card_id,
        c["name"] or "(no longer in the site)",
        f"{c['views']['total']:,}",
        *(f"{c['views'][s]:,}" for s in SOURCES),
        f"{c['saves']['total']:,}",
        f"{c['visitors']:,}",
        c.get("changes", "n/a"),
        f"{ratio:,}" if ratio is not None else "n/a",
    ]


def _card_table(report: dict[str, Any]) -> list[str]:
    lines = [_row(list(CARD_HEAD)), _row(["---", "---", *["---:"] * 9])]
    for card_id, c in top_cards(report):
        cells = card_cells(card_id, c)
        lines.append(_row([f"`{card_id}`", md(cells[1]), *cells[2:]]))
    return lines


def _cost_table(report: dict[str, Any], period: str) -> list[str]:
    cost = report["cost"]["months"][period]
    lines = [
        _row(["design", "item", "quantity", "unit price", "free", "cost"]),
        _row(["---", "---", "---:", "---:", "---:", "---:"]),
    ]
    for design, label in (("this_design", "S3 + CloudFront + SES"), ("serverless", "API Gateway + Lambda + DynamoDB")):
        for line in cost[design]["lines"]:
            lines.append(
                _row(
                    [
                        label,
                        line["item"],
                        f"{line['quantity']:,.2f} {line['unit']}",
                        price_text(line["price"]),
                        f"{line['free']:,.0f}",
                        money(line["cost"]),
                    ]
                )
            )
        lines.append(_row([f"**{label}**", "**total**", "", "", "", f"**{money(cost[design]['total'])}**"]))
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    """Return the report for the GitHub job summary."""
    lines = [f"### Scans and saves, {_period(report)}", "", *_headline(report)]
    if report["months"]:
        lines += ["", "#### Per month", "", *_month_table(report)]
        count = len(report["cards"])
        lines += ["", f"#### Cards by scans ({min(TOP_CARDS, count)} of {count})", "", *_card_table(report)]
        last = max(report["cost"]["months"])
        lines += ["", f"#### Cost of {last}", "", *_cost_table(report, last)]
    lines += ["", _footer(report)]
    return "\n".join(lines) + "\n"


def _footer(report: dict[str, Any]) -> str:
    run = report["run"]
    return (
        f"Log files: {run['read']:,} read this run of {run['listed']:,} listed; {run['bad_lines']:,} malformed"
        f" line(s) and {run['bad_files']:,} unreadable file(s) skipped this run. Prices: AWS list prices"
        f" (us-east-1) recorded {report['cost']['prices_date']}."
    )
