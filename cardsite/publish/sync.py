"""Publish the built site to S3 and invalidate what changed in CloudFront.

One listing pass and one manifest read tell what the bucket holds (see
`publish_plan`). Then, in an order that never shows visitors a broken page:
new and changed assets, vCards and QR codes; the HTML pages; deletions, only
if every upload succeeded; one CloudFront invalidation; and last the new
manifest. The manifest records only what S3 confirmed, plus any invalidation
still owed, so a rerun after a failure repairs exactly what is missing.
"""

from __future__ import annotations

import argparse
import logging
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..build.manifest import read_manifest
from ..errors import Abort
from .plan import (
    MANIFEST,
    RESERVED,
    Entry,
    Listed,
    LocalFile,
    Manifest,
    check_deletions,
    content_hash,
    invalidation_paths,
    make_plan,
    merge_paths,
    object_drift,
    scan_site,
)
from .report import PublishResult, append_step_summary, write_result

log = logging.getLogger(__name__)

#: put_object parameter for each header object_headers() may return.
PUT_PARAMS = {
    "Content-Type": "ContentType",
    "Cache-Control": "CacheControl",
    "Content-Disposition": "ContentDisposition",
    "Content-Encoding": "ContentEncoding",
    "Content-Language": "ContentLanguage",
}
#: IAM action behind each API call, named when access is denied.
ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObjects": "s3:DeleteObject",
    "CreateInvalidation": "cloudfront:CreateInvalidation",
}
DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"}
BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
}
DELETE_BATCH = 1000


@dataclass(frozen=True)
class PublishOptions:
    """Checked settings of one publish run."""

    out: Path
    bucket: str
    prefix: str = ""
    distribution_id: str | None = None
    endpoint_url: str | None = None
    dry_run: bool = False
    allow_deletes: int | None = None
    result: Path | None = None
    verify: bool = False
    workers: int = 16
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if not self.bucket:
            raise Abort("no bucket given: pass --bucket NAME or set CARDSITE_BUCKET")
        if self.allow_deletes is not None and self.allow_deletes < 0:
            raise Abort("--allow-deletes must be 0 or more")
        prefix = self.prefix.strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise Abort(f"--prefix {self.prefix!r} must be plain folder names separated by '/'")
        if f"{prefix}/".startswith(RESERVED):
            raise Abort(f"--prefix may not start with {RESERVED}, which is reserved for cardsite's own objects")
        object.__setattr__(self, "prefix", f"{prefix}/" if prefix else "")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> PublishOptions:
        """Check the command-line options (the environment fills --bucket and --distribution-id)."""
        return cls(
            out=args.out,
            bucket=args.bucket or "",
            prefix=args.prefix or "",
            distribution_id=args.distribution_id or None,
            endpoint_url=args.endpoint_url,
            dry_run=args.dry_run,
            allow_deletes=args.allow_deletes,
            result=args.result,
            verify=args.verify,
        )


class PublishFailed(Abort):
    """Stop a publish, keeping what it did for the report."""

    def __init__(self, message: str, result: PublishResult):
        super().__init__(message)
        self.result = result


def publish_command(args: argparse.Namespace) -> int:
    """Run `build.py publish`: publish, then report in text, JSON and the job summary."""
    options = PublishOptions.from_args(args)
    try:
        result = publish(options)
    except PublishFailed as exc:
        _report(options, exc.result)
        raise
    except Abort as exc:
        # Failed before a plan existed (no build, no bucket, no access): scripts still get a result.
        _report(options, PublishResult(options.bucket, options.prefix, None, {}, options.dry_run, error=str(exc)))
        raise
    _report(options, result)
    return 0


def _report(options: PublishOptions, result: PublishResult) -> None:
    if result.plan is not None:
        print(result.text())
    if options.result:
        write_result(options.result, result)
    append_step_summary(result)


