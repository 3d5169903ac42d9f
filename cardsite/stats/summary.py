"""Turn the running totals into the report's data: plain JSON-ready values, which report.py renders.

Names used throughout: a *view* is a GET of a card's page (any source); a *scan* is a view (from
the QR code, the NFC tag, a wallet pass or a plain link: the page cannot tell a link typed by hand
from one shared); a *save* is a download of the card's vCard; *visitors* are the approximate number
of distinct visitors per day, summed over the days (visitor-days).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .count import SOURCES
from .prices import PRICES, PRICES_DATE, Month, month_cost

#: Counted apart from scans, by the name the report gives them.
APART = {"redirect": "redirects", "bot": "bots", "head": "head", "error": "errors", "other": "other"}


@dataclass(frozen=True)
class SiteFacts:
    """What the report needs to know of the site besides the logs."""

    base_url: str
    names: dict[str, str]
    site_bytes: int
    #: {card id: [commit dates]}; None when the git history could not be read.
    changes: dict[str, list[str]] | None
    log_days: int
    #: {YYYY-MM: compressed bytes of that month's log files}
    log_bytes: dict[str, int]


def empty_counts() -> dict[str, Any]:
    """Return the counts of a card or period that nobody visited."""
    counts: dict[str, Any] = {
        "views": dict.fromkeys((*SOURCES, "total"), 0),
        "saves": dict.fromkeys((*SOURCES, "total"), 0),
    }
    counts["visitors"] = 0
    counts |= dict.fromkeys(APART.values(), 0)
    return counts


def summarize(con: Any, facts: SiteFacts, run: dict[str, Any], card_months: bool = True) -> dict[str, Any]:
    """Return the whole report as data: period, totals, per card, per month, per day, cost, changes.

    Without `card_months` the cards carry their totals only (the Markdown and HTML reports show no more).
    """
    cards = _cards(con, facts, card_months)
    months = _months(con)
    days = _days(con)
    period = {"first_day": min(days, default=None), "last_day": max(days, default=None)}
    changes = _changes(facts, period, cards)
    total = empty_counts()
    for counts in months.values():
        _merge(total, counts)
    costs = _costs(con, facts, months)
    scans = total["views"]["total"]
    report = {
        "period": period,
        "run": run,
        "totals": total,
        "scans_per_change": _ratio(scans, changes["total"]) if changes["available"] else None,
        "changes": changes,
        "cards": cards,
        "months": months,
        "days": days,
        "cost": {"prices_date": PRICES_DATE, "prices": PRICES, "months": costs},
    }
    return report


def _merge(into: dict[str, Any], counts: dict[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, dict):
            for sub, n in value.items():
                into[key][sub] += n
        elif key in into:
            into[key] += value


def _ratio(scans: int, changes: int) -> float | None:
    return round(scans / changes, 1) if changes else None


#: One row per key with every count as a column: what `_counts` turns into the report's shape.
PIVOT = ", ".join(
    [f"sum(requests) FILTER (WHERE kind = 'view' AND source = '{s}')" for s in SOURCES]
    + [f"sum(requests) FILTER (WHERE kind = 'save' AND source = '{s}')" for s in SOURCES]
    + ["sum(visitors) FILTER (WHERE kind = 'visitors')"]
    + [f"sum(requests) FILTER (WHERE kind = '{kind}')" for kind in APART]
    + ["sum(requests) FILTER (WHERE kind <> 'visitors')", "sum(bytes)", "sum(origin)"]
)


def _counts(values: tuple[Any, ...]) -> dict[str, Any]:
    """Return the counts of one pivoted row (PIVOT's columns, in order)."""
    n = [int(v or 0) for v in values]
    views, saves = dict(zip(SOURCES, n[0:4], strict=True)), dict(zip(SOURCES, n[4:8], strict=True))
    views["total"], saves["total"] = sum(n[0:4]), sum(n[4:8])
    counts: dict[str, Any] = {"views": views, "saves": saves, "visitors": n[8]}
    counts |= dict(zip(APART.values(), n[9:14], strict=True))
    return counts


def _cards(con: Any, facts: SiteFacts, card_months: bool) -> dict[str, Any]:
    cards = {card_id: {"name": name, **empty_counts(), "months": {}} for card_id, name in sorted(facts.names.items())}
    # The card's totals come as the row whose period is NULL.
    sets = "(card, period), (card)" if card_months else "(card)"
    period = "period" if card_months else "NULL::VARCHAR AS period"
    rows = con.execute(
        f"SELECT card, {period}, {PIVOT} FROM totals"
        f" WHERE level = 'card' AND card <> '' GROUP BY GROUPING SETS ({sets}) ORDER BY card, period NULLS FIRST"
    ).fetchall()
    for card_id, period, *values in rows:
        if period is None:
            card = cards.get(card_id) or cards.setdefault(card_id, {"name": None, "months": {}})
            card |= _counts(values)
        else:
            cards[card_id]["months"][period] = _counts(values)
    return cards


def _months(con: Any) -> dict[str, Any]:
    rows = con.execute(
        f"SELECT left(period, 7) AS month, {PIVOT} FROM totals WHERE level = 'day' GROUP BY month ORDER BY month"
    ).fetchall()
    months = {}
    for period, *values in rows:
        months[period] = _counts(values) | {"requests": int(values[-3] or 0), "bytes": int(values[-2] or 0)}
        months[period]["origin"] = int(values[-1] or 0)
    return months


def _days(con: Any) -> dict[str, Any]:
    rows = con.execute(f"SELECT period, {PIVOT} FROM totals WHERE level = 'day' GROUP BY period ORDER BY period")
    return {period: _counts(values) for period, *values in rows.fetchall()}


def _changes(facts: SiteFacts, period: dict[str, Any], cards: dict[str, Any]) -> dict[str, Any]:
    """Count each card's changes within the logged period; add its scans per change to its entry."""
    if facts.changes is None or period["first_day"] is None:
        return {"available": facts.changes is not None, "total": 0, "by_month": {}}
    first, last = period["first_day"], period["last_day"]
    total, by_month = 0, defaultdict(int)
    for card_id, card in cards.items():
        dates = [d for d in facts.changes.get(card_id, []) if first <= d <= last]
        card["changes"] = len(dates)
        card["scans_per_change"] = _ratio(card["views"]["total"], len(dates))
        total += len(dates)
        for d in dates:
            by_month[d[:7]] += 1
    return {"available": True, "total": total, "by_month": dict(by_month)}


def _costs(con: Any, facts: SiteFacts, months: dict[str, Any]) -> dict[str, Any]:
    card_rows = con.execute(
        "SELECT period, sum(requests), sum(bytes) FROM totals"
        " WHERE level = 'card' AND card <> '' AND kind <> 'visitors' GROUP BY period"
    ).fetchall()
    card = {period: (int(n), int(b)) for period, n, b in card_rows}
    changes_by_month = defaultdict(int)
    for dates in (facts.changes or {}).values():
        for d in dates:
            changes_by_month[d[:7]] += 1
    costs = {}
    for period, m in months.items():
        requests, size = card.get(period, (0, 0))
        quantities = Month(
            m["requests"],
            m["bytes"],
            m["origin"],
            requests,
            size,
            changes_by_month[period],
            facts.site_bytes,
            facts.log_bytes.get(period, 0),
            facts.log_days,
        )
        costs[period] = month_cost(quantities)
    return costs
