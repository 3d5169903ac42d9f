"""What a month of the counted traffic costs, at AWS list prices, in this design and the serverless one.

The prices are AWS's published on-demand list prices in US dollars for us-east-1 (CloudFront: the
United States and Europe), as recorded on PRICES_DATE. They change: when AWS publishes new ones,
change the table and its date together; every report prints the date it used.

This design: CloudFront (requests, data out; its always-free tier of 1 TB and 10 million requests a
month), S3 (the GETs that missed the CDN cache, the site's and the logs' storage), SES (a print job
and an owner notice per card change) and the three CloudWatch alarms.
The serverless design it replaced: every request for a card's page or vCard goes through API Gateway
(HTTP API) to a Lambda function (128 MB, 100 ms) that reads the card from DynamoDB (one on-demand
read), with data out from the region; assets still come through CloudFront; S3, SES and alarms as here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PRICES_DATE = "2026-12-02"
GB = 1024**3
PRICES: dict[str, float] = {
    "cloudfront_request": 0.0100 / 10_000,  # HTTPS
    "cloudfront_gb": 0.085,  # first 10 TB a month
    "cloudfront_free_requests": 10_000_000,
    "cloudfront_free_gb": 1024,
    "s3_get": 0.0004 / 1_000,
    "s3_gb_month": 0.023,
    "ses_message": 0.10 / 1_000,
    "cloudwatch_alarm": 0.10,
    "api_gateway_request": 1.00 / 1_000_000,  # HTTP API, first 300 million
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000166667,
    "lambda_free_requests": 1_000_000,
    "lambda_free_gb_seconds": 400_000,
    "dynamodb_read": 0.125 / 1_000_000,  # on-demand read request unit
    "transfer_out_gb": 0.09,  # region to the internet, first 10 TB
    "transfer_free_gb": 100,
}
ALARMS = 3
#: Messages notify sends for one changed card: the print job and the owner's notice.
MESSAGES_PER_CHANGE = 2
LAMBDA_GB, LAMBDA_SECONDS = 0.125, 0.1


@dataclass(frozen=True)
class Month:
    """What one month's logs and history say: the quantities the prices apply to."""

    requests: int
    bytes: int
    origin: int
    card_requests: int
    card_bytes: int
    changes: int
    site_bytes: int
    log_bytes: int
    log_days: int


def _line(item: str, quantity: float, unit: str, price: float, free: float = 0) -> dict[str, Any]:
    billed = max(0.0, quantity - free)
    return {"item": item, "quantity": quantity, "unit": unit, "price": price, "free": free, "cost": billed * price}


def this_design(m: Month) -> list[dict[str, Any]]:
    """Return the cost lines of S3 + CloudFront + SES for the month."""
    p = PRICES
    return [
        _line("CloudFront requests", m.requests, "request", p["cloudfront_request"], p["cloudfront_free_requests"]),
        _line("CloudFront data out", m.bytes / GB, "GB", p["cloudfront_gb"], p["cloudfront_free_gb"]),
        *_shared(m),
    ]


def serverless_design(m: Month) -> list[dict[str, Any]]:
    """Return the cost lines of API Gateway + Lambda + DynamoDB per card request, the rest as here."""
    p = PRICES
    n = m.card_requests
    return [
        _line("API Gateway HTTP API requests", n, "request", p["api_gateway_request"]),
        _line("Lambda requests", n, "request", p["lambda_request"], p["lambda_free_requests"]),
        _line(
            "Lambda duration",
            n * LAMBDA_GB * LAMBDA_SECONDS,
            "GB-second",
            p["lambda_gb_second"],
            p["lambda_free_gb_seconds"],
        ),
        _line("DynamoDB on-demand reads", n, "read", p["dynamodb_read"]),
        _line("Data out from the region", m.card_bytes / GB, "GB", p["transfer_out_gb"], p["transfer_free_gb"]),
        _line(
            "CloudFront requests (assets)",
            m.requests - n,
            "request",
            p["cloudfront_request"],
            p["cloudfront_free_requests"],
        ),
        _line(
            "CloudFront data out (assets)",
            (m.bytes - m.card_bytes) / GB,
            "GB",
            p["cloudfront_gb"],
            p["cloudfront_free_gb"],
        ),
        *_shared(m),
    ]


def _shared(m: Month) -> list[dict[str, Any]]:
    p = PRICES
    # A month's logs are stored for as long as the bucket keeps them; their whole storage is put on that month.
    log_months = math.ceil(m.log_days / 30)
    return [
        _line("S3 GETs (CDN cache misses)", m.origin, "request", p["s3_get"]),
        _line("S3 storage, site", m.site_bytes / GB, "GB-month", p["s3_gb_month"]),
        _line(f"S3 storage, logs ({log_months} months)", m.log_bytes / GB * log_months, "GB-month", p["s3_gb_month"]),
        _line("SES messages", m.changes * MESSAGES_PER_CHANGE, "message", p["ses_message"]),
        _line("CloudWatch alarms", ALARMS, "alarm-month", p["cloudwatch_alarm"]),
    ]


def month_cost(m: Month) -> dict[str, Any]:
    """Return both designs' lines and totals for the month."""
    ours, theirs = this_design(m), serverless_design(m)
    return {
        "this_design": {"lines": ours, "total": sum(line["cost"] for line in ours)},
        "serverless": {"lines": theirs, "total": sum(line["cost"] for line in theirs)},
    }
