"""Publish against moto's S3 and CloudFront over HTTP: bytes, headers, order, guards and errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import boto3
import conftest
import pytest

from cardsite.build.output import object_headers
from cardsite.build.store import card_names
from cardsite.cli import main
from cardsite.publish.plan import (
    MANIFEST,
    Listed,
    LocalFile,
    Manifest,
    invalidation_paths,
    make_plan,
)
from cardsite.publish.sync import PublishFailed, PublishOptions, publish

BUCKET = conftest.TEST_BUCKET


# --------------------------------------------------------------------------- helpers


class Recorder:
    """Record every HTTP request boto3 sends (retries included), in order, through botocore's event hooks."""

    def __init__(self) -> None:
        self.session = boto3.session.Session()
        self.requests: list[tuple[str, str, str]] = []
        self.session.events.register("before-send", self._record)

    def _record(self, request, event_name: str, **kwargs) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        path = unquote(urlsplit(request.url).path)
        key = path.split("/", 2)[2] if path.count("/") >= 2 else ""
        self.requests.append((operation, request.method, key))

    def keys(self, operation: str) -> list[str]:
        """Return the keys of every request of one operation, in order."""
        return [key for op, _, key in self.requests if op == operation]

    def count(self, operation: str) -> int:
        """Return how many requests of one operation were sent."""
        return len(self.keys(operation))


def build_site(out: Path) -> Path:
    """Build the project in the working directory into `out`."""
    assert main(["build", "--out", str(out), "-q"]) == 0
    return out


def run(out: Path, endpoint: str, recorder: Recorder | None = None, **options) -> object:
    """Publish `out` to the test bucket; return the result."""
    opts = PublishOptions(out=out, bucket=options.pop("bucket", BUCKET), endpoint_url=endpoint, **options)
    return publish(opts, session=recorder.session if recorder else None)


def bucket_objects(s3, prefix: str = "") -> dict[str, dict]:
    """Return {key: head_object response} of every object in the test bucket."""
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])]  # fmt: skip
    return {key: s3.head_object(Bucket=BUCKET, Key=key) for key in keys}


def site_files(out: Path) -> dict[str, Path]:
    """Return {rel: path} of every publishable file in a built site."""
    return {
        p.relative_to(out).as_posix(): p
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


def create_distribution(endpoint: str) -> str:
    """Create a CloudFront distribution for the test bucket; return its id."""
    return conftest.create_distribution(endpoint, BUCKET)


def invalidations(endpoint: str, distribution_id: str) -> list[list[str]]:
    """Return the paths of every invalidation of a distribution."""
    cloudfront = boto3.client("cloudfront", endpoint_url=endpoint)
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    return [
        cloudfront.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"]["InvalidationBatch"][
            "Paths"
        ].get("Items", [])
        for item in listed
    ]


def edit_card(project: Path, card_id: str, title: str) -> None:
    """Change one card's title in its YAML file."""
    path = project / "contacts" / f"{card_id}.yaml"
    text = path.read_text("utf-8")
    path.write_text(
        text + f"\ntitle: {title}\n" if "\ntitle:" not in text else text.replace("\ntitle:", f"\ntitle: {title} #", 1),
        "utf-8",
    )


def snapshot(out: Path) -> dict[str, bytes]:
    """Return the bytes of every publishable file of a built site."""
    return {rel: path.read_bytes() for rel, path in site_files(out).items()}