def publish(options: PublishOptions, session: Any = None) -> PublishResult:
    """Make the bucket hold exactly the built site; return what was done.

    `session` is a boto3 Session (default: a new one on the standard credential chain).
    """
    # The manifest, not the build's private state: any cardsite of this manifest version can publish the site.
    site = read_manifest(options.out)
    names = {card_id: card.name for card_id, card in site.cards.items()}
    local = scan_site(options.out)
    remote = Remote(options, session)
    listing = remote.list()
    manifest = remote.get_manifest() if MANIFEST in listing else Manifest()
    drift = remote.verify(local, listing) if options.verify else {}
    plan = make_plan(local, manifest, listing, drift)
    result = PublishResult(options.bucket, options.prefix, plan, names, dry_run=options.dry_run)
    if options.verify:
        result.verified, result.drift = sum(1 for rel in local if rel in listing), drift
    owed = invalidation_paths(plan.changed + plan.deleted)
    if options.dry_run:
        result.invalidation_paths = merge_paths(owed, manifest.pending) if options.distribution_id else []
    try:
        check_deletions(plan, options.allow_deletes)
    except Abort as exc:
        result.error = str(exc)
        raise PublishFailed(str(exc), result) from None
    if options.dry_run:
        return result

    entries = {rel: manifest.entries[rel] for rel in plan.unchanged}
    uploaded = remote.upload(plan.phases(site.page_links()), local, result.failed)
    for rel, etag in uploaded.items():
        entries[rel] = Entry.uploaded(local[rel], etag)
    result.uploaded = sorted(uploaded)
    if plan.deleted and not result.failed:
        result.deleted = remote.delete(plan.deleted, result.failed)

    paths = invalidation_paths([rel for rel in plan.changed if rel in uploaded] + result.deleted)
    pending = merge_paths(paths, manifest.pending) if options.distribution_id and (paths or manifest.pending) else []
    if pending and not result.failed:
        try:
            result.invalidation_id = remote.invalidate(pending)
            result.invalidation_paths, pending = pending, []
        except Abort as exc:
            result.error = f"uploaded, but {exc}; the next run invalidates again"
    elif paths and not options.distribution_id:
        log.info("No --distribution-id: CloudFront was not invalidated (pages expire within 5 minutes)")

    new_manifest = Manifest(entries, pending)
    if new_manifest.dump() != manifest.dump():
        try:
            remote.put_manifest(new_manifest)
        except Abort as exc:
            result.error = result.error or f"{exc}; the next run uploads the changed files again"
    if result.failed:
        first = next(iter(result.failed.values()))
        done = f"{len(result.deleted)} deleted" if result.deleted else "nothing was deleted"
        result.error = result.error or f"{len(result.failed)} request(s) failed, {done}: {first}; run publish again"
    if result.error:
        raise PublishFailed(result.error, result)
    return result


# --------------------------------------------------------------------------- AWS


