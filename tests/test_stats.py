"""`build.py stats`: CloudFront logs in their documented formats, in moto's S3, counted to the exact figure."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cloudfront_logs import ANDROID, GOOGLEBOT, Request, legacy_file, legacy_name, v2_json_file, v2_parquet_file

from cardsite.cli import main
from cardsite.stats.prices import PRICES, Month, month_cost

LOG_BUCKET = "cardsite-logs"
PREFIX = "cloudfront/"
DIST = "E2ABCDEF1234"
BASE = "https://cards.example.ch"
A, B, C, D, E, F, G, H = (f"203.0.113.{n}" for n in range(1, 9))


def first_file() -> list[Request]:
    """2026-11-03, one hour: every kind of request once or more, with known visitors."""
    d = "2026-11-03"
    return [
        Request(d, "/jana-mueller/", "q", ip=A),
        Request(d, "/jana-mueller/", "q", ip=B),
        Request(d, "/jana-mueller/", "q", ip=C, ua=ANDROID),
        Request(d, "/jana-mueller/", "n", ip=D),
        Request(d, "/jana-mueller/", "n", ip=D),  # the same visitor twice
        Request(d, "/jana-mueller/", ip=E),
        Request(d, "/jana-mueller/jana-mueller.vcf", ip=A, referer=f"{BASE}/jana-mueller/?q"),
        Request(d, "/jana-mueller/jana-mueller.vcf", ip=E, referer=f"{BASE}/jana-mueller/"),
        # The former id: its view counts for the card, the redirect that follows does not.
        Request(d, "/jmueller/", "q", ip=F),
        Request(d, "/jana-mueller/", ip=F, referer=f"{BASE}/jmueller/"),
        Request(d, "/max/", "n", ip=G, result="Miss"),
        Request(d, "/max/", "w", ip=H),
        Request(d, "/max/max.vcf", ip=G, referer=f"{BASE}/max/?n"),
        Request(d, "/max/", ua=GOOGLEBOT, ip="66.249.66.1"),
        Request(d, "/hans-meier/", method="HEAD", ip=B),
        Request(d, "/nobody/", status=404, ip=B),
        Request(d, "/assets/style.0123abcd.css", ip=A, result="Miss"),
    ]


def second_file() -> list[Request]:
    d = "2026-11-04"
    return [Request(d, "/hans-meier/", "q", ip=A), Request(d, "/jana-mueller/index.html", ip=A)]


def truncated() -> bytes:
    data = legacy_file([Request("2026-11-04", "/max/", "q", ip=f"198.18.0.{i % 250}") for i in range(2000)])
    return data[: len(data) // 2]


def put_logs(s3: Any) -> None:
    """The log bucket as CloudFront fills it: legacy hourly files, a v2 JSON and a v2 Parquet file."""
    s3.create_bucket(Bucket=LOG_BUCKET)
    files = {
        legacy_name(DIST, "2026-11-03", 10, "a1b2c3d4"): legacy_file(first_file(), ("this line\tis malformed",)),
        legacy_name(DIST, "2026-11-04", 9, "e5f6a7b8"): legacy_file(second_file()),
        legacy_name(DIST, "2026-11-04", 10, "c9d0e1f2"): truncated(),
        f"v2/{DIST}/2026/12/01/10/{DIST}.2026-12-01-10.0a1b2c3d.log.gz": v2_json_file(
            [Request("2026-12-01", "/max/", "q", ip="192.0.2.9")]
        ),
    }
    for key, body in files.items():
        s3.put_object(Bucket=LOG_BUCKET, Key=PREFIX + key, Body=body)


def put_parquet(s3: Any, tmp_path: Path) -> None:
    path = tmp_path / "v2.parquet"
    v2_parquet_file([Request("2026-12-02", "/jana-mueller/", "n")], path)
    s3.put_object(
        Bucket=LOG_BUCKET,
        Key=f"{PREFIX}v2/{DIST}/2026/12/02/08/{DIST}.2026-12-02-08.f00d.parquet",
        Body=path.read_bytes(),
    )


def git(cwd: Path, *args: str, date: str = "2026-11-01T12:00:00Z") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(
        ["git", "-c", "user.email=t@example.ch", "-c", "user.name=T", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env=env,
    )


@pytest.fixture
def site(project: Path) -> Path:
    """The sample project, built, in git: every card added on 2026-11-01, jana-mueller and max changed later."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-qm", "cards")
    for card, date in (("jana-mueller", "2026-11-03T08:00:00Z"), ("max", "2026-12-01T08:00:00Z")):
        path = project / "contacts" / f"{card}.yaml"
        path.write_text(path.read_text("utf-8") + "\n# edited\n", "utf-8")
        git(project, "commit", "-qam", f"edit {card}", date=date)
    assert main(["build", "-q"]) == 0
    return project


