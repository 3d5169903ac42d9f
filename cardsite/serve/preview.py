"""Preview the site: build into a temporary folder, serve it, rebuild on save, reload open pages.

A stdlib HTTP server and a watchdog observer share one `Preview`. A save is built as soon
as it is whole (SETTLE, UNFINISHED_WAIT), by the same engine as `build` (a saved card
rebuilds that card alone); open pages long-poll
`/livereload/<epoch>` and reload when the build epoch moves on. While the contacts
are invalid, every HTML page shows the problems instead, and the last good build
stays on disk for everything else.
"""

from __future__ import annotations

import errno
import html
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ..build import fingerprint as stamp
from ..build.engine import BuildReport, build
from ..build.output import STATE_DIR, object_headers
from ..build.store import read_state
from ..cards.settings import Settings, load_settings
from ..errors import Abort, CardsiteError, ValidationError
from ..render.pages import Pages
from .handler import IDLE_TIMEOUT, PreviewHandler, PreviewServer
from .watched import WatchedTree

log = logging.getLogger(__name__)

#: Quiet time that ends a save that looks whole. One file's save is known whole by its events (closed after
#: writing, or renamed into place); this merges saves of several files made together (save all, a checkout).
SETTLE = 0.01
#: Quiet time while a save looks unfinished: a file written but not yet closed, or a watched file deleted or
#: renamed away (editors that keep a backup rename the card away, then write it anew). Building then would
#: show a half-written card, or a missing one, for a moment, and a missing card costs a full build.
UNFINISHED_WAIT = 0.2
#: How often an idle preview walks contacts/ to catch a change the watcher missed (its queue can overflow).
RESCAN_EVERY = 5.0
#: How long a reload request waits for a new build before the page asks again; the socket is idle meanwhile
#: only on the server's side, which the timeout above does not count, but keep it shorter all the same.
POLL_TIMEOUT = 25.0
#: How many ports after the requested one are tried when it is taken.
PORT_TRIES = 10

#: Events that mean a file's content or presence changed ("opened" fires when we read it).
CHANGE_EVENTS = frozenset(
    {EVENT_TYPE_CREATED, EVENT_TYPE_DELETED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED, EVENT_TYPE_CLOSED}
)
#: Scratch files of editors: vim's write test and swap files, emacs locks and autosaves, JetBrains.
SCRATCH_NAMES = frozenset({"4913", ".DS_Store"})
SCRATCH_PREFIXES = (".#",)
SCRATCH_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".swpx", ".tmp", ".part", ".kate-swp", "___jb_tmp___", "___jb_old___")

RELOAD_SCRIPT = """<script>
/* cardsite preview only: reload when a newer build is ready. */
(() => {{
  const epoch = "{epoch}";
  const poll = () => fetch("/livereload/" + epoch, {{cache: "no-store"}})
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((now) => (now === epoch ? poll() : location.reload()), () => setTimeout(poll, 1000));
  poll();
}})();
</script>
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }}
.problems li {{ font-family: ui-monospace, monospace; white-space: pre-wrap; color: #a00; }}
code {{ color: #666; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def should_rebuild(event_path: str | os.PathLike[str], out_dir: Path | None = None) -> bool:
    """Say whether a change at `event_path` can change the site, ignoring editors' scratch files."""
    path = Path(os.fsdecode(event_path))
    name = path.name
    if out_dir is not None and path.is_relative_to(out_dir):
        return False
    if STATE_DIR in path.parts or name in SCRATCH_NAMES:
        return False
    if name.startswith(SCRATCH_PREFIXES) or name.endswith(SCRATCH_SUFFIXES):
        return False
    return not (name.startswith("#") and name.endswith("#"))  # emacs autosave


