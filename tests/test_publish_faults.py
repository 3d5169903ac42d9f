"""Publish through a proxy that fails requests: retries, clean stops, nothing deleted, reruns repair."""

from __future__ import annotations

import http.client
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_publish import (
    BUCKET,
    Recorder,
    bucket_objects,
    build_site,
    create_distribution,
    edit_card,
    invalidations,
    run,
    site_files,
)

from cardsite.cli import main
from cardsite.publish.plan import MANIFEST
from cardsite.publish.sync import PublishFailed

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect", "content-length"}
#: Decides, from the request number, method and path, whether to answer (status, error code) instead of moto.
Fault = Callable[[int, str, str], "tuple[int, str] | None"]


class FaultProxy(http.server.ThreadingHTTPServer):
    """Forward every request to moto, except those `fault` answers with an error itself."""

    daemon_threads = True

    def __init__(self, upstream: str, fault: Fault):
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = urlsplit(upstream)
        self.fault = fault
        self.count = 0
        self.failed = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        """Return the proxy's endpoint URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def number(self) -> int:
        """Return the next request number, from 1."""
        with self.lock:
            self.count += 1
            return self.count


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def do_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.server.fault(self.server.number(), self.command, self.path)
        if fault:
            with self.server.lock:
                self.server.failed += 1
            status, code = fault
            payload = f"<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>".encode()
            self._reply(status, [("Content-Type", "application/xml")], payload)
            return
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command == "HEAD":
                kept.append(("Content-Length", response.getheader("Content-Length", "0")))
            self._reply(response.status, kept, data)
        finally:
            upstream.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy(aws: str) -> Iterator[Callable[[Fault], FaultProxy]]:
    """Return a function that starts a fault-injecting proxy in front of moto."""
    started: list[FaultProxy] = []

    def start(fault: Fault) -> FaultProxy:
        server = FaultProxy(aws, fault)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def every(n: int, status: int = 503, code: str = "SlowDown") -> Fault:
    """Fail every n-th request with `status` (a deterministic share: 1/n)."""
    return lambda number, method, path: (status, code) if number % n == 0 else None


@pytest.fixture
def changed_site(project: Path, s3, aws: str) -> tuple[Path, list[str]]:
    """Publish the sample site, then change it: a new asset and pages, one card edited, one removed.

    Returns the built folder and the keys the next publish must delete.
    """
    site = build_site(project / "public")
    run(site, aws)
    before = set(site_files(site))
    js = project / "templates/assets/card.js"
    js.write_text(js.read_text("utf-8") + "\n// v2\n", "utf-8")
    edit_card(project, "max", "Tester")
    (project / "contacts/zoe-leclerc.yaml").unlink()
    build_site(site)
    doomed = sorted(before - set(site_files(site)))
    assert doomed and any(key.startswith("assets/") for key in doomed)
    return site, doomed


def assert_published(s3, site: Path) -> None:
    """Check the bucket holds exactly the built site, byte for byte."""
    remote = bucket_objects(s3)
    assert set(remote) == set(site_files(site)) | {MANIFEST}
    for rel, path in site_files(site).items():
        assert s3.get_object(Bucket=BUCKET, Key=rel)["Body"].read() == path.read_bytes(), rel


def test_503s_are_retried_or_stop_cleanly_and_a_rerun_completes(changed_site, s3, aws: str, proxy) -> None:
    site, doomed = changed_site
    distribution = create_distribution(aws)
    flaky = proxy(every(3))
    try:
        result = run(site, flaky.url, distribution_id=distribution, max_attempts=5)
        assert result.ok
    except PublishFailed as exc:
        assert not exc.result.deleted and set(doomed) <= set(bucket_objects(s3)), "nothing deleted after a failure"
        run(site, flaky.url, distribution_id=distribution, max_attempts=5)
    assert flaky.failed >= 3, "the proxy did fail requests"
    assert_published(s3, site)
    batches = invalidations(aws, distribution)
    assert len(batches) == 1, "one invalidation, after every upload went through"
    assert batches[0] == ["/*"] or {"/max/*", "/zoe-leclerc/*"} <= set(batches[0])


def test_without_retries_a_failure_deletes_nothing_and_a_rerun_repairs(changed_site, s3, aws: str, proxy) -> None:
    site, doomed = changed_site
    flaky = proxy(every(2))
    recorder = Recorder()
    with pytest.raises(PublishFailed, match="run publish again") as failure:
        run(site, flaky.url, recorder, max_attempts=1)
    assert not failure.value.result.deleted and recorder.count("DeleteObjects") == 0
    assert set(doomed) <= set(bucket_objects(s3)), "nothing deleted after a failed upload"
    puts = recorder.keys("PutObject")
    if any(not key.endswith(".html") for key in failure.value.result.failed):
        assert not any(key.endswith(".html") for key in puts), "no page goes up before its assets"

    rerun = Recorder()
    result = run(site, aws, rerun)
    assert result.ok and sorted(result.deleted) == doomed
    assert set(rerun.keys("PutObject")) - {MANIFEST} <= set(result.plan.added + result.plan.changed)
    assert_published(s3, site)


@pytest.mark.parametrize(
    ("method", "action", "resource"),
    [("PUT", "s3:PutObject", "arn:aws:s3:::cards/"), ("GET", "s3:ListBucket", "arn:aws:s3:::cards ")],
)
def test_missing_permission_names_action_and_resource(
    changed_site, s3, proxy, capsys, method: str, action: str, resource: str
) -> None:
    site, doomed = changed_site
    denied = proxy(lambda number, m, path: (403, "AccessDenied") if m == method else None)
    assert main(["publish", "--out", str(site), "--bucket", BUCKET, "--endpoint-url", denied.url]) == 1
    err = capsys.readouterr().err
    assert f"access denied: {action} on {resource}" in err and "Traceback" not in err
    assert set(doomed) <= set(bucket_objects(s3))


def _rename_max(project: Path) -> tuple[str, str]:
    """Rename max to maximilian, keeping the old id as an alias; return (target page, page pointing to it)."""
    old = project / "contacts/max.yaml"
    (project / "contacts/maximilian.yaml").write_text(old.read_text("utf-8") + "aliases: [max]\n", "utf-8")
    old.unlink()
    return "maximilian/index.html", "max/index.html"


def _retire_zoe(project: Path) -> tuple[str, str]:
    """Retire zoe-leclerc in favour of jana-mueller, whose page changes too; return (target, pointer)."""
    zoe = project / "contacts/zoe-leclerc.yaml"
    zoe.write_text(zoe.read_text("utf-8") + "active: false\nsuccessor: jana-mueller\n", "utf-8")
    edit_card(project, "jana-mueller", "Chief Platform Officer")
    return "jana-mueller/index.html", "zoe-leclerc/index.html"


@pytest.mark.parametrize("change", [_rename_max, _retire_zoe], ids=["alias", "successor"])
def test_a_failed_page_put_leaves_no_link_to_it(project: Path, s3, aws: str, proxy, change) -> None:
    site = build_site(project / "public")
    run(site, aws)
    target, pointer = change(project)
    build_site(site)
    old_pointer = s3.get_object(Bucket=BUCKET, Key=pointer)["Body"].read()
    assert old_pointer != (site / pointer).read_bytes(), "the page pointing to the target changes in this publish"

    failing = proxy(
        lambda n, method, path: (403, "AccessDenied") if method == "PUT" and path.endswith(target) else None
    )
    recorder = Recorder()
    with pytest.raises(PublishFailed, match="run publish again") as failure:
        run(site, failing.url, recorder, max_attempts=1)
    assert list(failure.value.result.failed) == [target]
    assert pointer not in recorder.keys("PutObject"), "the page that points to a missing page was not sent"
    assert s3.get_object(Bucket=BUCKET, Key=pointer)["Body"].read() == old_pointer, "the printed URL still works"

    result = run(site, aws)
    assert result.ok and s3.get_object(Bucket=BUCKET, Key=pointer)["Body"].read() == (site / pointer).read_bytes()
    assert_published(s3, site)


def test_pages_go_up_after_the_pages_they_point_to() -> None:
    from cardsite.publish.plan import Plan

    plan = Plan(added=["new/index.html", "new/new.vcf", "index.html"], changed=["old/index.html", "gone/index.html"])
    links = {
        "old/index.html": {"new/index.html"},
        "gone/index.html": {"old/index.html"},
        "index.html": {"new/index.html"},
    }
    assert plan.phases(links) == [
        ["new/new.vcf"],
        ["new/index.html"],
        ["index.html", "old/index.html"],
        ["gone/index.html"],
    ]
    assert plan.phases() == [["new/new.vcf"], ["gone/index.html", "index.html", "new/index.html", "old/index.html"]]
