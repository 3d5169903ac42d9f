"""The log bucket: list and fetch CloudFront's log files, and keep the running totals beside them.

Clients and error messages come from `cardsite.aws`. The totals live under the reserved prefix
(`<prefix>_cardsite/stats.parquet`), which is never listed as a log; they are written with a
condition on the ETag read, so two runs at once cannot both add their counts to the same old totals.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import aws
from ..errors import Abort
from .sources import Listed
from .totals import STATE_NAME, load_totals, write_totals

log = logging.getLogger(__name__)


class S3Source:
    """Log files under a prefix of the log bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, aws.key_prefix(prefix)
        self.where = f"s3://{bucket}/{self.prefix}"

    def list(self) -> list[Listed]:
        """Return every object under the prefix but the reserved ones, by key below the prefix."""
        found = []
        arn = aws.s3_arn(self.bucket)
        with aws.explained("ListObjectsV2", arn, bucket=self.bucket):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(self.prefix) :]
                    if key.startswith(aws.RESERVED) or not key or key.endswith("/"):
                        continue
                    found.append(Listed(key, obj["ETag"].strip('"'), int(obj["Size"])))
        return found

    def fetch(self, listed: Listed, tmp: Path) -> Path:
        """Download one log file into `tmp`; return its path there."""
        path = tmp / listed.key.replace("/", "__")
        full = self.prefix + listed.key
        with aws.explained("GetObject", aws.s3_arn(self.bucket, full), bucket=self.bucket):
            body = self.client.get_object(Bucket=self.bucket, Key=full, IfMatch=f'"{listed.version}"')["Body"]
            with open(path, "wb") as f:
                for chunk in body.iter_chunks(1 << 20):
                    f.write(chunk)
        return path


class S3Totals:
    """The running totals in the log bucket, under the reserved prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str, tmp: Path):
        self.client, self.bucket, self.tmp = client, bucket, tmp
        self.key = f"{aws.key_prefix(prefix)}{aws.RESERVED}{STATE_NAME}"
        self.where = f"s3://{bucket}/{self.key}"
        self.etag: str | None = None

    def load(self, con: Any) -> dict[str, dict[str, Any]]:
        """Return the files counted so far (none when there are no totals yet), filling `totals`."""
        from botocore.exceptions import BotoCoreError, ClientError

        path = self.tmp / f"loaded-{STATE_NAME}"
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key)
            path.write_bytes(resp["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            if aws.error_code(exc) in ("NoSuchKey", "404"):
                return load_totals(con, None, self.where)
            message = aws.explain(exc, "GetObject", aws.s3_arn(self.bucket, self.key), bucket=self.bucket)
            raise Abort(f"cannot read {self.where}: {message}") from exc
        self.etag = resp["ETag"]
        return load_totals(con, path, self.where)

    def save(self, con: Any, files: dict[str, dict[str, Any]]) -> None:
        """Upload the totals, unless another run saved some since this one read them."""
        from botocore.exceptions import BotoCoreError, ClientError

        path = self.tmp / f"saved-{STATE_NAME}"
        write_totals(con, path, files)
        condition = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=path.read_bytes(),
                ContentType="application/vnd.apache.parquet",
                **condition,
            )
        except (ClientError, BotoCoreError) as exc:
            if aws.error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise Abort(
                    f"{self.where} was changed by another stats run while this one counted; nothing was"
                    " saved: run it again"
                ) from exc
            message = aws.explain(exc, "PutObject", aws.s3_arn(self.bucket, self.key), bucket=self.bucket)
            raise Abort(f"cannot write {self.where}: {message}; the counts of this run were not kept") from exc
