"""Shared fixtures: a copy of the sample project, a headless Chromium and a moto server."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip locally, but fail under CI=true, where every tool must be installed."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: install it, see .ci/run)")
    pytest.skip(reason)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a temporary copy of the sample project (contacts, templates, site.yaml), as cwd."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(ROOT / "contacts", root / "contacts")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copy(ROOT / "site.yaml", root / "site.yaml")
    monkeypatch.chdir(root)
    return root


# --------------------------------------------------------------------------- HTTP


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a built site with the same headers S3 gets from publish."""

    def end_headers(self) -> None:
        from urllib.parse import unquote

        from cardsite.build.output import object_headers

        rel = unquote(self.path.split("?", 1)[0].lstrip("/"))
        if rel and not rel.endswith("/"):
            for name, value in object_headers(rel).items():
                if name != "Content-Type":
                    self.send_header(name, value)
        super().end_headers()

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        from cardsite.build.output import object_headers

        return object_headers(str(path))["Content-Type"]

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 with publish's headers while the block runs; give its base URL."""
    handler = functools.partial(SiteHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def serve_dir() -> Iterator[callable]:
    """Return a function that serves a folder on 127.0.0.1 and gives its base URL."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(SiteHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- browser


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's headless Chromium through Playwright (skips locally when missing)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """Return a fresh browser page that accepts downloads."""
    context = browser.new_context(accept_downloads=True)
    pg = context.new_page()
    yield pg
    context.close()


# --------------------------------------------------------------------------- AWS


TEST_BUCKET = "cards"


@pytest.fixture
def s3(aws: str):
    """Return an S3 client on the moto server, with the bucket TEST_BUCKET created."""
    import boto3

    client = boto3.client("s3", endpoint_url=aws)
    client.create_bucket(Bucket=TEST_BUCKET)
    return client


def create_distribution(endpoint: str, bucket: str) -> str:
    """Create a CloudFront distribution for `bucket` on the moto server; return its id."""
    import boto3

    config = {
        "CallerReference": f"cardsite-test-{bucket}",
        "Comment": "cards",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{bucket}.s3.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # CachingOptimized
        },
    }
    cloudfront = boto3.client("cloudfront", endpoint_url=endpoint)
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start moto's server mode on a free loopback port and return its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at a clean moto server with dummy credentials; return the endpoint."""
    import urllib.request

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    yield moto_server