def inject_reload(page: bytes, epoch: int) -> bytes:
    """Insert the reload script before the last </body>, or at the end when there is none."""
    script = RELOAD_SCRIPT.format(epoch=epoch).encode()
    at = page.lower().rfind(b"</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


def index_entries(out_dir: Path, names: dict[str, str]) -> list[dict[str, Any]]:
    """Return what the preview's directory shows of each card, from the build state the last build wrote."""
    entries = read_state(out_dir).get("cards", {})
    cards = []
    for card_id, name in sorted(names.items()):
        meta = entries.get(card_id, {}).get("meta", {})
        cards.append(
            {
                "id": card_id,
                "name": name or card_id,
                "active": meta.get("active", True),
                "successor": meta.get("successor"),
                "aliases": list(meta.get("aliases", ())),
            }
        )
    return cards


def error_page(problems: list[str]) -> bytes:
    """Return the page shown in place of every page while the build is broken."""
    items = "\n".join(f"<li>{html.escape(line)}</li>" for line in problems)
    body = (
        f"<p>{len(problems)} problem(s) found; the preview keeps the last good build. "
        "Fix the file and save: this page reloads by itself.</p>\n"
        f'<ul class="problems">\n{items}\n</ul>'
    )
    return PAGE.format(title="Build failed – cardsite preview", body=body).encode()


#: What an event says of its file: written in full (closed after writing, or renamed into place), being written
#: (created or modified, not yet closed), or gone (deleted or renamed away, perhaps to be written anew).
WHOLE, WRITING, GONE = "whole", "writing", "gone"
_WRITING = {EVENT_TYPE_CREATED: WRITING, EVENT_TYPE_MODIFIED: WRITING}


class _Watch(FileSystemEventHandler):
    """Tell the preview about changes under one watched folder (or to one file of it)."""

    def __init__(self, preview: Preview, only: Path | None = None, tree: WatchedTree | None = None):
        self.preview = preview
        self.only = only
        #: The signatures this folder's events keep current: every path, scratch files too, as a walk sees them.
        self.tree = tree

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        self._track(event)  # before the preview hears of it: the build it starts must see this change
        if kind not in CHANGE_EVENTS or (event.is_directory and kind == EVENT_TYPE_MODIFIED):
            return
        for raw, state in _ends(event):
            path = Path(os.fsdecode(raw)) if raw else None
            if path and self._wanted(path):
                log.debug("Changed: %s (%s)", path, kind)
                self.preview.changed(str(path), WHOLE if event.is_directory else state)

    def _wanted(self, path: Path) -> bool:
        """Return whether a change of `path` is one the preview rebuilds for."""
        return (self.only is None or path == self.only) and should_rebuild(path, self.preview.out_dir)

    def _track(self, event: FileSystemEvent) -> None:
        """Keep the folder's signatures current for the paths of `event`, if they are kept."""
        if self.tree is None or event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
            return
        walk = not (event.is_directory and event.event_type == EVENT_TYPE_MODIFIED)
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self.tree.changed(os.fsdecode(raw), walk)


def _ends(event: FileSystemEvent) -> list[tuple[bytes | str, str]]:
    """Return each path an event names, with what it says of that file (WHOLE, WRITING or GONE)."""
    kind = event.event_type
    # A rename counts at both ends: editors save by renaming a temporary file over the real one. Its source
    # is gone; its destination is whole, as a rename moves a file that was written in full.
    if kind == EVENT_TYPE_MOVED:
        return [(event.src_path, GONE), (event.dest_path, WHOLE)]
    return [(event.src_path, GONE if kind == EVENT_TYPE_DELETED else _WRITING.get(kind, WHOLE))]


class Preview:
    """A preview of the site: a temporary build, a server and a watcher, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 8000,
        idle_timeout: float = IDLE_TIMEOUT,
        settle: tuple[float, float] = (SETTLE, UNFINISHED_WAIT),
    ):
        self.settings = settings
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        #: The quiet times that end a save that looks whole, and one that looks unfinished.
        self.settle = settle
        self.out_dir: Path | None = None
        #: Set once the first build has finished, well or not; requests wait for it.
        self.ready = threading.Event()
        self.epoch = time.time_ns() // 1_000_000  # a restarted server never reuses an old page's epoch
        self.cards: dict[str, str] = {}
        #: The settings of the last build, whose base URL is the preview's own.
        self.built_settings: Settings | None = None
        #: The last successful build's report, for tests and the benchmark.
        self.report: BuildReport | None = None
        self.problems: list[str] = []
        self._cond = threading.Condition()
        #: Guards what the watcher saw since the last build began: whether anything changed, when it last did,
        #: and the files whose save looks unfinished ({path: WRITING or GONE}).
        self._changes = threading.Condition()
        self._dirty = False
        self._last_change = 0.0
        self._unfinished: dict[str, str] = {}
        #: The contacts folder's signatures, from the watcher's events, once it watches.
        self.contacts: WatchedTree | None = None
        #: Whether the last build succeeded: then the temporary folder, which nothing else writes, is as it left it.
        self._as_left = False
        self._building = threading.Event()
        self._stopping = threading.Event()
        self._server: PreviewServer | None = None
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """Return the preview's base URL, which is also the built site's base URL."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def bind(self) -> str:
        """Listen on the port, or on the next free one; return a note saying so, or ''."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("_BoundServer", (PreviewServer,), {"address_family": family})
        wanted = self.port
        for port in range(wanted, wanted + (PORT_TRIES if wanted else 1)):
            try:
                self._server = server_class((self.host, port), PreviewHandler)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise Abort(f"cannot listen on {self.host}:{port}: {exc.strerror or exc}") from None
        else:
            raise Abort(f"port {wanted} and the {PORT_TRIES - 1} after it are in use; choose another with --port")
        self._server.preview = self
        self.port = self._server.server_address[1]
        return "" if self.port == wanted or not wanted else f"port {wanted} is in use"

    def start(self) -> None:
        """Build once, then serve, watch and rebuild in background threads."""
        if self._server is None:
            self.bind()
        assert self._server is not None
        self.out_dir = Path(tempfile.mkdtemp(prefix="cardsite-preview-")).resolve()
        log.info("Building into %s", self.out_dir)
        # The first build, the one that needs every core, runs before any other thread exists: a process pool
        # forked beside running threads can hang (parallel.py). Connections wait in the listen queue meanwhile.
        s = self.settings
        before = stamp.scan(s.contacts_dir, s.site_file, s.templates_dir, "")
        self.rebuild()
        self._observer = Observer()
        self.contacts = WatchedTree(s.contacts_dir)
        # Recursive: cards may use photos in a subfolder of contacts/.
        self._observer.schedule(_Watch(self, tree=self.contacts), str(s.contacts_dir.resolve()), recursive=True)
        self._observer.schedule(_Watch(self), str(s.templates_dir.resolve()), recursive=True)
        site_file = s.site_file.resolve()
        self._observer.schedule(_Watch(self, only=site_file), str(site_file.parent), recursive=False)
        self._observer.start()
        self.contacts.rescan()  # what changed before the watcher started
        if stamp.scan(s.contacts_dir, s.site_file, s.templates_dir, "") != before:
            self.changed()  # saved during the first build, before the watcher started
        for target in (self._build_loop, self._server.serve_forever):
            thread = threading.Thread(target=target, name=f"preview-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self) -> None:
        """Block until stop() or Ctrl-C."""
        while not self._stopping.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop watching and serving, let a running build finish, remove the temporary folder."""
        self._stopping.set()
        self.ready.set()
        for cond in (self._cond, self._changes):
            with cond:
                cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._server is not None:
            if self._threads:
                self._server.shutdown()
            self._server.server_close()
        if self._building.is_set():
            log.info("Waiting for the running build to finish...")
        for thread in self._threads:
            thread.join()
        if self.out_dir is not None:
            shutil.rmtree(self.out_dir, ignore_errors=True)

    # ----------------------------------------------------------------------- building

    def changed(self, path: str = "", state: str = WHOLE) -> None:
        """Note that a watched file changed, and whether its save looks whole; a build follows once it does."""
        with self._changes:
            self._dirty, self._last_change = True, time.monotonic()
            if state == WHOLE:
                self._unfinished.pop(path, None)
            else:
                self._unfinished[path] = state
            self._changes.notify_all()

    def _build_loop(self) -> None:
        while self._settled():
            self.rebuild()

    def _settled(self) -> bool:
        """Wait for a change, then until the saves it belongs to are whole; return False when stopping instead.

        A change that comes while a build runs is waited for here again as soon as that build ends, so the
        last save of a burst is always built, whatever the earlier builds saw.
        """
        with self._changes:
            while not self._changes.wait_for(lambda: self._dirty or self._stopping.is_set(), RESCAN_EVERY):
                self._rescan()
            while not self._stopping.is_set():
                quiet = self.settle[1] if self._unfinished else self.settle[0]
                left = self._last_change + quiet - time.monotonic()
                if left <= 0:
                    break
                self._changes.wait(left)
            # What the build about to start reads is what these changes left; later ones set _dirty again.
            self._dirty = False
            self._unfinished.clear()
            return not self._stopping.is_set()

    def _rescan(self) -> None:
        """Walk contacts/ while nothing happens; build what the watcher missed."""
        if self.contacts is not None and self.contacts.rescan():
            log.debug("The contacts folder changed without a file event")
            self._dirty, self._last_change = True, time.monotonic()

    def rebuild(self) -> None:
        """Build once; on failure keep the last good files and show the problems in their place."""
        report, problems = self._build_once()
        with self._cond:
            news = problems != self.problems or (report is not None and bool(report.written or report.removed))
            self.problems = problems
            if report is not None:
                self.cards, self.report = report.cards, report
            if news:
                self.epoch += 1
                self._cond.notify_all()
        self.ready.set()

    def _build_once(self) -> tuple[BuildReport | None, list[str]]:
        """Build into the temporary folder; return the report, or None and the problems to show instead."""
        assert self.out_dir is not None
        started = time.perf_counter()
        s = self.settings
        report = None
        self._building.set()
        try:
            # The engine checks site.yaml only when its stamp shows it changed since the last good build.
            settings = load_settings(
                s.contacts_dir,
                site_file=s.site_file,
                templates_dir=s.templates_dir,
                base_url=self.url,
                defer_checks=True,
            )
            self.built_settings = settings
            contacts = self.contacts.snapshot() if self.contacts else None
            report = build(settings, self.out_dir, contacts, outputs_as_left=self._as_left)
            elapsed = time.perf_counter() - started
            log.info("Built %d card(s), rendered %d, in %.2f s", len(report.cards), report.rendered, elapsed)
        except ValidationError as exc:
            log.error("Build failed, %d problem(s):\n%s", len(exc.problems), exc.format())
            return None, [p.format() for p in exc.problems]
        except CardsiteError as exc:
            log.error("Build failed: %s", exc)
            return None, [str(exc)]
        except Exception as exc:  # a bug or a file vanishing mid-build must not stop the preview
            if not self._stopping.is_set():
                log.exception("Build failed")
            return None, [f"{type(exc).__name__}: {exc}"]
        finally:
            self._as_left = report is not None  # a failed build may have written part of its files
            self._building.clear()
        return report, []

    def wait_for_change(self, client_epoch: str) -> str:
        """Wait until the build epoch differs from the client's (or POLL_TIMEOUT passes); return it."""
        with self._cond:
            self._cond.wait_for(lambda: str(self.epoch) != client_epoch or self._stopping.is_set(), POLL_TIMEOUT)
            return str(self.epoch)

    # ----------------------------------------------------------------------- serving

    def respond(self, raw_path: str) -> tuple[int, dict[str, str], bytes]:
        """Return the status, headers and body that answer a GET of `raw_path`."""
        self.ready.wait()
        out = self.out_dir
        assert out is not None
        with self._cond:
            epoch, problems, cards = self.epoch, self.problems, self.cards
        rel = unquote(raw_path).lstrip("/")
        card_id, _, rest = rel.partition("/")
        if rest in ("print", "print/") and not problems:
            return self._proof(card_id)
        target = _target(out, rel)
        if _folder_without_slash(rel, target):
            return 302, {"Location": raw_path + "/", "Cache-Control": "no-store"}, b""
        status, headers, body = self._file(out, rel, target, problems, cards)
        if not rel.startswith("assets/"):
            # Production caches pages for minutes; a preview must show every build at once.
            headers["Cache-Control"] = "no-cache"
        if not headers["Content-Type"].startswith("text/html"):
            return status, headers, body
        if problems:
            status, body = 500, error_page(problems)
        return status, headers, inject_reload(body, epoch)

    def _file(
        self, out: Path, rel: str, target: Path | None, problems: list[str], cards: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer with the built file `target`, the preview's own directory of cards, or the 404 page."""
        if not rel and not (out / "index.html").is_file():
            if problems:
                return 200, object_headers("index.html"), b""
            status, body = self._index(cards)
            return status, object_headers("index.html"), body
        if target is not None and target.is_file():
            return 200, object_headers(target.relative_to(out).as_posix()), _read(target)
        return 404, object_headers("404.html"), _read(out / "404.html") or b"<h1>Not found</h1>"

    def _proof(self, card_id: str) -> tuple[int, dict[str, str], bytes]:
        """Answer /<id>/print: a PNG proof of the card's print PDF, both sides, drawn from the built site."""
        from ..build.manifest import read_manifest
        from ..build.printing import card_artwork, live_card
        from ..render.proof import proof_png

        assert self.out_dir is not None and self.built_settings is not None
        plain = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
        try:
            site = read_manifest(self.out_dir)
            art = card_artwork(self.built_settings, self.out_dir, site, live_card(site, card_id))
        except (Abort, ValidationError) as exc:
            shown = "\n".join(p.format() for p in exc.problems) if isinstance(exc, ValidationError) else str(exc)
            return 404, plain, f"No print proof: {shown}\n".encode()
        return 200, {"Content-Type": "image/png", "Cache-Control": "no-store"}, proof_png(art.pdf)

    def _index(self, cards: dict[str, str]) -> tuple[int, bytes]:
        """Return the status and body of the preview's own directory of cards, made with the site's templates."""
        assert self.out_dir is not None and self.built_settings is not None
        try:
            pages = Pages(self.built_settings)
            return 200, pages.render_preview_index(index_entries(self.out_dir, cards))
        except ValidationError as exc:  # preview-index.html edited or deleted: the build itself never reads it
            return 500, error_page([p.format() for p in exc.problems])


def _target(out: Path, rel: str) -> Path | None:
    """Return the path in the built site that a request names; None for a dot segment, never served."""
    # Dot segments cover "..", the build cache in .cardsite/ and half-written temporary files.
    if any(part.startswith(".") for part in rel.split("/")):
        return None
    return out / (rel + "index.html" if rel.endswith("/") or not rel else rel)


def _folder_without_slash(rel: str, target: Path | None) -> bool:
    """Return whether a request names a folder without its trailing slash, which the answer redirects to."""
    return target is not None and bool(rel) and not rel.endswith("/") and target.is_dir()


def _read(path: Path) -> bytes:
    """Return the file's bytes, or nothing when a rebuild removed it a moment ago."""
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Preview the site with live reload until Ctrl-C; return the exit status."""
    preview = Preview(settings, host=host, port=port)
    note = preview.bind()
    print(f"Serving on {preview.url}/" + (f" ({note})" if note else ""), flush=True)
    # Ctrl-C goes to the whole process group: build workers ignore it and finish, the server stops.
    os.register_at_fork(after_in_child=_ignore_sigint)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        preview.start()
        log.info("Press Ctrl-C to stop.")
        preview.wait()
    except KeyboardInterrupt:
        pass
    finally:
        preview.stop()
    print("Stopped.", file=sys.stderr)
    return 0
