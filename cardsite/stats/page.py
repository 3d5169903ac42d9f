"""Render the report's data as one self-contained HTML page with inline SVG charts.

No script, no web font, no image or style from another host: the page opens the same from a
GitHub artifact, a mail attachment or a laptop without network. It is private (it names every
card's owner and their traffic), so it is never written into the public site.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .count import SOURCES
from .report import CARD_HEAD, COLORS, SOURCE_LABELS, card_cells, headline_text, money, price_text, top_cards

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1c1e21}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
    "td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto}"
    ".legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;"
    "margin-right:.3rem;vertical-align:middle}"
)


def _stacked_bars(series: list[tuple[str, dict[str, int]]], title: str) -> str:
    """Return an SVG of one bar per label, stacked by source."""
    width, height, pad = 960, 240, 30
    peak = max((sum(v[s] for s in SOURCES) for _, v in series), default=0) or 1
    step = (width - 2 * pad) / max(len(series), 1)
    bars = []
    for i, (label, values) in enumerate(series):
        y = height - pad
        for source in SOURCES:
            h = values[source] / peak * (height - 2 * pad)
            if h > 0:
                y -= h
                bars.append(
                    f'<rect x="{pad + i * step:.1f}" y="{y:.1f}" width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}"'
                    f' fill="{COLORS[source]}"><title>{escape(label)} {SOURCE_LABELS[source]}:'
                    f" {values[source]:,}</title></rect>"
                )
    first, last = (series[0][0], series[-1][0]) if series else ("", "")
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
        f'<text x="{pad}" y="{pad - 10}" font-size="12">{peak:,}</text>'
        f'<text x="{pad}" y="{height - 8}" font-size="12">{escape(first)}</text>'
        f'<text x="{width - pad}" y="{height - 8}" font-size="12" text-anchor="end">{escape(last)}</text>'
        + "".join(bars)
        + "</svg>"
    )


def _cost_bars(report: dict[str, Any]) -> str:
    """Return an SVG of each month's cost, this design beside the serverless one."""
    months = sorted(report["cost"]["months"].items())
    width, height, pad = 960, 220, 30
    peak = max((max(c["this_design"]["total"], c["serverless"]["total"]) for _, c in months), default=0) or 1
    step = (width - 2 * pad) / max(len(months), 1)
    bars = []
    for i, (period, cost) in enumerate(months):
        for j, (design, color) in enumerate((("this_design", "#0b5cad"), ("serverless", "#c0392b"))):
            value = cost[design]["total"]
            h = value / peak * (height - 2 * pad)
            x = pad + i * step + j * step * 0.4
            bars.append(
                f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{step * 0.38:.1f}" height="{h:.1f}"'
                f' fill="{color}">'
                f"<title>{escape(period)} {design.replace('_', ' ')}: {money(value)}</title></rect>"
            )
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Cost per month"><title>Cost per month</title>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
        f'<text x="{pad}" y="{pad - 10}" font-size="12">{money(peak)}</text>' + "".join(bars) + "</svg>"
    )


def _legend() -> str:
    items = "".join(f'<span><i style="background:{COLORS[s]}"></i>{SOURCE_LABELS[s]}</span>' for s in SOURCES)
    return f'<p class="legend">{items}</p>'


def _table(head: list[str], rows: list[list[object]], numeric_from: int) -> str:
    def cells(values: list[object], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=n' if i >= numeric_from else ''}>{escape(str(v))}</{tag}>" for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    return f"<table><thead><tr>{cells(head, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def _cards_table(report: dict[str, Any]) -> str:
    return _table(list(CARD_HEAD), [card_cells(card_id, c) for card_id, c in top_cards(report, None)], 2)


def _cost_tables(report: dict[str, Any]) -> str:
    parts = []
    for period, cost in sorted(report["cost"]["months"].items()):
        rows = []
        for design, label in (
            ("this_design", "S3 + CloudFront + SES"),
            ("serverless", "API Gateway + Lambda + DynamoDB"),
        ):
            rows += [
                [
                    label,
                    line["item"],
                    f"{line['quantity']:,.2f} {line['unit']}",
                    price_text(line["price"]),
                    money(line["cost"]),
                ]
                for line in cost[design]["lines"]
            ]
            rows.append([label, "total", "", "", money(cost[design]["total"])])
        parts.append(
            f"<h3>{escape(period)}</h3>" + _table(["design", "item", "quantity", "unit price", "cost"], rows, 2)
        )
    return "".join(parts)


def to_html(report: dict[str, Any]) -> str:
    """Return the whole report as one HTML page."""
    days = [(day, counts["views"]) for day, counts in sorted(report["days"].items())]
    months = [(month, counts["views"]) for month, counts in sorted(report["months"].items())]
    period = report["period"]
    title = f"cardsite scans {period['first_day'] or ''} to {period['last_day'] or ''}".strip()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(headline_text(report))}</p>"
        f"<h2>Scans per day, by source</h2>{_legend()}{_stacked_bars(days, 'Scans per day')}"
        f"<h2>Scans per month, by source</h2>{_stacked_bars(months, 'Scans per month')}"
        f"<h2>Cost per month: this design (blue) and the serverless design (red)</h2>{_cost_bars(report)}"
        f"<h2>Cards</h2>{_cards_table(report)}<h2>Cost, line by line</h2>"
        f"<p>AWS list prices, us-east-1, recorded {escape(report['cost']['prices_date'])}.</p>{_cost_tables(report)}"
        "</body></html>\n"
    )