def stats(capsys: Any, endpoint: str, *extra: str) -> tuple[dict[str, Any], str]:
    capsys.readouterr()
    code = main(
        ["stats", "--bucket", LOG_BUCKET, "--prefix", PREFIX, "--endpoint-url", endpoint, "--format", "json", *extra]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out), out.err


def test_counts_every_kind_of_request_to_the_exact_figure(
    site: Path, aws: str, s3: Any, tmp_path: Path, capsys
) -> None:
    put_logs(s3)
    put_parquet(s3, tmp_path)
    report, err = stats(capsys, aws)

    t = report["totals"]
    assert t["views"] == {"qr": 6, "nfc": 4, "wallet": 1, "link": 2, "total": 13}
    assert t["saves"] == {"qr": 1, "nfc": 1, "wallet": 0, "link": 1, "total": 3}
    assert (t["bots"], t["head"], t["errors"], t["redirects"], t["other"]) == (1, 1, 1, 1, 1)
    # Distinct per day over the site: 8 on 11-03 (A-H), 1 on 11-04, 1 on 12-01, 1 on 12-02.
    assert t["visitors"] == 11

    jana, maxi, hans = (report["cards"][c] for c in ("jana-mueller", "max", "hans-meier"))
    assert jana["views"] == {"qr": 4, "nfc": 3, "wallet": 0, "link": 2, "total": 9}
    assert jana["saves"] == {"qr": 1, "nfc": 0, "wallet": 0, "link": 1, "total": 2}
    assert (jana["visitors"], jana["redirects"]) == (8, 1)  # A-F on 11-03, A on 11-04, one on 12-02
    assert maxi["views"] == {"qr": 1, "nfc": 1, "wallet": 1, "link": 0, "total": 3}
    assert (maxi["saves"]["nfc"], maxi["bots"], maxi["visitors"]) == (1, 1, 3)
    assert (hans["views"]["qr"], hans["head"], hans["visitors"]) == (1, 1, 1)
    assert "jmueller" not in report["cards"]  # the former id counts for its card
    assert jana["months"]["2026-11"]["views"]["total"] == 8 and jana["months"]["2026-12"]["views"]["nfc"] == 1

    assert report["months"]["2026-11"]["views"]["total"] == 11 and report["months"]["2026-12"]["views"]["total"] == 2
    assert report["months"]["2026-11"]["requests"] == 19 and report["months"]["2026-11"]["bytes"] == 19 * 2048
    assert report["months"]["2026-11"]["origin"] == 2  # the two cache misses reached S3
    assert report["days"]["2026-11-04"]["views"] == {"qr": 1, "nfc": 0, "wallet": 0, "link": 1, "total": 2}
    assert report["period"] == {"first_day": "2026-11-03", "last_day": "2026-12-02"}

    assert report["run"] | {"source": None} == {
        "source": None,
        "listed": 5,
        "read": 5,
        "lines": 22,
        "bad_lines": 1,
        "bad_files": 1,
        "changed_files": 0,
        "saved": True,
    }
    assert "this line" not in err and "a1b2c3d4.gz: 1 malformed line(s) skipped" in err
    assert "c9d0e1f2.gz is not a whole gzip file" in err and "Traceback" not in err