def changed_files(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """Return the files a rebuild changed (same path, other bytes)."""
    return sorted(rel for rel in after if rel in before and before[rel] != after[rel])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def site(project: Path) -> Path:
    """Return the sample project built into public/."""
    return build_site(project / "public")


# --------------------------------------------------------------------------- bytes and headers


def test_publish_uploads_every_file_with_its_bytes_and_headers(project: Path, site: Path, s3, aws: str) -> None:
    result = run(site, aws)
    local = site_files(site)
    remote = bucket_objects(s3)
    assert set(remote) == set(local) | {MANIFEST}, "everything but the build state, plus the manifest"
    assert not any(key.startswith(".") or "/." in key for key in remote)
    for rel, path in local.items():
        obj = s3.get_object(Bucket=BUCKET, Key=rel)
        assert obj["Body"].read() == path.read_bytes(), rel
        expected = object_headers(rel)
        assert obj["ContentType"] == expected["Content-Type"], rel
        assert obj["CacheControl"] == expected["Cache-Control"], rel
        assert obj.get("ContentDisposition") == expected.get("Content-Disposition"), rel
    vcf = s3.get_object(Bucket=BUCKET, Key="jana-mueller/jana-mueller.vcf")
    assert vcf["ContentType"] == "text/vcard; charset=utf-8"
    assert vcf["ContentDisposition"] == 'attachment; filename="jana-mueller.vcf"'
    assert s3.get_object(Bucket=BUCKET, Key="max/index.html")["CacheControl"] == "public, max-age=300"
    asset = next(rel for rel in local if rel.startswith("assets/"))
    assert s3.get_object(Bucket=BUCKET, Key=asset)["CacheControl"] == "public, max-age=31536000, immutable"
    assert result.to_json()["cards"]["added"] == sorted(card_names(site))


def test_prefix_puts_site_and_manifest_under_it(project: Path, site: Path, s3, aws: str) -> None:
    run(site, aws, prefix="/staging/")
    keys = set(bucket_objects(s3))
    assert keys == {f"staging/{rel}" for rel in site_files(site)} | {f"staging/{MANIFEST}"}


# --------------------------------------------------------------------------- deciding by content


def test_fresh_rebuild_of_unchanged_site_uploads_nothing(project: Path, site: Path, s3, aws: str) -> None:
    distribution = create_distribution(aws)
    run(site, aws, distribution_id=distribution)
    again = build_site(project / "fresh")  # new files, new mtimes, same bytes
    recorder = Recorder()
    result = run(again, aws, recorder, distribution_id=distribution)
    assert recorder.count("PutObject") == 0
    assert recorder.count("DeleteObjects") == 0
    assert recorder.count("CreateInvalidation") == 0
    assert recorder.count("ListObjectsV2") == 1 and recorder.keys("GetObject") == [MANIFEST]
    assert invalidations(aws, distribution) == [], "the first publish only added, so nothing was cached"
    assert result.plan.empty and len(result.plan.unchanged) == len(site_files(site))


def test_object_changed_or_removed_behind_its_back_is_uploaded_again(project: Path, site: Path, s3, aws: str) -> None:
    run(site, aws)
    s3.put_object(Bucket=BUCKET, Key="max/index.html", Body=b"defaced")
    s3.delete_object(Bucket=BUCKET, Key="max/qr.svg")
    recorder = Recorder()
    run(site, aws, recorder)
    assert sorted(recorder.keys("PutObject")) == ["max/index.html", "max/qr.svg"], "same bytes, same manifest"
    assert s3.get_object(Bucket=BUCKET, Key="max/index.html")["Body"].read() == (site / "max/index.html").read_bytes()


def test_unreadable_manifest_means_compare_everything_again(project: Path, site: Path, s3, aws: str) -> None:
    run(site, aws)
    s3.put_object(Bucket=BUCKET, Key=MANIFEST, Body=b"\x1f\x8b truncated")
    recorder = Recorder()
    run(site, aws, recorder)
    assert sorted(recorder.keys("PutObject")) == sorted([*site_files(site), MANIFEST])
    again = Recorder()
    run(site, aws, again)
    assert again.count("PutObject") == 0


def test_changed_headers_alone_mean_an_upload() -> None:
    f = LocalFile("max/max.vcf", Path("max/max.vcf"), 3, "a" * 64, {"Content-Type": "text/vcard; charset=utf-8"})
    listing = {"max/max.vcf": Listed(3, '"e"')}
    same = Manifest({"max/max.vcf": _entry(f, '"e"')})
    assert make_plan({f.rel: f}, same, listing).unchanged == ["max/max.vcf"]
    renamed = LocalFile(f.rel, f.path, f.size, f.sha256, {**f.headers, "Content-Disposition": "attachment"})
    assert make_plan({f.rel: renamed}, same, listing).changed == ["max/max.vcf"]


def test_an_md5_etag_vouches_for_content_without_a_hash_in_the_manifest() -> None:
    from cardsite.publish.plan import BY_MD5, Entry, md5_etag

    headers = {"Content-Type": "text/html; charset=utf-8"}
    old = LocalFile("max/index.html", Path("max/index.html"), 3, "a" * 64, headers, md5_etag(b"old"))
    entry = Entry.uploaded(old, md5_etag(b"old"))
    assert entry.etag == BY_MD5 and entry.sha256 == "", "nothing content-specific is kept"
    manifest = Manifest({old.rel: entry})
    listing = {old.rel: Listed(3, md5_etag(b"old"))}
    assert make_plan({old.rel: old}, manifest, listing).unchanged == [old.rel]
    new = LocalFile(old.rel, old.path, 3, "b" * 64, headers, md5_etag(b"new"))
    assert make_plan({new.rel: new}, manifest, listing).changed == [old.rel], "other bytes, other MD5"
    assert Entry.uploaded(new, md5_etag(b"new")) == entry, "so the manifest need not change after the upload"
    moved = LocalFile(old.rel, old.path, 3, old.sha256, {**headers, "Cache-Control": "no-store"}, old.etag)
    assert make_plan({moved.rel: moved}, manifest, listing).changed == [old.rel], "headers are still compared"
    kms = Entry.uploaded(old, '"0f343b0931126a20f133d67c2b018a3b-1"')
    assert kms.sha256 == old.sha256 and kms.etag != BY_MD5, "another ETag: keep the content hash"


def _entry(f: LocalFile, etag: str):
    from cardsite.publish.plan import Entry

    return Entry(f.sha256, f.headers_hash, f.size, etag)


def test_invalidation_paths_cover_a_card_with_one_wildcard() -> None:
    assert invalidation_paths(["max/index.html", "max/max.vcf"]) == ["/max/*"]
    assert invalidation_paths(["max/max.vcf"]) == ["/max/max.vcf"]
    assert invalidation_paths(["404.html", "assets/card.1.js"]) == ["/404.html", "/assets/card.1.js"]
    assert invalidation_paths([f"c{i}/index.html" for i in range(9)]) == ["/*"]
    assert invalidation_paths([]) == []


def test_one_card_edit_in_a_1000_card_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3, aws: str) -> None:
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "templates", tmp_path / "templates")
    shutil.copy(root / "site.yaml", tmp_path / "site.yaml")
    (tmp_path / "contacts").mkdir()
    for i in range(1000):
        (tmp_path / "contacts" / f"person-{i:04d}.yaml").write_text(f"name:\n  given: Person\n  family: Nr {i}\n")
    monkeypatch.chdir(tmp_path)
    out = build_site(tmp_path / "public")
    distribution = create_distribution(aws)
    run(out, aws, distribution_id=distribution)

    before = snapshot(out)
    edit_card(tmp_path, "person-0500", "Chief Tester")
    build_site(out)
    changed = changed_files(before, snapshot(out))
    assert {"person-0500/index.html", "person-0500/person-0500.vcf"} <= set(changed)
    assert all(rel.startswith("person-0500/") for rel in changed)
    recorder = Recorder()
    result = run(out, aws, recorder, distribution_id=distribution)
    uploads = recorder.keys("PutObject")
    assert sorted(uploads) == changed and len(uploads) <= 3, "at most 3 PUTs, the manifest included"
    assert MANIFEST not in uploads, "a content-only edit leaves the manifest as it was"
    assert recorder.count("GetObject") == 1
    pages = -(-(len(before) + 1) // 1000)
    assert recorder.count("ListObjectsV2") == pages, "one listing pass: one LIST per 1,000 objects"
    assert recorder.count("DeleteObjects") == 0
    assert invalidations(aws, distribution) == [["/person-0500/*"]]
    assert result.to_json()["cards"] == {"added": [], "changed": ["person-0500"], "removed": []}
    body = s3.get_object(Bucket=BUCKET, Key="person-0500/index.html")["Body"].read()
    assert b"Chief Tester" in body


# --------------------------------------------------------------------------- order


def test_assets_and_vcards_go_first_pages_next_deletions_last(project: Path, site: Path, s3, aws: str) -> None:
    run(site, aws)
    js = project / "templates/assets/card.js"
    js.write_text(js.read_text("utf-8") + "\n// v2\n", "utf-8")  # new asset hash: every page changes
    edit_card(project, "max", "Tester")
    (project / "contacts/zoe-leclerc.yaml").unlink()
    build_site(site)
    recorder = Recorder()
    run(site, aws, recorder)

    sent = [(op, key) for op, _, key in recorder.requests if op in ("PutObject", "DeleteObjects")]
    puts = [key for op, key in sent if op == "PutObject"]
    pages = [i for i, key in enumerate(puts) if key.endswith(".html")]
    others = [i for i, key in enumerate(puts) if not key.endswith(".html") and key != MANIFEST]
    assert others and pages and max(others) < min(pages), puts
    assert any(key.startswith("assets/") for key in puts[: len(others)])
    assert [op for op, _ in sent[-2:]] == ["DeleteObjects", "PutObject"] and sent[-1][1] == MANIFEST
    remote = set(bucket_objects(s3))
    assert remote == set(site_files(site)) | {MANIFEST}


# --------------------------------------------------------------------------- deletions


def _stray(s3, count: int) -> list[str]:
    keys = [f"old-{i:02d}/index.html" for i in range(count)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"old")
    return keys


def test_delete_guard_refuses_then_allow_deletes_lets_them_through(project: Path, site: Path, s3, aws: str) -> None:
    distribution = create_distribution(aws)
    stray = _stray(s3, 11)
    s3.put_object(Bucket=BUCKET, Key="_cardsite/notify-state.json", Body=b"{}")
    recorder = Recorder()
    with pytest.raises(PublishFailed, match=r"refusing to delete 11 of 11 objects \(limit 10\).*--allow-deletes 11"):
        run(site, aws, recorder, distribution_id=distribution)
    assert recorder.count("PutObject") == recorder.count("DeleteObjects") == 0, "refused before changing anything"
    assert set(stray) <= set(bucket_objects(s3))

    result = run(site, aws, allow_deletes=11, distribution_id=distribution)
    remote = set(bucket_objects(s3))
    assert not set(stray) & remote
    assert "_cardsite/notify-state.json" in remote, "never deletes another command's internal objects"
    assert result.to_json()["cards"]["removed"] == [f"old-{i:02d}" for i in range(11)]
    assert invalidations(aws, distribution) == [["/*"]], "11 deleted cards collapse into one wildcard"


def test_allow_deletes_is_a_ceiling(project: Path, site: Path, s3, aws: str) -> None:
    _stray(s3, 3)
    with pytest.raises(PublishFailed, match="refusing to delete 3"):
        run(site, aws, allow_deletes=2)
    run(site, aws)  # 3 is within the default limit of 10
    assert not any(key.startswith("old-") for key in bucket_objects(s3))


# --------------------------------------------------------------------------- command line


def test_missing_bucket_is_a_clear_message(project: Path, site: Path, aws: str, capsys) -> None:
    args = ["publish", "--out", str(site), "--bucket", "nope", "--endpoint-url", aws, "--result", "result.json"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "bucket 'nope' does not exist (check --bucket / CARDSITE_BUCKET)" in err
    assert "Traceback" not in err
    result = json.loads((project / "result.json").read_text())
    assert not result["ok"] and "does not exist" in result["error"]


def test_a_result_file_that_cannot_be_written_is_a_clear_message(project: Path, site: Path, aws: str, capsys) -> None:
    (project / "results").write_text("a file, not a folder")
    args = ["publish", "--out", str(site), "--bucket", BUCKET, "--endpoint-url", aws, "--dry-run"]
    assert main([*args, "--result", "results/result.json"]) == 1
    err = capsys.readouterr().err
    assert "cannot write results/result.json: Not a directory" in err and "Traceback" not in err


def test_missing_settings_and_unbuilt_site_are_clear(project: Path, aws: str, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CARDSITE_BUCKET", raising=False)
    assert main(["publish", "--out", "public"]) == 1
    assert "no bucket given: pass --bucket NAME or set CARDSITE_BUCKET" in capsys.readouterr().err
    assert main(["publish", "--out", "public", "--bucket", BUCKET, "--endpoint-url", aws]) == 1
    assert "run `python build.py` first" in capsys.readouterr().err
    (project / "public").mkdir()
    (project / "public/index.html").write_text("not ours")
    assert main(["publish", "--out", "public", "--bucket", BUCKET, "--endpoint-url", aws]) == 1
    assert "run `python build.py` first" in capsys.readouterr().err


def test_environment_settings_result_file_and_step_summary(
    project: Path, site: Path, s3, aws: str, capsys, monkeypatch
) -> None:
    distribution = create_distribution(aws)
    monkeypatch.setenv("CARDSITE_BUCKET", BUCKET)
    monkeypatch.setenv("CARDSITE_DISTRIBUTION_ID", distribution)
    summary = project / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["publish", "--out", "public", "--endpoint-url", aws]) == 0
    before = snapshot(site)
    edit_card(project, "max", "Tester")
    build_site(site)
    changed = changed_files(before, snapshot(site))
    assert main(["publish", "--out", "public", "--endpoint-url", aws, "--result", "result.json"]) == 0
    out = capsys.readouterr().out
    assert "Cards changed: max" in out and "/max/*" in out
    result = json.loads((project / "result.json").read_text())
    assert result["ok"] and result["cards"] == {"added": [], "changed": ["max"], "removed": []}
    assert result["paths"]["changed"] == changed and "max/max.vcf" in changed
    assert result["invalidation"]["paths"] == ["/max/*"]
    markdown = summary.read_text()
    assert markdown.count("### Publish to `s3://cards/`") == 2 and "Cards changed: `max`" in markdown


def test_dry_run_prints_the_plan_and_changes_nothing(project: Path, site: Path, s3, aws: str, capsys) -> None:
    run(site, aws)
    before = snapshot(site)
    edit_card(project, "max", "Tester")
    build_site(site)
    changed = changed_files(before, snapshot(site))
    _stray(s3, 1)
    before = {k: v["ETag"] for k, v in bucket_objects(s3).items()}
    assert main(["publish", "--out", "public", "--bucket", BUCKET, "--endpoint-url", aws, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and "~ max/index.html" in out and "- old-00/index.html" in out
    assert f"Upload {len(changed)} (0 added, {len(changed)} changed)" in out and "Delete 1" in out
    assert {k: v["ETag"] for k, v in bucket_objects(s3).items()} == before


def test_failed_invalidation_is_owed_to_the_next_run(project: Path, site: Path, s3, aws: str) -> None:
    distribution = create_distribution(aws)
    run(site, aws, distribution_id=distribution)
    edit_card(project, "max", "Tester")
    build_site(site)
    with pytest.raises(PublishFailed, match=r"distribution 'WRONG' does not exist.*CARDSITE_DISTRIBUTION_ID"):
        run(site, aws, distribution_id="WRONG")
    recorder = Recorder()
    result = run(site, aws, recorder, distribution_id=distribution)
    assert recorder.keys("PutObject") == [MANIFEST], "files are live; only the owed invalidation is left"
    assert result.invalidation_paths == ["/max/*"]
    assert invalidations(aws, distribution) == [["/max/*"]]


# --------------------------------------------------------------------------- verify


def test_verify_repairs_headers_changed_behind_publishs_back(project: Path, site: Path, s3, aws: str, capsys) -> None:
    distribution = create_distribution(aws)
    run(site, aws, distribution_id=distribution)
    page, vcf, qr = "max/index.html", "max/max.vcf", "jana-mueller/qr.svg"
    # The same bytes again, by hand, with other headers: the listing's size and ETag stay the same.
    s3.copy_object(
        Bucket=BUCKET, Key=page, CopySource={"Bucket": BUCKET, "Key": page},
        MetadataDirective="REPLACE", ContentType="text/plain", CacheControl="public, max-age=300",
    )  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key=vcf, Body=(site / vcf).read_bytes(), ContentType="application/octet-stream")
    headers = object_headers(qr)
    s3.put_object(
        Bucket=BUCKET, Key=qr, Body=(site / qr).read_bytes(), ContentType=headers["Content-Type"],
        CacheControl=headers["Cache-Control"], Metadata={"note": "edited"},
    )  # fmt: skip

    recorder = Recorder()
    assert run(site, aws, recorder, distribution_id=distribution).plan.empty, "a normal publish does not see it"
    assert recorder.count("PutObject") == 0 and recorder.count("HeadObject") == 0

    args = ["publish", "--out", str(site), "--bucket", BUCKET, "--endpoint-url", aws, "--verify"]
    assert main([*args, "--dry-run"]) == 0
    assert "Verified" in capsys.readouterr().out and bucket_objects(s3)[page]["ContentType"] == "text/plain"
    assert main([*args, "--distribution-id", distribution, "--result", "verify.json"]) == 0
    out = capsys.readouterr().out
    assert f"Verified {len(site_files(site))} objects: 3 differed from the site (uploaded again)." in out
    assert f"  ~ {page}: Content-Type is 'text/plain', not 'text/html; charset=utf-8'" in out
    result = json.loads((project / "verify.json").read_text())
    assert result["verify"]["checked"] == len(site_files(site))
    assert result["verify"]["differed"] == {
        page: "Content-Type is 'text/plain', not 'text/html; charset=utf-8'",
        vcf: "Cache-Control is None, not 'public, max-age=300'",
        qr: "also has x-amz-meta-note: 'edited'",
    }
    assert sorted(result["uploaded"]) == sorted([page, vcf, qr])
    for rel in (page, vcf, qr):
        obj = s3.head_object(Bucket=BUCKET, Key=rel)
        assert obj["ContentType"] == object_headers(rel)["Content-Type"] and obj.get("Metadata", {}) == {}
        assert obj.get("ContentDisposition") == object_headers(rel).get("Content-Disposition")
    assert invalidations(aws, distribution) == [["/jana-mueller/qr.svg", "/max/*"]]

    again = Recorder()
    result = run(site, aws, again, verify=True)
    assert result.drift == {} and again.count("PutObject") == 0
    assert again.count("HeadObject") == len(site_files(site)) and again.count("GetObject") == 1, "only the manifest"


def test_object_drift_compares_bytes_headers_and_extras() -> None:
    from cardsite.publish.plan import object_drift

    headers = {"Content-Type": "text/vcard; charset=utf-8", "Cache-Control": "public, max-age=300"}
    f = LocalFile("max/max.vcf", Path("max/max.vcf"), 3, "a" * 64, {**headers, "Content-Disposition": "attachment"})
    assert object_drift(f, dict(f.headers), {}, None) is None
    assert object_drift(f, dict(f.headers), {}, "a" * 64) is None
    assert object_drift(f, dict(f.headers), {}, "b" * 64) == "other bytes"
    assert object_drift(f, headers, {}, None) == "Content-Disposition is None, not 'attachment'"
    assert (
        object_drift(f, {**f.headers, "Content-Encoding": "gzip"}, {}, None) == "Content-Encoding is 'gzip', not None"
    )
    extra = {"x-amz-website-redirect-location": "https://evil.example/"}
    assert (
        object_drift(f, dict(f.headers), extra, None)
        == "also has x-amz-website-redirect-location: 'https://evil.example/'"
    )
