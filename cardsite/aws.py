"""The one way cardsite talks to AWS: clients made alike, and every AWS error explained in one line.

Retries are botocore's standard mode alone (exponential backoff with jitter, throttling included),
so no caller adds a loop of its own on top: a request is tried `max_attempts` + 1 times (botocore
counts the retries after the first try), never a multiple of that. boto3 and botocore are imported
on first use, so `check` and `build` never load them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import Abort

#: The bucket's keys that cardsite keeps for itself (publish's manifest, notify's ledger); never served.
RESERVED = "_cardsite/"
#: botocore's `max_attempts`: retries after the first try, so 4 tries in all.
DEFAULT_ATTEMPTS = 3
#: IAM action behind each API call, named when access is denied.
ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObjects": "s3:DeleteObject",
    "CreateInvalidation": "cloudfront:CreateInvalidation",
    "SendEmail": "ses:SendRawEmail",
    "GetAccount": "ses:GetAccount",
    "GetSendQuota": "ses:GetSendQuota",
}
DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"}
BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
}


def new_session() -> Any:
    """Return a boto3 Session on the standard credential chain (environment, profile, role)."""
    import boto3

    return boto3.session.Session()


def make_client(
    service: str,
    endpoint_url: str | None = None,
    *,
    session: Any = None,
    max_attempts: int = DEFAULT_ATTEMPTS,
    max_pool_connections: int = 10,
) -> Any:
    """Return a boto3 client for `service` with standard retries and bounded timeouts.

    A request is tried up to `max_attempts` + 1 times (botocore's meaning of max_attempts).
    `endpoint_url` points every service at one local test server (moto); `session` defaults to a
    new one. Every cardsite client is made here, so all of them retry and time out the same way.
    """
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        connect_timeout=10,
        read_timeout=60,
    )
    return (session or new_session()).client(service, endpoint_url=endpoint_url, config=config)


def key_prefix(prefix: str) -> str:
    """Return --prefix as publish and notify both use it: 'a/b/' (or '' for the bucket's root).

    Raise Abort for a prefix that is not plain folder names, or that starts inside RESERVED.
    """
    folders = prefix.strip("/")
    if folders and any(part in ("", ".", "..") for part in folders.split("/")):
        raise Abort(f"--prefix {prefix!r} must be plain folder names separated by '/'")
    if f"{folders}/".startswith(RESERVED):
        raise Abort(f"--prefix may not start with {RESERVED}, which is reserved for cardsite's own objects")
    return f"{folders}/" if folders else ""


def s3_arn(bucket: str, key: str = "") -> str:
    """Return the ARN an S3 access policy names for the bucket, or for one key in it."""
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def error_code(exc: BaseException) -> str:
    """Return the error code AWS answered with ('NoSuchKey', 'Throttling', ...), or '' for any other error."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def explain(
    exc: Exception,
    operation: str,
    resource: str = "",
    *,
    bucket: str | None = None,
    distribution_id: str | None = None,
) -> str:
    """Return a one-line message for an AWS error: the action refused, the resource, and what fixes it.

    `operation` is the API call ('PutObject'), `resource` what it was called on (an ARN, or a name);
    `bucket` and `distribution_id` name the settings to check when AWS says they do not exist.
    """
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    on = f" on {resource}" if resource else ""
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')} (check --endpoint-url and network)"
    if not isinstance(exc, ClientError):
        return f"{operation}{on} failed: {exc}"
    return _answer_message(exc, operation, on, bucket, distribution_id)


def _answer_message(exc: Any, operation: str, on: str, bucket: str | None, distribution_id: str | None) -> str:
    """Word an error AWS answered with (a ClientError), by its code."""
    code, message = error_code(exc), exc.response.get("Error", {}).get("Message", "")
    if code == "NoSuchBucket" and bucket:
        return f"bucket '{bucket}' does not exist (check --bucket / CARDSITE_BUCKET)"
    if code == "NoSuchDistribution" and distribution_id:
        return (
            f"CloudFront distribution '{distribution_id}' does not exist "
            "(check --distribution-id / CARDSITE_DISTRIBUTION_ID)"
        )
    if code in DENIED:
        return f"access denied: {ACTIONS.get(operation, operation)}{on} is not allowed for these credentials"
    if code in BAD_CREDENTIALS:
        return f"AWS rejected the credentials ({code}: {message})"
    return f"{operation}{on} failed: {code}: {message}".rstrip(": ")


@contextmanager
def explained(
    operation: str,
    resource: str = "",
    *,
    then: str = "",
    bucket: str | None = None,
    distribution_id: str | None = None,
) -> Iterator[None]:
    """Turn an AWS error inside the block into an Abort with explain()'s message, followed by `then`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        message = explain(exc, operation, resource, bucket=bucket, distribution_id=distribution_id)
        raise Abort(message + then) from None
