"""Count what `build.py publish` sends to S3 and CloudFront, next to what `aws s3 sync` would upload.

    python benchmarks/publish.py [--cards 1000] [--json]

Builds an N-card site into a temporary folder, starts a moto server on
127.0.0.1, and publishes three times: the first publish; a fresh rebuild into
a new folder (same bytes, new mtimes); one card edited. Requests are counted
on the wire through botocore's `before-send` hook (retries included). The
`aws s3 sync` column counts the files sync would upload against the same
bucket: missing, another size, or a local mtime newer than LastModified.
Wall times are moto-bound and only comparable between runs on one machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from cardsite.build.engine import build  # noqa: E402
from cardsite.cards.settings import load_settings  # noqa: E402
from cardsite.publish.sync import PublishOptions, publish  # noqa: E402

BUCKET = "cards"


def make_project(folder: Path, cards: int) -> list[str]:
    """Write an N-card project; use the synthetic generator when it is there."""
    try:
        from synth import generate  # benchmarks/synth.py: realistic, varied cards
    except ImportError:
        generate = None
    if generate is not None:
        return generate(folder, cards)
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copy(ROOT / "site.yaml", folder / "site.yaml")
    (folder / "contacts").mkdir()
    ids = [f"person-{i:05d}" for i in range(cards)]
    for i, card_id in enumerate(ids):
        (folder / "contacts" / f"{card_id}.yaml").write_text(f"name:\n  given: Person\n  family: Nr {i}\n", "utf-8")
    return ids


def build_into(project: Path, out: Path) -> None:
    """Build the project into `out`."""
    build(load_settings(project / "contacts"), out)


class Counting:
    """A boto3 session that counts the requests its clients send, per API operation."""

    def __init__(self) -> None:
        self.session = boto3.session.Session()
        self.counts: Counter[str] = Counter()
        self.session.events.register("before-send", self._count)

    def _count(self, event_name: str, **kwargs: Any) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1


def sync_would_upload(s3: Any, out: Path) -> int:
    """Count the files `aws s3 sync out s3://bucket` would upload (size or mtime differs)."""
    remote = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            remote[obj["Key"]] = (obj["Size"], obj["LastModified"].timestamp())
    count = 0
    for path in out.rglob("*"):
        rel = path.relative_to(out).as_posix()
        # As if run with --exclude '.*' --exclude '*/.*', so both sides publish the same files.
        if not path.is_file() or any(part.startswith(".") for part in rel.split("/")):
            continue
        stat = path.stat()
        size, modified = remote.get(rel, (None, 0.0))
        if size != stat.st_size or stat.st_mtime > modified:
            count += 1
    return count


def scenario(name: str, out: Path, endpoint: str, distribution: str, s3: Any) -> dict[str, Any]:
    """Publish `out` once and return what was sent."""
    sync = sync_would_upload(s3, out)
    counting = Counting()
    options = PublishOptions(out=out, bucket=BUCKET, endpoint_url=endpoint, distribution_id=distribution)
    start = time.perf_counter()
    result = publish(options, session=counting.session)
    seconds = time.perf_counter() - start
    return {
        "scenario": name,
        "put": counting.counts["PutObject"],
        "delete": counting.counts["DeleteObjects"],
        "list": counting.counts["ListObjectsV2"],
        "get": counting.counts["GetObject"],
        "invalidations": counting.counts["CreateInvalidation"],
        "invalidation_paths": result.invalidation_paths,
        "uploaded": len(result.uploaded),
        "files": len(result.plan.uploads) + len(result.plan.unchanged),
        "aws_s3_sync_uploads": sync,
        "seconds": round(seconds, 2),
    }


def run(cards: int = 1000) -> dict[str, Any]:
    """Run the three scenarios on an N-card site; return the figures."""
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory(prefix="cardsite-bench-publish-") as tmp:
            project = Path(tmp) / "project"
            ids = make_project(project, cards)
            s3 = boto3.client("s3", endpoint_url=endpoint)
            s3.create_bucket(Bucket=BUCKET)
            distribution = create_distribution(endpoint)

            first, fresh = project / "public", project / "fresh"
            build_into(project, first)
            rows = [scenario("first publish", first, endpoint, distribution, s3)]
            time.sleep(1.1)  # a real rebuild happens later; make its mtimes visibly newer
            build_into(project, fresh)
            rows.append(scenario("fresh rebuild, unchanged", fresh, endpoint, distribution, s3))
            edited = project / "contacts" / f"{ids[len(ids) // 2]}.yaml"
            edited.write_text(edited.read_text("utf-8").replace("family: ", "family: Bench-", 1), "utf-8")
            build_into(project, fresh)
            rows.append(scenario("one card edited", fresh, endpoint, distribution, s3))
    finally:
        server.stop()
    return {"cards": cards, "scenarios": rows}


def create_distribution(endpoint: str) -> str:
    """Create a CloudFront distribution in moto; return its id."""
    origin = {"Id": "site", "DomainName": f"{BUCKET}.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}
    config = {
        "CallerReference": "cardsite-bench",
        "Comment": "benchmark",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    cloudfront = boto3.client("cloudfront", endpoint_url=endpoint)
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def table(figures: dict[str, Any]) -> str:
    """Return the figures as a plain-text table."""
    head = ("scenario", "PUT", "DELETE", "LIST", "GET", "inval.", "paths", "aws s3 sync", "seconds")
    rows = [
        (
            r["scenario"],
            r["put"],
            r["delete"],
            r["list"],
            r["get"],
            r["invalidations"],
            " ".join(r["invalidation_paths"]) or "-",
            r["aws_s3_sync_uploads"],
            r["seconds"],
        )
        for r in figures["scenarios"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    lines = [f"publish, {figures['cards']} cards ({figures['scenarios'][0]['files']} files); PUT includes the manifest"]
    for row in (head, *rows):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1000, help="cards in the site (default: 1000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.cards)
    print(json.dumps(figures, indent=2) if args.json else table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