def test_scans_per_change_come_from_the_git_history_of_each_card(
    site: Path, aws: str, s3: Any, tmp_path: Path, capsys
) -> None:
    put_logs(s3)
    put_parquet(s3, tmp_path)
    report, _ = stats(capsys, aws)
    # Changes within the logged period only: jana-mueller on 11-03 and max on 12-01; the first commit is before it.
    assert report["changes"]["total"] == 2 and report["changes"]["by_month"] == {"2026-11": 1, "2026-12": 1}
    assert (report["cards"]["jana-mueller"]["changes"], report["cards"]["jana-mueller"]["scans_per_change"]) == (1, 9.0)
    assert report["cards"]["max"]["scans_per_change"] == 3.0
    assert report["cards"]["hans-meier"]["scans_per_change"] is None
    assert report["scans_per_change"] == 6.5


def test_a_rerun_reads_nothing_new_and_changes_nothing(site: Path, aws: str, s3: Any, tmp_path: Path, capsys) -> None:
    put_logs(s3)
    first, _ = stats(capsys, aws)
    key = f"{PREFIX}_cardsite/stats.parquet"
    saved = s3.head_object(Bucket=LOG_BUCKET, Key=key)["ETag"]

    again, err = stats(capsys, aws)
    assert again["run"]["read"] == 0 and again["run"]["saved"] is False
    assert s3.head_object(Bucket=LOG_BUCKET, Key=key)["ETag"] == saved
    assert {k: v for k, v in again.items() if k != "run"} == {k: v for k, v in first.items() if k != "run"}
    assert "malformed" not in err  # bad lines and files are not read, nor warned about, again

    put_parquet(s3, tmp_path)
    third, _ = stats(capsys, aws)
    assert third["run"]["read"] == 1 and third["run"]["lines"] == 1
    assert third["totals"]["views"]["nfc"] == first["totals"]["views"]["nfc"] + 1
    assert third["totals"]["views"]["total"] == first["totals"]["views"]["total"] + 1


def test_the_cost_follows_from_the_counts_by_the_documented_prices(site: Path, aws: str, s3: Any, capsys) -> None:
    put_logs(s3)
    report, _ = stats(capsys, aws)
    month, cost = report["months"]["2026-11"], report["cost"]["months"]["2026-11"]
    ours = {line["item"]: line for line in cost["this_design"]["lines"]}
    theirs = {line["item"]: line for line in cost["serverless"]["lines"]}
    assert ours["CloudFront requests"]["quantity"] == month["requests"] == 19
    assert ours["S3 GETs (CDN cache misses)"]["quantity"] == 2
    assert ours["S3 GETs (CDN cache misses)"]["cost"] == pytest.approx(2 * 0.0004 / 1000)
    # Six card changes in November (five adds, one edit), two mails each.
    assert ours["SES messages"]["quantity"] == 2 * 6
    # Card pages and vCards, whatever the kind: 17 requests on 11-03 (less the asset and the 404), two on 11-04.
    assert theirs["API Gateway HTTP API requests"]["quantity"] == 15 + 2
    assert theirs["API Gateway HTTP API requests"]["cost"] == pytest.approx(17 * 1.00 / 1e6)
    assert theirs["DynamoDB on-demand reads"]["cost"] == pytest.approx(17 * 0.125 / 1e6)
    for design in ("this_design", "serverless"):
        lines = cost[design]["lines"]
        assert cost[design]["total"] == pytest.approx(
            sum(max(0, line["quantity"] - line["free"]) * line["price"] for line in lines)
        )
    assert report["cost"]["prices_date"] == "2026-12-02"