class Remote:
    """The bucket (under the prefix) and the distribution, with errors explained."""

    def __init__(self, options: PublishOptions, session: Any = None):
        import boto3
        from botocore.config import Config

        self.options = options
        self.bucket = options.bucket
        self.prefix = options.prefix
        session = session or boto3.session.Session()
        config = Config(
            retries={"mode": "standard", "max_attempts": options.max_attempts},
            max_pool_connections=options.workers + 4,
            connect_timeout=10,
            read_timeout=60,
        )
        self.session, self.config = session, config
        self.s3 = session.client("s3", endpoint_url=options.endpoint_url, config=config)

    def list(self) -> dict[str, Listed]:
        """Return every key under the prefix with its size and ETag, in one listing pass."""
        listing: dict[str, Listed] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        with self._explained("ListObjectsV2", ""):
            for page in pages:
                for obj in page.get("Contents", []):
                    listing[obj["Key"][len(self.prefix) :]] = Listed(obj["Size"], obj["ETag"])
        return listing

    def get_manifest(self) -> Manifest:
        """Read the manifest back in one request."""
        with self._explained("GetObject", MANIFEST):
            body = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + MANIFEST)["Body"].read()
        return Manifest.load(body)

    def verify(self, local: dict[str, LocalFile], listing: dict[str, Listed]) -> dict[str, str]:
        """HEAD every object the site has, GET those whose ETag is not the local MD5; return {rel: how it differs}."""
        keys = sorted(rel for rel in local if rel in listing)
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="verify") as pool:
            found = dict(zip(keys, pool.map(lambda rel: self._drift(local[rel]), keys), strict=True))
        drift = {rel: why for rel, why in found.items() if why}
        for rel, why in sorted(drift.items()):
            log.info("%s differs from the site: %s", rel, why)
        return drift

    def _drift(self, f: LocalFile) -> str | None:
        key = self.prefix + f.rel
        with self._explained("HeadObject", f.rel):
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        served = {name: head[param] for name, param in PUT_PARAMS.items() if head.get(param)}
        extra = {f"x-amz-meta-{name}": value for name, value in head.get("Metadata", {}).items()}
        if head.get("WebsiteRedirectLocation"):
            extra["x-amz-website-redirect-location"] = head["WebsiteRedirectLocation"]
        sha256 = None
        if head["ETag"] != f.etag:  # not the MD5 of the local bytes: other bytes, or an SSE-KMS/multipart ETag
            with self._explained("GetObject", f.rel):
                sha256 = content_hash(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return object_drift(f, served, extra, sha256)

    def put_manifest(self, manifest: Manifest) -> None:
        """Write the manifest; it is private (CloudFront refuses the reserved prefix) and never cached."""
        with self._explained("PutObject", MANIFEST):
            self.s3.put_object(
                Bucket=self.bucket,
                Key=self.prefix + MANIFEST,
                Body=manifest.dump(),
                ContentType="application/json",
                ContentEncoding="gzip",
                CacheControl="no-store",
            )

    def upload(self, phases: list[list[str]], local: dict[str, LocalFile], failed: dict[str, str]) -> dict[str, str]:
        """Upload phase after phase in parallel; stop before the next phase if one failed. Return {rel: ETag}."""
        uploaded: dict[str, str] = {}
        stop = threading.Event()
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="publish") as pool:
            for phase in phases:
                futures = {pool.submit(self._put, local[rel], stop): rel for rel in phase}
                for future in as_completed(futures):
                    rel = futures[future]
                    etag, error = future.result()
                    if etag is not None:
                        uploaded[rel] = etag
                    elif error is not None:
                        failed[rel] = error
                        stop.set()
                if failed:
                    break
        return uploaded

    def _put(self, f: LocalFile, stop: threading.Event) -> tuple[str | None, str | None]:
        """Upload one file; return (ETag, None), or (None, why), or (None, None) when skipped."""
        if stop.is_set():
            return None, None
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            return None, f"cannot read {f.path}: {exc.strerror}; build again, then publish"
        if content_hash(data) != f.sha256:
            return None, f"{f.rel} changed while publishing; build again, then publish"
        params = {PUT_PARAMS[name]: value for name, value in f.headers.items()}
        try:
            with self._explained("PutObject", f.rel):
                response = self.s3.put_object(Bucket=self.bucket, Key=self.prefix + f.rel, Body=data, **params)
        except Abort as exc:
            return None, str(exc)
        log.debug("Uploaded %s", f.rel)
        return response["ETag"], None

    def delete(self, rels: list[str], failed: dict[str, str]) -> list[str]:
        """Delete keys in batches of 1,000; return the keys deleted."""
        deleted: list[str] = []
        for start in range(0, len(rels), DELETE_BATCH):
            batch = rels[start : start + DELETE_BATCH]
            objects = [{"Key": self.prefix + rel} for rel in batch]
            try:
                with self._explained("DeleteObjects", batch[0]):
                    response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            except Abort as exc:
                failed.update({rel: str(exc) for rel in batch})
                break
            errors = {
                e["Key"][len(self.prefix) :]: f"{e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", [])
            }
            failed.update(errors)
            deleted += [rel for rel in batch if rel not in errors]
        return deleted

    def invalidate(self, paths: list[str]) -> str:
        """Create one CloudFront invalidation; return its id."""
        items = [quote(path, safe="/*") for path in paths]
        batch = {"Paths": {"Quantity": len(items), "Items": items}, "CallerReference": f"cardsite-{uuid.uuid4().hex}"}
        cloudfront = self.session.client("cloudfront", endpoint_url=self.options.endpoint_url, config=self.config)
        with self._explained("CreateInvalidation", ""):
            response = cloudfront.create_invalidation(
                DistributionId=self.options.distribution_id, InvalidationBatch=batch
            )
        return response["Invalidation"]["Id"]

    @contextmanager
    def _explained(self, operation: str, rel: str) -> Iterator[None]:
        """Turn an AWS error inside the block into an Abort naming what is missing."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            raise Abort(explain(exc, operation, self.options, rel)) from None


def explain(exc: Exception, operation: str, options: PublishOptions, rel: str = "") -> str:
    """Return a one-line message for an AWS error, naming the bucket, action or setting at fault."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if operation == "CreateInvalidation":
        resource = f"CloudFront distribution {options.distribution_id}"
    else:
        resource = f"arn:aws:s3:::{options.bucket}" + (f"/{options.prefix}{rel}" if rel else "")
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')} (check --endpoint-url and network)"
    if not isinstance(exc, ClientError):
        return f"{operation} on {resource} failed: {exc}"
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), error.get("Message", "")
    if code == "NoSuchBucket":
        return f"bucket '{options.bucket}' does not exist (check --bucket / CARDSITE_BUCKET)"
    if code == "NoSuchDistribution":
        return (
            f"CloudFront distribution '{options.distribution_id}' does not exist "
            "(check --distribution-id / CARDSITE_DISTRIBUTION_ID)"
        )
    if code in DENIED:
        return f"access denied: {ACTIONS.get(operation, operation)} on {resource} is not allowed for these credentials"
    if code in BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({code}: {message})"
    return f"{operation} on {resource} failed: {code} {message}".strip()
