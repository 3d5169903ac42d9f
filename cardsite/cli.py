"""The command line: parse options into checked settings, run one command, report errors."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from . import progress
from .cards.settings import Settings, load_settings
from .errors import CardsiteError, ValidationError, shown

log = logging.getLogger("cardsite")


def _project_options(parser: argparse.ArgumentParser) -> None:
    _log_options(parser)
    parser.add_argument(
        "--contacts",
        type=Path,
        default=Path("contacts"),
        metavar="DIR",
        help="folder of contact YAML files (default: contacts)",
    )
    parser.add_argument(
        "--site",
        type=Path,
        metavar="FILE",
        help="site settings (default: site.yaml next to the contacts folder)",
    )
    parser.add_argument(
        "--templates",
        type=Path,
        metavar="DIR",
        help="templates folder (default: templates/ next to the contacts folder)",
    )


def _out_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--out", type=Path, default=Path("public"), metavar="DIR", help=help)


def _base_url_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base-url", metavar="URL", help="override base_url from site.yaml")


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug output")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="show no progress and no details: only errors and the summary"
    )


def _bucket_options(parser: argparse.ArgumentParser, bucket_help: str, endpoint_help: str) -> None:
    """Add --bucket, --prefix and --endpoint-url, which publish and notify share (see aws.key_prefix)."""
    group = parser.add_argument_group("bucket", "where the site lives in S3")
    group.add_argument(
        "--bucket", default=os.environ.get("CARDSITE_BUCKET"), help=f"{bucket_help} (default: $CARDSITE_BUCKET)"
    )
    group.add_argument("--prefix", default="", help="key prefix inside the bucket")
    group.add_argument("--endpoint-url", help=f"{endpoint_help} endpoint (for a local test server)")


class _Commands(Protocol):
    """What add_subparsers() returns, as far as this module uses it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def _command(sub: _Commands, name: str, summary: str) -> argparse.ArgumentParser:
    """Add a command whose one-line summary shows both in the command list and in its own --help."""
    assert name in COMMANDS, f"add {name!r} to COMMANDS, which main() reads to default to build"
    # No abbreviated options: '--base' must never silently mean '--base-url'.
    return sub.add_parser(name, help=summary, description=summary[:1].upper() + summary[1:] + ".", allow_abbrev=False)


COMMANDS = ("build", "check", "serve", "publish", "notify", "printshop")


def _settings(args: argparse.Namespace, defer_checks: bool = False) -> Settings:
    return load_settings(
        args.contacts,
        site_file=args.site,
        templates_dir=args.templates,
        base_url=getattr(args, "base_url", None),
        defer_checks=defer_checks,
    )


# --------------------------------------------------------------------------- commands


