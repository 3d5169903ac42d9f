"""Publish the built site to S3 and invalidate what changed in CloudFront.

One listing pass and one read of the bucket manifest tell what the bucket
holds (see `publish.plan`). Then, in an order that never shows visitors a
broken page: new and changed assets, vCards and QR codes; the HTML pages;
deletions, only if every upload succeeded; one CloudFront invalidation; and
last the new bucket manifest. It records only what S3 confirmed, plus any
invalidation still owed, so a rerun after a failure repairs exactly what is
missing. AWS clients and error messages come from `cardsite.aws`.
"""

from __future__ import annotations

import argparse
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import aws, progress
from ..build.manifest import read_manifest
from ..errors import Abort
from .plan import (
    MANIFEST,
    Entry,
    Listed,
    LocalFile,
    Manifest,
    Plan,
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
DELETE_BATCH = 1000
#: The one line a Ctrl-C during each step ends with (see cardsite.progress): what was done, what was not.
UPLOAD_INTERRUPTED = (
    "uploaded {done:,} of {total:,} objects; nothing was deleted and the bucket manifest is unchanged;"
    " run publish again to finish."
)
DELETE_INTERRUPTED = (
    "every upload succeeded, and {done:,} of {total:,} stale objects were deleted;"
    " the bucket manifest is unchanged; run publish again to finish."
)
VERIFY_INTERRUPTED = "checked {done:,} of {total:,} objects; nothing was changed; run publish --verify again."


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
        object.__setattr__(self, "prefix", aws.key_prefix(self.prefix))

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
    result, manifest = _survey(options, remote, local, names)
    if options.dry_run:
        return result
    plan = result.plan
    assert plan is not None
    entries = {rel: manifest.entries[rel] for rel in plan.unchanged}
    entries |= _upload_and_delete(remote, plan, local, site.page_links(), result)
    pending = _invalidate(options, remote, result, manifest.pending)
    _save_manifest(remote, manifest, Manifest(entries, pending), result)
    _finish(result)
    return result


def _survey(
    options: PublishOptions, remote: Remote, local: dict[str, LocalFile], names: dict[str, str]
) -> tuple[PublishResult, Manifest]:
    """Read the bucket (listing, manifest, with --verify every object) and plan; refuse too many deletions."""
    listing = remote.list()
    manifest = remote.get_manifest() if MANIFEST in listing else Manifest()
    drift = remote.verify(local, listing) if options.verify else {}
    plan = make_plan(local, manifest, listing, drift)
    result = PublishResult(options.bucket, options.prefix, plan, names, dry_run=options.dry_run)
    if options.verify:
        result.verified, result.drift = sum(1 for rel in local if rel in listing), drift
    if options.dry_run and options.distribution_id:
        result.invalidation_paths = merge_paths(invalidation_paths(plan.changed + plan.deleted), manifest.pending)
    try:
        check_deletions(plan, options.allow_deletes)
    except Abort as exc:
        result.error = str(exc)
        raise PublishFailed(str(exc), result) from None
    return result, manifest


def _upload_and_delete(
    remote: Remote, plan: Plan, local: dict[str, LocalFile], links: dict[str, set[str]], result: PublishResult
) -> dict[str, Entry]:
    """Upload in phases, then delete only if every upload succeeded; return the manifest entries uploaded."""
    uploaded = remote.upload(plan.phases(links), local, result.failed)
    result.uploaded = sorted(uploaded)
    if plan.deleted and not result.failed:
        result.deleted = remote.delete(plan.deleted, result.failed)
    return {rel: Entry.uploaded(local[rel], etag) for rel, etag in uploaded.items()}


def _invalidate(options: PublishOptions, remote: Remote, result: PublishResult, owed: list[str]) -> list[str]:
    """Invalidate what changed plus what an earlier run still owes; return the paths still owed."""
    paths = _changed_paths(result)
    if not options.distribution_id:
        if paths:
            log.info("No --distribution-id: CloudFront was not invalidated (pages expire within 5 minutes)")
        return []
    pending = merge_paths(paths, owed) if paths or owed else []
    if not pending or result.failed:
        return pending
    try:
        result.invalidation_id = remote.invalidate(pending)
    except Abort as exc:
        result.error = f"uploaded, but {exc}; the next run invalidates again"
        return pending
    result.invalidation_paths = pending
    return []


def _changed_paths(result: PublishResult) -> list[str]:
    """Return the CloudFront paths of what this run changed: changed files S3 confirmed, and deletions."""
    uploaded = set(result.uploaded)
    changed = [rel for rel in result.plan.changed if rel in uploaded] if result.plan else []
    return invalidation_paths(changed + result.deleted)


def _save_manifest(remote: Remote, old: Manifest, new: Manifest, result: PublishResult) -> None:
    """Write the new manifest if it differs; a failure is reported, and the next run uploads again."""
    if new.dump() == old.dump():
        return
    try:
        remote.put_manifest(new)
    except Abort as exc:
        result.error = result.error or f"{exc}; the next run uploads the changed files again"


def _finish(result: PublishResult) -> None:
    """Raise PublishFailed when a request failed or a step reported an error."""
    if result.failed:
        first = next(iter(result.failed.values()))
        done = f"{len(result.deleted)} deleted" if result.deleted else "nothing was deleted"
        result.error = result.error or f"{len(result.failed)} request(s) failed, {done}: {first}; run publish again"
    if result.error:
        raise PublishFailed(result.error, result)


# --------------------------------------------------------------------------- AWS


class Remote:
    """The bucket (under the prefix) and the distribution, with errors explained."""

    def __init__(self, options: PublishOptions, session: Any = None):
        self.options = options
        self.bucket = options.bucket
        self.prefix = options.prefix
        self.session = session or aws.new_session()
        self.s3 = self._client("s3")

    def _client(self, service: str) -> Any:
        return aws.make_client(
            service,
            self.options.endpoint_url,
            session=self.session,
            max_attempts=self.options.max_attempts,
            max_pool_connections=self.options.workers + 4,
        )

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
        found: dict[str, str | None] = {}
        with (
            ThreadPoolExecutor(self.options.workers, thread_name_prefix="verify") as pool,
            progress.step("Verifying", len(keys), "objects", interrupted=VERIFY_INTERRUPTED) as bar,
        ):
            for rel, why in zip(keys, pool.map(lambda rel: self._drift(local[rel]), keys), strict=True):
                found[rel] = why
                bar.advance()
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
        total = sum(len(phase) for phase in phases)
        with (
            ThreadPoolExecutor(self.options.workers, thread_name_prefix="publish") as pool,
            progress.step("Uploading", total, "objects", interrupted=UPLOAD_INTERRUPTED) as bar,
        ):
            try:
                for phase in phases:
                    futures = {pool.submit(self._put, local[rel], stop): rel for rel in phase}
                    for future in as_completed(futures):
                        rel = futures[future]
                        etag, error = future.result()
                        if etag is not None:
                            uploaded[rel] = etag
                            bar.advance()
                        elif error is not None:
                            failed[rel] = error
                            stop.set()
                    if failed:
                        break
            except BaseException:
                stop.set()  # Ctrl-C: the uploads under way finish, the queued ones never start
                raise
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
        with progress.step("Deleting", len(rels), "objects", interrupted=DELETE_INTERRUPTED) as bar:
            for start in range(0, len(rels), DELETE_BATCH):
                if not self._delete_batch(rels[start : start + DELETE_BATCH], deleted, failed):
                    break
                bar.advance(min(DELETE_BATCH, len(rels) - start))
        return deleted

    def _delete_batch(self, batch: list[str], deleted: list[str], failed: dict[str, str]) -> bool:
        """Delete one batch; note what was deleted and what failed; return False when the request failed."""
        objects = [{"Key": self.prefix + rel} for rel in batch]
        try:
            with self._explained("DeleteObjects", batch[0]):
                response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        except Abort as exc:
            failed.update({rel: str(exc) for rel in batch})
            return False
        errors = {
            e["Key"][len(self.prefix) :]: f"{e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", [])
        }
        failed.update(errors)
        deleted += [rel for rel in batch if rel not in errors]
        return True

    def invalidate(self, paths: list[str]) -> str:
        """Create one CloudFront invalidation; return its id."""
        items = [quote(path, safe="/*") for path in paths]
        batch = {"Paths": {"Quantity": len(items), "Items": items}, "CallerReference": f"cardsite-{uuid.uuid4().hex}"}
        cloudfront = self._client("cloudfront")
        with self._explained("CreateInvalidation", ""):
            response = cloudfront.create_invalidation(
                DistributionId=self.options.distribution_id, InvalidationBatch=batch
            )
        return response["Invalidation"]["Id"]

    def _explained(self, operation: str, rel: str) -> AbstractContextManager[None]:
        """Turn an AWS error inside the block into an Abort naming the action, the object and the fix."""
        if operation == "CreateInvalidation":
            resource = f"CloudFront distribution {self.options.distribution_id}"
        else:
            resource = aws.s3_arn(self.bucket, f"{self.prefix}{rel}" if rel else "")
        return aws.explained(operation, resource, bucket=self.bucket, distribution_id=self.options.distribution_id)
