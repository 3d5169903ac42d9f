"""The preview server: real files edited on disk, real HTTP, real headless Chromium."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cardsite.build.output import object_headers
from cardsite.cards.settings import load_settings
from cardsite.cli import main
from cardsite.serve.handler import host_allowed
from cardsite.serve.preview import Preview, inject_reload, should_rebuild

ROOT = Path(__file__).resolve().parent.parent


def get(url: str) -> tuple[int, dict[str, str], str]:
    """GET `url` without following redirects; return status, headers and text."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def get_bytes(url: str) -> bytes:
    """GET `url`; return the body, or nothing when it is not there."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except urllib.error.HTTPError:
        return b""


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds or `timeout` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` in a file, the way an editor saves in place."""
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


@pytest.fixture
def start_preview(project: Path) -> Iterator[Callable[..., Preview]]:
    """Return a function that starts a preview of the sample project on a free loopback port; stop them afterwards."""
    started: list[Preview] = []

    def start(**options: object) -> Preview:
        pv = Preview(load_settings(project / "contacts"), host="127.0.0.1", port=0, **options)  # type: ignore[arg-type]
        started.append(pv)
        pv.start()
        assert pv.ready.wait(30), "the first build did not finish"
        return pv

    yield start
    for pv in started:
        pv.stop()


@pytest.fixture
def preview(start_preview: Callable[..., Preview]) -> Preview:
    """A preview of the sample project with the quiet times `serve` uses."""
    return start_preview()


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("contacts/max.yaml", True),
        ("templates/card.html", True),
        ("templates/locale/de.yaml", True),
        ("site.yaml", True),
        ("contacts/.#max.yaml", False),  # emacs lock
        ("contacts/#max.yaml#", False),  # emacs autosave
        ("contacts/max.yaml~", False),  # backup
        ("contacts/.max.yaml.swp", False),  # vim swap
        ("contacts/.max.yaml.swx", False),
        ("contacts/4913", False),  # vim's "can I write here" probe
        ("contacts/max.yaml___jb_tmp___", False),
        ("public/.cardsite/state/build", False),
    ],
)
def test_should_rebuild_ignores_editor_scratch_files(name: str, expected: bool) -> None:
    assert should_rebuild(f"/p/{name}") is expected


def test_should_rebuild_ignores_the_output_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not should_rebuild(out / "max" / "index.html", out_dir=out)
    assert should_rebuild(tmp_path / "contacts" / "max.yaml", out_dir=out)


def test_reload_script_goes_before_the_last_body_end() -> None:
    page = inject_reload(b"<html><body><p>x</p></body></html>", 42)
    assert page.index(b'"42"') < page.index(b"</body>")
    assert page.endswith(b"</body></html>")
    assert b"/livereload/" in inject_reload(b"no body tag", 1)


# --------------------------------------------------------------------------- HTTP


def test_serves_the_build_like_production(preview: Preview) -> None:
    status, headers, text = get(preview.url + "/max/")
    assert status == 200
    assert "Max Muster" in text
    assert "/livereload/" in text
    # The preview is its own base URL, so canonical links and QR codes point at it.
    assert f'href="{preview.url}/max/"' in text

    status, headers, text = get(preview.url + "/max")
    assert (status, headers["Location"]) == (302, "/max/")

    status, headers, text = get(preview.url + "/jana-mueller/jana-mueller.vcf")
    expected = object_headers("jana-mueller/jana-mueller.vcf")
    assert status == 200
    assert headers["Content-Type"] == expected["Content-Type"]
    assert headers["Content-Disposition"] == expected["Content-Disposition"]
    assert text.startswith("BEGIN:VCARD")
    assert "livereload" not in text

    status, headers, text = get(preview.url + "/max/qr.svg")
    assert (status, headers["Content-Type"]) == (200, "image/svg+xml")
    assert "livereload" not in text


