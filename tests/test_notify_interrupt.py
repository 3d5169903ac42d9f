"""`notify` stopped halfway, as CI stops it (SIGTERM) or as a crash does (SIGKILL), against moto.

A message SES accepted is in the state soon after, so a rerun repeats at most the one message
in flight, and that repeat carries the same X-Cardsite-Job-Id as the first copy.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_notify import Faults, endpoint, faults, job_ids, print_jobs, rebuild, sent, site  # noqa: F401

from cardsite.cli import main

CARDS = 20
RATE = 5.0  # messages per second, as the account's send rate: slow enough that every message is saved alone


def add_cards(project: Path) -> None:
    """Add CARDS cards without an e-mail address (so one message each: the print job)."""
    for i in range(CARDS):
        (project / "contacts" / f"person-{i:02d}.yaml").write_text(f"name:\n  given: Person\n  family: Nr {i}\n")
    rebuild()


def start_notify(project: Path, endpoint: str) -> subprocess.Popen[str]:  # noqa: F811
    code = "import sys; from cardsite.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["notify", "-q", "--state", "state.json", "--endpoint-url", endpoint]
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=project, stderr=subprocess.PIPE, text=True)


def wait_for_sends(faults: Faults, count: int, proc: subprocess.Popen[str]) -> None:  # noqa: F811
    deadline = time.monotonic() + 60
    while len(faults.send_times) < count:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "notify did not start sending"
        time.sleep(0.02)


def saved_cards(project: Path) -> set[str]:
    path = project / "state.json"
    return set(json.loads(path.read_text())["cards"]) if path.exists() else set()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_stopped_run_repeats_at_most_the_message_in_flight(site, endpoint, aws, faults, stop) -> None:  # noqa: F811
    add_cards(site)
    faults.rate = RATE
    proc = start_notify(site, endpoint)
    wait_for_sends(faults, 10, proc)
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=30)
    accepted = set(print_jobs(sent(aws)))
    saved = saved_cards(site)
    assert saved <= accepted
    if stop != signal.SIGKILL:
        assert proc.returncode == 1 and f"stopped by {stop.name}" in err and "Traceback" not in err
        assert saved == accepted, "SIGTERM and Ctrl-C finish the message in flight and save it"
    else:
        assert len(accepted - saved) <= 1, f"only the message in flight can be unsaved: {sorted(accepted - saved)}"
    assert 5 <= len(accepted) < CARDS, "stopped halfway"

    before = sent(aws)
    assert main(["notify", "-q", "--state", "state.json", "--endpoint-url", endpoint]) == 0
    everything = sent(aws)
    copies = Counter(m["X-Cardsite-Card-Id"] for m in everything if m["X-Cardsite-Kind"] == "print-job")
    live = sorted(p.parent.name for p in (site / "public").glob("*/*.vcf"))
    assert sorted(copies) == live, "every card announced"
    repeated = [card for card, n in copies.items() if n > 1]
    assert len(repeated) <= (1 if stop == signal.SIGKILL else 0), repeated
    ids_first, ids_rerun = job_ids(before), job_ids(everything[len(before) :])
    for card in repeated:
        assert ids_rerun[(card, "print-job")] == ids_first[(card, "print-job")], "a repeat can be dropped by its id"