def test_a_busy_month_costs_what_the_price_table_says() -> None:
    m = Month(
        requests=30_000_000,
        bytes=2048 * 1024**3,
        origin=1_000_000,
        card_requests=25_000_000,
        card_bytes=1024 * 1024**3,
        changes=100,
        site_bytes=0,
        log_bytes=0,
        log_days=395,
    )
    cost = month_cost(m)
    ours = {line["item"]: line["cost"] for line in cost["this_design"]["lines"]}
    assert ours["CloudFront requests"] == pytest.approx(20_000_000 * 0.01 / 10_000)  # 10 million are free
    assert ours["CloudFront data out"] == pytest.approx(1024 * 0.085)  # 1 TB is free
    assert ours["S3 GETs (CDN cache misses)"] == pytest.approx(0.40)
    assert ours["SES messages"] == pytest.approx(200 * 0.10 / 1000)
    theirs = {line["item"]: line["cost"] for line in cost["serverless"]["lines"]}
    assert theirs["API Gateway HTTP API requests"] == pytest.approx(25.0)
    assert theirs["Lambda requests"] == pytest.approx(24 * 0.20)
    assert theirs["Lambda duration"] == 0  # 312,500 GB-seconds: inside the 400,000 free
    bigger = month_cost(Month(0, 0, 0, 100_000_000, 0, 0, 0, 0, 395))["serverless"]["lines"]
    duration = next(line["cost"] for line in bigger if line["item"] == "Lambda duration")
    assert duration == pytest.approx((100e6 * 0.125 * 0.1 - 400_000) * PRICES["lambda_gb_second"])
    assert theirs["DynamoDB on-demand reads"] == pytest.approx(25 * 0.125)
    assert cost["serverless"]["total"] > cost["this_design"]["total"]