def test_never_serves_the_build_cache_and_answers_unknown_paths_with_the_404_page(preview: Preview) -> None:
    assert preview.out_dir is not None and (preview.out_dir / ".cardsite" / "state" / "build").is_file()
    for path in ("/.cardsite/state/build", "/max/../.cardsite/state/cards.00", "/nobody/", "/nobody/nobody.vcf"):
        status, headers, text = get(preview.url + path)
        assert status == 404, path
        assert "cardsite build state" not in text and "outputs" not in text
    status, headers, text = get(preview.url + "/nobody/")
    assert headers["Content-Type"].startswith("text/html")
    assert (preview.out_dir / "404.html").read_text("utf-8").split("</body>")[0] in text


def test_index_lists_every_card_marks_retired_ones_and_lists_aliases(preview: Preview) -> None:
    status, _headers, text = get(preview.url + "/")
    assert status == 200
    for card_id in ("jana-mueller", "lukasz-wojcik", "max", "zoe-leclerc", "hans-meier"):
        assert f'href="/{card_id}/"' in text
    assert "Zoë Leclerc" in text
    items = {m[1]: m[2] for m in re.finditer(r'<li><a href="/([^"]+)/">(.*?)</a></li>', text, re.S)}
    assert '<span class="tag">retired</span> → jana-mueller' in items["hans-meier"]
    assert "retired" not in items["jana-mueller"]
    assert items["jmueller"] == '<span class="k">jmueller</span> → jana-mueller (Dr. Jana Sophie Müller, MSc ETH)'
    # Styled like the site: its stylesheet, brand colour and company footer.
    site_css = (preview.settings.templates_dir / "style.css").read_text("utf-8")
    assert site_css.splitlines()[2] in text and "--brand: #0b5cad" in text
    assert '<ul class="actions">' in text and "<footer>" in text


def test_edit_delete_and_new_card_are_served(preview: Preview, project: Path) -> None:
    contacts = project / "contacts"
    edit(contacts / "max.yaml", "family: Muster", "family: Mustermann")
    assert wait_until(lambda: "Max Mustermann" in get(preview.url + "/max/")[2])

    (contacts / "zoe-leclerc.yaml").unlink()
    # The file goes before the build ends; the index follows with the build.
    assert wait_until(lambda: "zoe-leclerc" not in get(preview.url + "/")[2])
    assert get(preview.url + "/zoe-leclerc/")[0] == 404

    (contacts / "erika.yaml").write_text("name:\n  given: Erika\n  family: Fünfstück\n", "utf-8")
    assert wait_until(lambda: 'href="/erika/"' in get(preview.url + "/")[2])
    assert "Erika Fünfstück" in get(preview.url + "/erika/")[2]


def test_save_by_renaming_a_temporary_file_and_renamed_cards(preview: Preview, project: Path) -> None:
    contacts = project / "contacts"
    tmp = contacts / ".max.yaml.tmp"
    tmp.write_text("name:\n  given: Max\n  family: Atomic\n", "utf-8")
    os.replace(tmp, contacts / "max.yaml")
    assert wait_until(lambda: "Max Atomic" in get(preview.url + "/max/")[2])

    os.rename(contacts / "max.yaml", contacts / "max-atomic.yaml")
    assert wait_until(lambda: get(preview.url + "/max-atomic/")[0] == 200)
    assert get(preview.url + "/max/")[0] == 404


def test_a_replaced_photo_is_rebuilt(preview: Preview, project: Path) -> None:
    from PIL import Image

    before = urllib.request.urlopen(preview.url + "/jana-mueller/photo.jpg").read()
    photo = project / "contacts" / "photos" / "jana-mueller.jpg"
    Image.new("RGB", (600, 600), (200, 30, 30)).save(photo, "JPEG")
    assert wait_until(lambda: get_bytes(preview.url + "/jana-mueller/photo.jpg") not in (before, b""))