def cmd_build(args: argparse.Namespace) -> int:
    """Validate everything, then build what changed since the last build."""
    from .build.engine import build

    started = time.monotonic()
    # The engine checks site.yaml unless its stamp shows that the last successful build checked this very file.
    report = build(_settings(args, defer_checks=True), args.out)
    seconds = time.monotonic() - started
    cards, written, removed = len(report.cards), len(report.written), len(report.removed)
    if report.path == "nothing":
        progress.summary(f"Built {cards} cards into {args.out}: nothing changed, 0 files written")
    else:
        progress.summary(f"Built {cards} cards into {args.out}: {written} files written, {removed} removed")
    progress.append_summary(
        f"### Build: {cards} cards\n\n| files | count |\n|---|---:|\n| written | {written} |\n| removed | {removed} |\n"
        f"\nTook {seconds:.1f} s.\n"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate every card and report all problems at once."""
    from .build.engine import check

    settings = _settings(args)
    sources = check(settings)
    if args.base:
        from .cards.history import broken_urls

        live = {s.id for s in sources} | {alias for s in sources for alias in s.meta["aliases"]}
        problems = broken_urls(live, args.base, settings.contacts_dir)
        if problems:
            raise ValidationError(problems)
    log.info("%d cards OK", len(sources))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Build into a temporary folder and serve it with live reload."""
    from .serve.preview import serve

    return serve(_settings(args), host=args.host, port=args.port)


def cmd_publish(args: argparse.Namespace) -> int:
    """Upload the built site to S3 and invalidate what changed in CloudFront."""
    from .publish.sync import publish_command

    return publish_command(args)


def cmd_notify(args: argparse.Namespace) -> int:
    """E-mail the print shop and the card owners about changed cards."""
    from .notify.announce import notify_command

    return notify_command(args)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command and its options."""
    # prog stays argparse's default, the name the program was called by (build.py or cardsite).
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description="Build contact YAML into vCards, landing pages and print-ready QR codes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = functools.partial(_command, sub)

    p = command("build", "validate, then build contacts/ into public/ (the default)")
    _project_options(p)
    _base_url_option(p)
    _out_option(p, "output folder (default: public)")
    p.set_defaults(func=cmd_build)

    p = command("check", "validate only; report every problem with file and line")
    _project_options(p)
    _base_url_option(p)
    p.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="'github' prints GitHub annotations for pull requests",
    )
    p.add_argument(
        "--base",
        metavar="REF",
        help="also fail when a card id that exists at git REF disappears (use on pull requests)",
    )
    p.set_defaults(func=cmd_check)

    p = command("serve", "preview the site with live reload")
    _project_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.set_defaults(func=cmd_serve)

    p = command("publish", "sync the built site to S3 and invalidate CloudFront")
    _log_options(p)
    _out_option(p, "built site (default: public)")
    _bucket_options(p, "S3 bucket", "S3/CloudFront")
    p.add_argument(
        "--distribution-id",
        default=os.environ.get("CARDSITE_DISTRIBUTION_ID"),
        help="CloudFront distribution (default: $CARDSITE_DISTRIBUTION_ID)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--allow-deletes", type=int, metavar="N", help="allow up to N deletions")
    p.add_argument("--result", type=Path, metavar="FILE", help="write the result as JSON")
    p.add_argument("--verify", action="store_true", help="check every object's bytes and headers; repair what differs")
    p.set_defaults(func=cmd_publish)

    p = command("notify", "e-mail the print shop and card owners about changed cards")
    _project_options(p)
    _base_url_option(p)
    _out_option(p, "built site (default: public)")
    p.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="keep the announced state in FILE, not the bucket",
    )
    p.add_argument("--dry-run", type=Path, metavar="DIR", help="write .eml files into DIR instead of sending")
    _bucket_options(p, "S3 bucket that keeps the state in _cardsite/", "S3/SES")
    p.set_defaults(func=cmd_notify)
    _add_printshop(sub)
    return parser


def _add_printshop(sub: _Commands) -> None:
    p = _command(sub, "printshop", "the reference print-shop inbox: file print jobs from IMAP into a hot folder")
    _log_options(p)
    p.add_argument("--imap-url", required=True, metavar="URL", help="imaps://HOST[:PORT] of the print inbox")
    p.add_argument("--user", required=True, help="IMAP user (the password comes from $CARDSITE_PRINTSHOP_PASSWORD)")
    p.add_argument("--hot-folder", required=True, type=Path, metavar="DIR", help="where the press and NFC encoder look")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="take what is waiting, then exit")
    when.add_argument("--interval", type=float, default=60.0, metavar="S", help="seconds between polls (default: 60)")
    p.set_defaults(func=_run_printshop)


def _run_printshop(args: argparse.Namespace) -> int:
    """Poll the print inbox and file each checked job in the hot folder (docs/printshop.md)."""
    from .printshop.inbox import printshop_command

    return printshop_command(args)


# --------------------------------------------------------------------------- entry


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever sys.stderr is at the time, so a replaced stderr never gets a stale handle."""

    @property
    def stream(self):  # type: ignore[no-untyped-def,override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _setup_logging(level: int) -> None:
    # Messages are the program's output, so they go to stderr without decoration.
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def _parse(argv: list[str]) -> argparse.Namespace:
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "build")  # `build.py` alone, or with build's options, means build
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    quiet = getattr(args, "quiet", False)
    _setup_logging(logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO)
    progress.configure(quiet=quiet)
    try:
        return args.func(args)
    except ValidationError as exc:
        style = getattr(args, "format", "text")
        print(exc.format(style), file=sys.stdout if style == "github" else sys.stderr)
        print(f"Error: {len(exc.problems)} problem(s) found; nothing was written.", file=sys.stderr)
        return 1
    except CardsiteError as exc:
        print(f"Error: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # A step of cardsite.progress names what was done and what was not (progress.Interrupted).
        print(f"Interrupted: {exc}" if str(exc) else "Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