def test_a_local_folder_is_counted_the_same_and_keeps_its_totals_beside_the_logs(site: Path, capsys) -> None:
    logs = site / "logs"
    logs.mkdir()
    (logs / legacy_name(DIST, "2026-11-03", 10, "a1")).write_bytes(legacy_file(first_file(), ("bad",)))
    (logs / legacy_name(DIST, "2026-11-04", 9, "a2")).write_bytes(legacy_file(second_file()))
    for round_ in range(2):
        capsys.readouterr()
        assert main(["stats", "--dir", str(logs), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["totals"]["views"]["total"] == 11 and report["totals"]["saves"]["total"] == 3
        assert report["run"]["read"] == (2 if round_ == 0 else 0)
    assert (logs / "_cardsite" / "stats.parquet").is_file()


def test_the_totals_keep_no_address_hash_or_user_agent(site: Path, aws: str, s3: Any, tmp_path: Path, capsys) -> None:
    put_logs(s3)
    stats(capsys, aws)
    data = s3.get_object(Bucket=LOG_BUCKET, Key=f"{PREFIX}_cardsite/stats.parquet")["Body"].read()
    (tmp_path / "s.parquet").write_bytes(data)
    import duckdb

    con = duckdb.connect()
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM '{tmp_path / 's.parquet'}'").fetchall()]
    assert columns == ["level", "period", "card", "kind", "source", "requests", "bytes", "visitors", "origin"]
    text = data.decode("latin-1")
    for secret in (A, B, "203.0.113", "iPhone", "Googlebot", "Mozilla"):
        assert secret not in text


def test_markdown_and_html_reports(site: Path, aws: str, s3: Any, capsys) -> None:
    put_logs(s3)
    stats(capsys, aws)
    base = ["stats", "--bucket", LOG_BUCKET, "--prefix", PREFIX, "--endpoint-url", aws]
    assert main([*base, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "| scans (page views) | 6 | 3 | 1 | 2 | 12 |" in markdown
    assert "| `jana-mueller` | Dr. Jana Sophie Müller, MSc ETH | 8 |" in markdown
    assert "**Scans per change: 6.0**" in markdown
    assert main([*base, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert not re.search(r"<script|<link|@import|url\(|src=", page)
    assert "Dr. Jana Sophie Müller, MSc ETH" in page


def test_names_are_escaped_in_markdown_and_html() -> None:
    from cardsite.stats.page import to_html
    from cardsite.stats.report import to_markdown
    from cardsite.stats.summary import empty_counts

    hostile = "<img src=x onerror=alert(1)> | **bold**"
    counts = empty_counts() | {"months": {}}
    report = {
        "period": {"first_day": "2026-11-01", "last_day": "2026-11-01"},
        "run": {"read": 0, "listed": 0, "bad_lines": 0, "bad_files": 0},
        "totals": empty_counts(),
        "scans_per_change": None,
        "changes": {"available": False},
        "cards": {"x": {"name": hostile, **counts}},
        "months": {"2026-11": empty_counts() | {"requests": 0, "bytes": 0, "origin": 0}},
        "days": {},
        "cost": {"prices_date": "2026-12-02", "months": {"2026-11": month_cost(Month(0, 0, 0, 0, 0, 0, 0, 0, 395))}},
    }
    markdown = to_markdown(report)
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt; \\| \\*\\*bold\\*\\*" in markdown
    page = to_html(report)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_bad_options_and_a_missing_bucket_give_one_clear_line(site: Path, aws: str, capsys) -> None:
    assert main(["stats"]) == 1
    assert "either as --dir PATH or as --bucket NAME" in capsys.readouterr().err
    assert main(["stats", "--bucket", "no-such-bucket", "--endpoint-url", aws]) == 1
    err = capsys.readouterr().err
    assert "bucket 'no-such-bucket' does not exist" in err and "Traceback" not in err


def test_a_damaged_totals_file_is_refused_not_overwritten(site: Path, capsys) -> None:
    logs = site / "logs"
    (logs / "_cardsite").mkdir(parents=True)
    (logs / legacy_name(DIST, "2026-11-04", 9, "a2")).write_bytes(legacy_file(second_file()))
    (logs / "_cardsite" / "stats.parquet").write_bytes(b"not parquet")
    assert main(["stats", "--dir", str(logs)]) == 1
    assert "is not cardsite's running totals" in capsys.readouterr().err
    assert (logs / "_cardsite" / "stats.parquet").read_bytes() == b"not parquet"


def test_a_file_that_is_no_log_is_left_out_with_a_warning(site: Path, capsys) -> None:
    logs = site / "logs"
    logs.mkdir()
    (logs / "README.txt").write_text("not a log\n")
    (logs / "empty.gz").write_bytes(gzip.compress(b""))
    (logs / legacy_name(DIST, "2026-11-04", 9, "a2")).write_bytes(legacy_file(second_file()))
    assert main(["stats", "--dir", str(logs), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["totals"]["views"]["total"] == 2
    assert "README.txt is neither a CloudFront standard log" in out.err and "empty.gz is neither" in out.err


def test_the_html_report_is_valid_html(site: Path, aws: str, s3: Any, tmp_path: Path, capsys) -> None:
    import shutil

    from conftest import skip_or_fail
    from test_html_checkers import NPM_INSTALL, VNU_JAR, errors, js_tools

    java = shutil.which("java")
    if java is None:
        skip_or_fail("java is not installed (apt-get install default-jre-headless)")
    js_tools()
    if not VNU_JAR.is_file():
        skip_or_fail(f"the Nu HTML Checker is not installed ({NPM_INSTALL})")
    put_logs(s3)
    assert main(["stats", "--bucket", LOG_BUCKET, "--prefix", PREFIX, "--endpoint-url", aws, "--format", "html"]) == 0
    page = tmp_path / "stats.html"
    page.write_text(capsys.readouterr().out, "utf-8")
    run = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always", str(page)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert errors(json.loads(run.stderr)["messages"]) == []