def test_a_burst_of_saves_causes_one_rebuild(start_preview: Callable[..., Preview], project: Path) -> None:
    # Saves closer together than the quiet time are one change; a generous one makes that sure on a busy machine.
    preview = start_preview(settle=(1.0, 1.0))
    epoch = preview.epoch
    for i in range(5):
        edit(project / "contacts" / "max.yaml", "Muster" if i == 0 else f"Burst{i - 1}", f"Burst{i}")
        time.sleep(0.02)
    # The files land before the epoch moves on: wait for both, then no other build can have come between.
    assert wait_until(lambda: preview.epoch != epoch and "Burst4" in get(preview.url + "/max/")[2])
    assert preview.epoch == epoch + 1


def test_a_save_still_being_written_is_built_once_it_is_closed(
    start_preview: Callable[..., Preview], project: Path
) -> None:
    # A short quiet time for a whole save, a long one for an unfinished one: only the file's close ends the wait.
    preview = start_preview(settle=(0.01, 30.0))
    epoch, card = preview.epoch, project / "contacts" / "max.yaml"
    good = card.read_text("utf-8")
    with card.open("w", encoding="utf-8") as f:
        f.write(good[: len(good) // 2])  # half a card: no longer valid YAML, or not the card it will be
        f.flush()
        time.sleep(0.3)  # a slow writer; a quiet time of 10 ms would have built the half card by now
        f.write(good[len(good) // 2 :].replace("family: Muster", "family: Halbe"))
    assert wait_until(lambda: preview.epoch != epoch and "Max Halbe" in get(preview.url + "/max/")[2])
    assert preview.epoch == epoch + 1 and not preview.problems
    assert preview.report is not None and preview.report.path == "cards"


def test_a_card_renamed_away_and_written_anew_is_one_build(
    start_preview: Callable[..., Preview], project: Path
) -> None:
    # Editors that keep a backup rename the card away, then write it again: the card is never missing.
    preview = start_preview(settle=(0.01, 30.0))
    epoch, card = preview.epoch, project / "contacts" / "max.yaml"
    good = card.read_text("utf-8")
    os.rename(card, card.with_name("max.yaml~"))
    time.sleep(0.3)  # a slow editor; a quiet time of 10 ms would have built a site without max by now
    card.write_text(good.replace("family: Muster", "family: Backup"), "utf-8")
    assert wait_until(lambda: preview.epoch != epoch and "Max Backup" in get(preview.url + "/max/")[2])
    # One build, after the card was back (the backup beside it is a new file, which takes the full build).
    assert preview.epoch == epoch + 1 and not preview.problems and "max" in preview.cards


def test_a_save_during_a_build_is_built_after_it(
    preview: Preview, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardsite.serve.preview as preview_module

    card, builds = project / "contacts" / "max.yaml", []

    def build_then_save(*args: object, **kwargs: object) -> object:
        report = engine_build(*args, **kwargs)
        if not builds:  # saved after this build read the card, before the preview learns of its report
            edit(card, "family: First", "family: Second")
        builds.append(report)
        return report

    engine_build = preview_module.build
    monkeypatch.setattr(preview_module, "build", build_then_save)
    edit(card, "family: Muster", "family: First")
    assert wait_until(lambda: "Max Second" in get(preview.url + "/max/")[2])
    # The files land before the build returns its report: wait for the second build's own return too.
    assert wait_until(lambda: len(builds) >= 2) and not preview.problems


def test_card_edit_renders_one_card_and_template_edit_every_card(preview: Preview, project: Path) -> None:
    assert wait_until(lambda: preview.report is not None)
    first = preview.report  # the start's full build, which wrote max/index.html too
    edit(project / "contacts" / "max.yaml", "Muster", "Einzeln")
    assert wait_until(lambda: "Max Einzeln" in get(preview.url + "/max/")[2])
    # The files land before the build returns its report, so wait for the edit's own report too.
    assert wait_until(lambda: preview.report is not first and "max/index.html" in preview.report.written)
    assert preview.report.rendered == 1

    edit(project / "templates" / "base.html", "<main>", '<main data-marker="tpl-edit">')
    for card_id in ("jana-mueller", "lukasz-wojcik", "max", "zoe-leclerc"):
        assert wait_until(lambda card_id=card_id: "tpl-edit" in get(f"{preview.url}/{card_id}/")[2]), card_id
    assert wait_until(lambda: "jana-mueller/index.html" in preview.report.written)
    assert preview.report.rendered == len(preview.cards)


def test_a_saved_card_is_rebuilt_alone_and_the_index_keeps_every_card(preview: Preview, project: Path) -> None:
    # The preview runs the same engine as `build`: a saved card takes the one-card path.
    every, first = dict(preview.cards), preview.report
    assert len(every) == 5
    # A title shows on the card's own pages only; a name would take the full build, which redoes others.
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Solo\n")
    assert wait_until(lambda: preview.report is not first and "max/index.html" in preview.report.written)
    assert preview.report.path == "cards" and preview.report.rebuilt == ["max"]
    assert preview.cards.keys() == every.keys()
    status, _, text = get(preview.url + "/")
    assert status == 200 and all(f"/{card_id}/" in text for card_id in every)


def test_print_proof_shows_both_sides_and_follows_an_edit(preview: Preview, project: Path) -> None:
    import io

    import zxingcpp
    from PIL import Image

    with urllib.request.urlopen(preview.url + "/max/print", timeout=30) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/png"
        first = response.read()
    proof = Image.open(io.BytesIO(first))
    assert proof.width > 2 * proof.height  # front and back, side by side
    back = proof.crop((proof.width // 2, 0, proof.width, proof.height))
    # The preview builds for its own address, so a phone on the network can follow the proof's QR code.
    assert [r.text for r in zxingcpp.read_barcodes(back)] == [f"{preview.url}/max/?q"]
    edit(project / "contacts" / "max.yaml", "  family: Muster\n", "  family: Muster\ntitle: Solo\n")
    assert wait_until(lambda: get_bytes(preview.url + "/max/print") not in (first, b""))
    status, _, text = get(preview.url + "/hans-meier/print")  # retired: nothing to print
    assert status == 404 and "retired" in text
    assert get(preview.url + "/nobody/print")[0] == 404


def test_root_serves_the_sites_own_directory_when_it_has_one(preview: Preview, project: Path) -> None:
    site = project / "site.yaml"
    site.write_text(site.read_text("utf-8") + "directory: true\n", "utf-8")
    assert wait_until(lambda: preview.out_dir is not None and (preview.out_dir / "index.html").is_file())
    status, _, text = get(preview.url + "/")
    assert status == 200
    assert (preview.out_dir / "index.html").read_text("utf-8").split("</body>")[0] in text
    assert "/livereload/" in text


def test_long_poll_returns_when_the_build_changes(preview: Preview, project: Path) -> None:
    before = str(preview.epoch)
    status, _, now = get(f"{preview.url}/livereload/0")
    assert (status, now) == (200, before)  # a stale page learns at once
    started = time.monotonic()
    edit(project / "contacts" / "max.yaml", "family: Muster", "family: Polled")
    status, _, now = get(f"{preview.url}/livereload/{before}")
    assert now != before
    assert time.monotonic() - started < 5
    assert "Max Polled" in get(preview.url + "/max/")[2]


def test_invalid_contacts_show_the_check_messages_and_recover(
    preview: Preview, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = project / "contacts" / "max.yaml"
    good = card.read_text("utf-8")
    card.write_text(good + "phones:\n  - value: not a number\n", "utf-8")
    assert wait_until(lambda: get(preview.url + "/max/")[0] == 500)
    _status, headers, text = get(preview.url + "/max/")
    assert headers["Content-Type"].startswith("text/html")
    capsys.readouterr()
    assert main(["check"]) == 1
    messages = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("Error:")]
    assert messages and messages[0].startswith("contacts/max.yaml:")
    for line in messages:
        assert html.escape(line) in text, line
    assert "/livereload/" in text
    # Every HTML path shows the problems; the other files of the last good build stay.
    assert get(preview.url + "/jana-mueller/")[0] == 500
    assert get(preview.url + "/")[0] == 500
    assert get(preview.url + "/max/max.vcf")[0] == 200

    card.write_text(good, "utf-8")
    assert wait_until(lambda: get(preview.url + "/max/")[0] == 200)
    assert "Max Muster" in get(preview.url + "/max/")[2]


def test_a_broken_site_yaml_is_an_error_view_too(preview: Preview, project: Path) -> None:
    site = project / "site.yaml"
    good = site.read_text("utf-8")
    site.write_text(good.replace("brand_color:", "brand_colour:"), "utf-8")
    assert wait_until(lambda: get(preview.url + "/max/")[0] == 500)
    assert "site.yaml:" in get(preview.url + "/max/")[2]
    site.write_text(good, "utf-8")
    assert wait_until(lambda: get(preview.url + "/max/")[0] == 200)


def test_stop_removes_the_temporary_folder(project: Path) -> None:
    pv = Preview(load_settings(project / "contacts"), port=0)
    pv.start()
    assert pv.ready.wait(30)
    out = pv.out_dir
    assert out is not None and out.is_dir()
    pv.stop()
    assert not out.exists()
    assert not (project / "public").exists()


def test_a_port_in_use_moves_to_the_next_free_one(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pv = Preview(load_settings(project / "contacts"), port=port)
        note = pv.bind()
        try:
            assert pv.port != port
            assert note == f"port {port} is in use"
        finally:
            pv.stop()


# --------------------------------------------------------------------------- who may connect, and for how long


def raw_get(pv: Preview, host: str | None, path: str = "/max/") -> tuple[int, str]:
    """Send a GET with exactly this Host header (or none) over a plain socket; return the status and body."""
    request = (
        f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "") + "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", pv.port), timeout=10) as sock:
        sock.sendall(request.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace")


def test_only_loopback_host_names_are_answered(preview: Preview) -> None:
    port = preview.port
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"[::1]:{port}",
        f"LocalHost.:{port}",
        "127.0.0.1",
        "localhost",
    ):
        status, body = raw_get(preview, host)
        assert (status, "Max Muster" in body) == (200, True), host
    # A DNS-rebinding page sends its own name; tricks that hide one behind a loopback address fare no better.
    for host in (
        f"evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"localhost.evil.example:{port}",
        f"evil.example@127.0.0.1:{port}",
        f"127.0.0.1:{port}@evil.example",
        f"127.0.0.1:{port}, evil.example",
        f"10.0.0.8:{port}",
        "",
        None,
    ):
        status, body = raw_get(preview, host)
        assert (status, "Max Muster" in body, "--host" in body) == (421, False, True), host
    assert raw_get(preview, f"evil.example:{port}", f"/livereload/{preview.epoch - 1}")[0] == 421
    # Two Host headers, the loopback one first: a proxy in between might read the other one.
    assert raw_get(preview, f"127.0.0.1:{port}\r\nHost: evil.example:{port}")[0] == 421


@pytest.mark.parametrize(
    ("header", "listen", "allowed"),
    [
        ("cards-laptop.local:8000", "cards-laptop.local", True),  # --host NAME: that name too
        ("evil.example:8000", "cards-laptop.local", False),
        ("192.168.1.20:8000", "0.0.0.0", True),  # --host 0.0.0.0: a phone opens it by address
        ("[fe80::1]:8000", "::", True),
        ("evil.example:8000", "0.0.0.0", False),
        ("localhost:8000", "0.0.0.0", True),
        ("192.168.1.20:8000", "127.0.0.1", False),
        ("[::1]:8000", "::1", True),
    ],
)
def test_host_option_adds_its_own_host(header: str, listen: str, allowed: bool) -> None:
    assert host_allowed(header, listen) is allowed


def test_idle_connections_are_closed(project: Path) -> None:
    pv = Preview(load_settings(project / "contacts"), port=0, idle_timeout=0.5)
    pv.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", pv.port), timeout=10) as silent,
            socket.create_connection(("127.0.0.1", pv.port), timeout=10) as slow,
        ):
            slow.sendall(b"GET /max/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of its headers
            started = time.monotonic()
            assert silent.recv(1) == b""
            assert slow.recv(1) == b""
            assert time.monotonic() - started < 5
        assert get(pv.url + "/max/")[0] == 200
    finally:
        pv.stop()


def test_a_long_poll_outlasts_the_idle_timeout(project: Path) -> None:
    pv = Preview(load_settings(project / "contacts"), port=0, idle_timeout=0.5)
    pv.start()
    try:
        epoch = str(pv.epoch)
        answer: list[tuple[int, dict[str, str], str]] = []
        poll = threading.Thread(target=lambda: answer.append(get(f"{pv.url}/livereload/{epoch}")))
        poll.start()
        time.sleep(1.5)
        assert poll.is_alive(), answer  # still waiting for a build, three idle timeouts later
        edit(project / "contacts" / "max.yaml", "family: Muster", "family: Waited")
        poll.join(10)
        assert answer and answer[0][0] == 200 and answer[0][2] != epoch
    finally:
        pv.stop()


def test_built_site_contains_no_reload_script(project: Path) -> None:
    assert main(["build", "--out", "public", "-q"]) == 0
    files = [p for p in (project / "public").rglob("*") if p.is_file()]
    assert any(p.name == "index.html" for p in files)
    for path in files:
        assert b"livereload" not in path.read_bytes(), path


# --------------------------------------------------------------------------- command line


def test_serve_command_prints_the_url_first_and_stops_cleanly_on_ctrl_c(project: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline()
        match = re.fullmatch(r"Serving on (http://127\.0\.0\.1:\d+)/\n", first)
        assert match, first
        assert get(match.group(1) + "/max/")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert err.rstrip().endswith("Stopped.")
    folder = re.search(r"Building into (\S+)\n", err)
    assert folder and not Path(folder.group(1)).exists()
    # In the order things happen: the folder is named before the build into it reports.
    assert folder.start() < err.index("Built ") < err.index("Press Ctrl-C to stop.")
    assert not (project / "public").exists()


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_open_page_reloads_after_edits_and_shows_errors(preview: Preview, project: Path, page) -> None:
    from playwright.sync_api import expect

    card = project / "contacts" / "max.yaml"
    good = card.read_text("utf-8")
    page.goto(preview.url + "/max/")
    expect(page.locator("h1")).to_have_text("Max Muster")

    edit(card, "family: Muster", "family: Reloaded")
    expect(page.locator("h1")).to_have_text("Max Reloaded", timeout=2000)

    card.write_text(good + "emails:\n  - value: not-an-address\n", "utf-8")
    expect(page.locator("h1")).to_have_text("Build failed – cardsite preview", timeout=2000)
    expect(page.locator(".problems li").first).to_contain_text("contacts/max.yaml:")

    card.write_text(good, "utf-8")
    expect(page.locator("h1")).to_have_text("Max Muster", timeout=2000)


@pytest.mark.browser
def test_a_new_card_appears_on_its_open_404_page(preview: Preview, project: Path, page) -> None:
    from playwright.sync_api import expect

    response = page.goto(preview.url + "/erika/")
    assert response is not None and response.status == 404
    (project / "contacts" / "erika.yaml").write_text("name:\n  given: Erika\n  family: Neu\n", "utf-8")
    expect(page.locator("h1")).to_have_text("Erika Neu", timeout=2000)


def test_the_watched_contacts_match_a_walk_after_every_kind_of_change(tmp_path: Path) -> None:
    from cardsite.build.fingerprint import tree
    from cardsite.serve.watched import WatchedTree

    root = tmp_path / "contacts"
    (root / "photos").mkdir(parents=True)
    (root / "a.yaml").write_text("name: A\n")
    (root / "photos" / "a.jpg").write_bytes(b"jpeg")
    watched = WatchedTree(root)

    def told(*paths: Path) -> None:
        # As the watcher tells it: each path, then its folder as modified.
        for path in paths:
            watched.changed(str(path))
            watched.changed(str(path.parent), walk=False)
        assert watched.snapshot() == tree(str(root))

    assert watched.snapshot() == tree(str(root))
    (root / "a.yaml").write_text("name: Anna\n")
    told(root / "a.yaml")
    (root / "photos" / "b.jpg").write_bytes(b"new photo")
    told(root / "photos" / "b.jpg")
    os.replace(root / "photos" / "b.jpg", root / "photos" / "a.jpg")
    told(root / "photos" / "b.jpg", root / "photos" / "a.jpg")
    (root / "team" / "deep").mkdir(parents=True)  # a folder that arrives with files in it: one event for it
    (root / "team" / "deep" / "c.jpg").write_bytes(b"c")
    told(root / "team")
    os.rename(root / "team", root / "staff")
    told(root / "team", root / "staff")
    (root / "link.yaml").symlink_to(root / "a.yaml")
    told(root / "link.yaml")
    assert watched.snapshot()[1] is True  # a link: the build leaves it to the full build, which refuses it
    (root / "link.yaml").unlink()
    (root / "staff" / "deep" / "c.jpg").unlink()
    told(root / "link.yaml", root / "staff" / "deep" / "c.jpg")
    assert watched.snapshot()[1] is False
    (root / "stray.yaml").write_text("name: Missed\n")  # no event: only a walk finds it
    assert watched.rescan() and watched.snapshot() == tree(str(root))
    assert not watched.rescan()


def test_the_preview_keeps_the_contacts_signatures_as_a_walk_finds_them(
    start_preview: Callable[..., Preview], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardsite.serve.preview as preview_module
    from cardsite.build.fingerprint import tree

    monkeypatch.setattr(preview_module, "RESCAN_EVERY", 3600.0)  # the file events alone
    preview = start_preview()
    contacts = project / "contacts"
    walk = lambda: tree(str(preview.settings.contacts_dir))  # noqa: E731
    edit(contacts / "max.yaml", "family: Muster", "family: Walked")
    tmp = contacts / ".max.yaml.tmp"
    tmp.write_text((contacts / "max.yaml").read_text("utf-8"), "utf-8")
    os.replace(tmp, contacts / "max.yaml")
    (contacts / "more" / "photos").mkdir(parents=True)
    (contacts / "more" / "photos" / "x.jpg").write_bytes(b"not a photo anyone uses")
    (contacts / "max.yaml~").write_text("a backup\n", "utf-8")
    assert preview.contacts is not None
    assert wait_until(lambda: preview.contacts.snapshot() == walk())
    assert wait_until(lambda: "Max Walked" in get(preview.url + "/max/")[2])


def test_the_preview_vouches_for_its_folder_only_after_a_build_that_succeeded(
    preview: Preview, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardsite.serve.preview as preview_module

    vouched: list[bool] = []

    def recording_build(*args: object, outputs_as_left: bool = False, **kwargs: object) -> object:
        vouched.append(outputs_as_left)
        return engine_build(*args, outputs_as_left=outputs_as_left, **kwargs)

    engine_build = preview_module.build
    monkeypatch.setattr(preview_module, "build", recording_build)
    card = project / "contacts" / "max.yaml"
    good = card.read_text("utf-8")
    card.write_text(good + "phones:\n  - value: not a number\n", "utf-8")
    assert wait_until(lambda: get(preview.url + "/max/")[0] == 500)
    card.write_text(good.replace("family: Muster", "family: Again"), "utf-8")
    assert wait_until(lambda: "Max Again" in get(preview.url + "/max/")[2])
    edit(card, "family: Again", "family: Vouched")
    assert wait_until(lambda: "Max Vouched" in get(preview.url + "/max/")[2])
    # After the start's build, after the failed one (which may have written part of its files), after a good one.
    assert vouched[0] is True and vouched[-2:] == [False, True]
