"""The command line: parse options into checked settings, run one command, report errors."""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, Protocol

from . import progress
from .cards.settings import Settings, load_settings
from .errors import CardsiteError, ValidationError, shown

log = logging.getLogger("cardsite")


def _contacts_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--contacts", type=Path, default=Path("contacts"), metavar="DIR", help=help)


def _project_options(parser: argparse.ArgumentParser) -> None:
    _log_options(parser)
    _contacts_option(parser, "folder of contact YAML files (default: contacts)")
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


def _bucket_options(
    parser: argparse.ArgumentParser, bucket_help: str, endpoint_help: str, env: str = "CARDSITE_BUCKET"
) -> None:
    """Add --bucket, --prefix and --endpoint-url, which publish, notify and stats share (see aws.key_prefix)."""
    group = parser.add_argument_group("bucket", "where the site lives in S3")
    group.add_argument("--bucket", default=os.environ.get(env), help=f"{bucket_help} (default: ${env})")
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


COMMANDS = ("build", "check", "serve", "publish", "notify", "print", "printshop", "stats", "new", "import", "sync")


def _settings(args: argparse.Namespace, defer_checks: bool = False, need_contacts: bool = True) -> Settings:
    """Return the checked settings the project options name; `need_contacts`: False for commands on a built site."""
    return load_settings(
        args.contacts,
        site_file=args.site,
        templates_dir=args.templates,
        base_url=getattr(args, "base_url", None),
        defer_checks=defer_checks,
        need_contacts=need_contacts,
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
    for note in report.notes:  # the wallet outputs left out, once per build; a detail --quiet leaves out
        log.info("%s", note)
    notes = "".join(f"\n{note}\n" for note in report.notes)
    progress.append_summary(
        f"### Build: {cards} cards\n\n| files | count |\n|---|---:|\n| written | {written} |\n| removed | {removed} |\n"
        f"\nTook {seconds:.1f} s.\n{notes}"
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

    # A CI job may get only the built site: the manifest is then the truth (docs/manifest.md).
    return notify_command(_settings(args, need_contacts=False), args)


def cmd_stats(args: argparse.Namespace) -> int:
    """Count the CDN's access logs into scans, saves and cost per card; print the report."""
    from .stats.command import stats_command

    return stats_command(args)


def _add_stats(sub: _Commands) -> None:
    p = _command(sub, "stats", "count scans and saves per card from the CDN's access logs; print the report")
    _log_options(p)
    _out_option(p, "built site whose manifest names the cards (default: public)")
    _contacts_option(p, "folder of contact YAML files whose git history gives the changes (default: contacts)")
    p.add_argument("--dir", type=Path, metavar="PATH", help="read the logs from this folder instead of a bucket")
    _bucket_options(p, "S3 bucket of the CloudFront access logs", "S3", env="CARDSITE_LOG_BUCKET")
    p.add_argument("--format", choices=("markdown", "json", "html"), default="markdown", help="report format")
    p.add_argument(
        "--log-retention-days", type=int, default=395, metavar="N", help="days the log bucket keeps logs (default: 395)"
    )
    p.set_defaults(func=cmd_stats)


def _add_print(sub: _Commands) -> None:
    p = _command(sub, "print", "render the print PDFs of live cards from the built site, and PNG proofs")
    _project_options(p)
    _base_url_option(p)
    _out_option(p, "built site (default: public); the PDFs go to its .cardsite/print/")
    p.add_argument("ids", nargs="*", metavar="ID", help="the cards to render (default: every live card)")
    p.add_argument(
        "--proofs", type=Path, metavar="DIR", help="also write a PNG proof of each card (both sides) into DIR"
    )
    p.set_defaults(func=_run_print)


def _run_print(args: argparse.Namespace) -> int:
    """Render the PDFs that are not current; a card edit renders that card's again, a layout edit every one."""
    from .build.printing import print_command

    return print_command(_settings(args, need_contacts=False), args)


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
    _add_print(sub)
    _add_printshop(sub)
    _add_stats(sub)
    _add_new(sub)
    _add_import(sub)
    _add_sync(sub)
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


def _add_new(sub: _Commands) -> None:
    p = _command(sub, "new", "scaffold one commented card, valid as written")
    _project_options(p)
    p.add_argument("id", help="the card's permanent id, e.g. jana-mueller")
    p.set_defaults(func=_run_new)


def _run_new(args: argparse.Namespace) -> int:
    from .errors import display_path
    from .sync.scaffold import scaffold

    log.info("created %s", display_path(scaffold(args.id, _settings(args))))
    return 0


def _sync_mapping_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        action="append",
        metavar="HEADER=FIELD",
        help="column or attribute HEADER fills card FIELD (repeatable; adds to sync.mapping in site.yaml)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the changes as a diff and write nothing")


def _add_import(sub: _Commands) -> None:
    p = _command(sub, "import", "make cards from CSV, XLSX or vCard files")
    _project_options(p)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".csv, .xlsx or .vcf file")
    p.add_argument("--update", action="store_true", help="update cards that exist (default: skip them)")
    _sync_mapping_options(p)
    p.set_defaults(func=_run_import)


def _run_import(args: argparse.Namespace) -> int:
    from .sync.commands import import_command

    return import_command(_settings(args), args)


def _add_sync(sub: _Commands) -> None:
    p = _command(sub, "sync", "bring the cards in line with the company directory (docs/sync.md)")
    _project_options(p)
    group = p.add_argument_group("source", "a one-off source instead of site.yaml's sync block")
    group.add_argument("--source", choices=("csv", "ldap", "scim", "graph", "google"), help="kind of directory")
    group.add_argument("--url", help="CSV path or URL, ldap://HOST:PORT, or the SCIM base URL")
    group.add_argument("--base-dn", help="LDAP: where the search starts")
    group.add_argument("--bind-dn", help="LDAP: the account to bind as (password in $CARDSITE_SYNC_PASSWORD)")
    group.add_argument("--filter", help="LDAP or SCIM filter selecting the people")
    _sync_mapping_options(p)
    p.add_argument("--allow-retire", type=int, metavar="N", help="allow retiring up to N cards")
    p.add_argument("--summary", type=Path, metavar="FILE", help="write a Markdown summary (the pull request body)")
    p.set_defaults(func=_run_sync)


def _run_sync(args: argparse.Namespace) -> int:
    from .sync.commands import sync_command

    return sync_command(_settings(args), args)


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
        progress.interrupted(f"Interrupted: {exc}" if str(exc) else "Interrupted.")
        return 130


def finish(status: int) -> NoReturn:
    """Exit a process that ran one command with `status`, without examining what the command left in memory."""
    # At exit the interpreter collects garbage again over every object still alive: 80-120 ms after a
    # one-card rebuild at 10,000 cards, a fifth of it, to free memory the system takes back anyway. Frozen
    # objects are skipped; files and streams are still flushed and closed as on any exit.
    gc.freeze()
    sys.exit(status)


def run() -> NoReturn:
    """Run the command line as a program (build.py, the `cardsite` script)."""
    finish(main())


if __name__ == "__main__":
    run()
