"""cardsite.aws: the one client factory, key prefix rule and error explainer, on botocore's own classes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cardsite import aws
from cardsite.errors import Abort


def client_error(code: str, message: str = "", operation: str = "PutObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(("given", "used"), [("", ""), ("/", ""), ("site", "site/"), ("/a/b/", "a/b/")])
def test_a_prefix_becomes_folders_ending_in_a_slash(given: str, used: str) -> None:
    assert aws.key_prefix(given) == used


@pytest.mark.parametrize("given", ["a//b", "a/./b", "../up", "_cardsite", "_cardsite/x"])
def test_a_prefix_that_is_not_plain_folders_is_refused(given: str) -> None:
    with pytest.raises(Abort, match="--prefix"):
        aws.key_prefix(given)


def test_every_client_retries_in_standard_mode_with_bounded_timeouts() -> None:
    session = aws.new_session()
    client = aws.make_client("s3", "http://127.0.0.1:9", session=session, max_attempts=5)
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert (config.connect_timeout, config.read_timeout) == (10, 60)


@pytest.mark.parametrize(
    ("exc", "operation", "expected"),
    [
        (
            client_error("AccessDenied"),
            "PutObject",
            "access denied: s3:PutObject on arn:aws:s3:::cards/a.html is not allowed for these credentials",
        ),
        (client_error("NoSuchBucket"), "ListObjectsV2", "bucket 'cards' does not exist (check --bucket"),
        (client_error("ExpiredToken", "expired"), "PutObject", "AWS rejected the credentials (ExpiredToken: expired)"),
        (client_error("SlowDown", "Please reduce"), "PutObject", "failed: SlowDown: Please reduce"),
        (NoCredentialsError(), "PutObject", "no AWS credentials found"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "PutObject", "cannot reach http://127.0.0.1:9"),
    ],
)
def test_an_aws_error_names_the_action_the_resource_and_the_fix(exc: Exception, operation: str, expected: str) -> None:
    assert expected in aws.explain(exc, operation, aws.s3_arn("cards", "a.html"), bucket="cards")


def test_explained_turns_an_aws_error_into_a_clean_abort() -> None:
    denied = r"^access denied: cloudfront:CreateInvalidation on CloudFront distribution E1.*; x$"
    with (
        pytest.raises(Abort, match=denied),
        aws.explained("CreateInvalidation", "CloudFront distribution E1", then="; x"),
    ):
        raise client_error("AccessDenied", operation="CreateInvalidation")
    assert aws.error_code(client_error("NoSuchKey")) == "NoSuchKey" and aws.error_code(ValueError()) == ""
