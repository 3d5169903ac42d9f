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


def _add(counts: dict[str, Any], kind: str, source: str, requests: int, visitors: int) -> None:
    if kind in ("view", "save"):
        group = counts["views" if kind == "view" else "saves"]
        group[source] += requests
        group["total"] += requests
    elif kind == "visitors":
        counts["visitors"] += visitors
    else:
        counts[APART[kind]] += requests


def summarize(con: Any, facts: SiteFacts, run: dict[str, Any]) -> dict[str, Any]:
    """Return the whole report as data: period, totals, per card, per month, per day, cost, changes."""
    cards = _cards(con, facts)
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


def _cards(con: Any, facts: SiteFacts) -> dict[str, Any]:
    cards = {card_id: {"name": name, **empty_counts(), "months": {}} for card_id, name in sorted(facts.names.items())}
    rows = con.execute(
        "SELECT card, period, kind, source, sum(requests), sum(visitors) FROM totals"
        " WHERE level = 'card' AND card <> '' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for card_id, period, kind, source, requests, visitors in rows:
        card = cards.setdefault(card_id, {"name": None, **empty_counts(), "months": {}})
        month = card["months"].setdefault(period, empty_counts())
        _add(card, kind, source, int(requests), int(visitors))
        _add(month, kind, source, int(requests), int(visitors))
    return cards


def _months(con: Any) -> dict[str, Any]:
    months: dict[str, Any] = defaultdict(empty_counts)
    rows = con.execute(
        "SELECT left(period, 7), kind, source, sum(requests), sum(bytes), sum(visitors), sum(origin) FROM totals"
        " WHERE level = 'day' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for period, kind, source, requests, size, visitors, origin in rows:
        month = months[period]
        _add(month, kind, source, int(requests), int(visitors))
        month["requests"] = month.get("requests", 0) + int(requests)
        month["bytes"] = month.get("bytes", 0) + int(size)
        month["origin"] = month.get("origin", 0) + int(origin)
    return dict(months)


def _days(con: Any) -> dict[str, Any]:
    days: dict[str, Any] = defaultdict(empty_counts)
    rows = con.execute(
        "SELECT period, kind, source, requests, visitors FROM totals WHERE level = 'day' ORDER BY ALL"
    ).fetchall()
    for period, kind, source, requests, visitors in rows:
        _add(days[period], kind, source, int(requests), int(visitors))
    return dict(days)


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
