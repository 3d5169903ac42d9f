"""Load and check site.yaml, the organisation-wide settings merged under every card."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import Problem, ValidationError, display_path
from .load import Document, read_yaml

#: Templates that ship with cardsite, used when the project has no templates/ folder.
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


@dataclass(frozen=True)
class Settings:
    """Checked site settings plus the folders a command works on."""

    base_url: str
    company: dict[str, Any]
    brand_color: str
    default_language: str
    phone_region: str
    noindex: bool
    directory: bool
    qr_error_correction: str
    contacts_dir: Path
    templates_dir: Path
    site_file: Path
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    #: site.yaml's metadata taken just before it was read: what the build's stamp records of it.
    site_stat: os.stat_result | None = field(default=None, compare=False, repr=False)
    #: The checks of site.yaml and the base URL, while deferred (load_settings(defer_checks=True)); see check().
    pending_checks: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def check(self) -> None:
        """Run the deferred checks of site.yaml and the base URL; raise ValidationError listing every problem."""
        if self.pending_checks is not None:
            self.pending_checks()
            object.__setattr__(self, "pending_checks", None)  # frozen, but checking twice is only wasted time

    @cached_property
    def digest(self) -> str:
        """Hash everything in the settings that can change an output."""
        blob = json.dumps([self.raw, self.base_url], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    @cached_property
    def templates_digest(self) -> str:
        """Hash every file under the templates folder, names included."""
        h = hashlib.sha256()
        root = self.templates_dir
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
        return h.hexdigest()

    @cached_property
    def brand(self) -> dict[str, Any]:
        """Return site.yaml's brand block with its defaults: logo (under templates/), colours, theme, preview image."""
        return brand_settings(self.raw)

    def card_url(self, card_id: str) -> str:
        """Return the public URL of a card's landing page."""
        return f"{self.base_url}/{card_id}/"

    @cached_property
    def owner_domains(self) -> tuple[str, ...]:
        """Return the domains owner notices may go to: notify.owner_domains, else the company's own."""
        configured = (self.raw.get("notify") or {}).get("owner_domains")
        if configured is not None:
            return tuple(dict.fromkeys(domain.lower().rstrip(".") for domain in configured))
        return company_domains(self.company)


#: The brand keys' defaults; `color` falls back to the older top-level `brand_color`.
BRAND_DEFAULTS: dict[str, Any] = {"logo": "", "theme": "auto", "preview_image": False}
DEFAULT_COLOR = "#0b5cad"


def brand_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Return the brand block of site.yaml's `data` with every default filled in."""
    given = data.get("brand")
    # A brand that is not a mapping is a schema problem, reported as such; until then it is ignored.
    brand = {**BRAND_DEFAULTS, **(given if isinstance(given, dict) else {})}
    brand.setdefault("color", data.get("brand_color", DEFAULT_COLOR))
    brand.setdefault("accent", brand["color"])
    return brand


def company_domains(company: dict[str, Any]) -> tuple[str, ...]:
    """Return the domains of the company's e-mail address and website (without 'www.')."""
    found = []
    if "@" in company.get("email", ""):
        found.append(company["email"].rsplit("@", 1)[1])
    host = urlsplit(company.get("website", "")).hostname or ""
    if host:
        found.append(host.removeprefix("www."))
    return tuple(dict.fromkeys(domain.lower().rstrip(".") for domain in found if domain))


def owner_address_problem(address: str, domains: tuple[str, ...]) -> str | None:
    """Return why owner notices may not go to `address`, or None when its domain (or a parent) is allowed.

    Owner notices go out through the company's SES identity with text from the card, so a card's
    author must not be able to aim them anywhere; `check` and `notify` both apply this rule.
    """
    domain = address.rsplit("@", 1)[-1].lower().rstrip(".")
    if any(domain == allowed or domain.endswith(f".{allowed}") for allowed in domains):
        return None
    allowed = ", ".join(domains) if domains else "none are set"
    return (
        f"owner notices go only to the company's domains ({allowed}; notify.owner_domains in site.yaml),"
        f" not to '{address}': list a company address first, or set notify_owner: false"
    )


def project_paths(
    contacts_dir: Path, site_file: Path | None = None, templates_dir: Path | None = None
) -> tuple[Path, Path]:
    """Return (site.yaml, templates/): the ones given, else those of the project that holds `contacts_dir`."""
    root = contacts_dir.resolve().parent
    templates = root / "templates"
    default_templates = templates if templates.is_dir() else BUILTIN_TEMPLATES
    return site_file or root / "site.yaml", templates_dir or default_templates


#: Why an input may not be a symbolic link: a link can point outside the repository (to /proc/self/environ, to a
#: secret), and in a pull request's diff it looks like a one-line text file.
LINK_REFUSED = (
    "is a symbolic link, and cardsite reads no links (one can point outside the repository); "
    "put the file or folder itself here"
)


def link_problem(path: Path | str) -> Problem:
    """Return the problem of an input that is a symbolic link."""
    return Problem(display_path(Path(path)), 1, "", LINK_REFUSED)


def base_url_problem(url: str) -> str | None:
    """Return why `url` cannot be the site's base URL, or None."""
    from .validate import url_characters_problem

    if reason := url_characters_problem(url):
        return f"base URL {reason}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"base URL '{url}' must start with https:// (or http://) and name a host"
    if parts.query or parts.fragment or "@" in parts.netloc:
        return f"base URL '{url}' must not have a query, fragment or user name"
    return None


#: The one site.yaml field that may hold several lines; every other text is a single line.
MULTI_LINE_FIELDS = frozenset({("company", "address", "street")})


def _check(doc: Document) -> None:
    """Raise ValidationError listing every problem of site.yaml: its schema, characters and company checks."""
    # The validators load here, not at import: a build with nothing to do (build/fingerprint.py) never needs them.
    from .validate import character_problems, schema_problems

    problems = schema_problems(doc, "site")
    if not isinstance(doc.data, dict):
        raise ValidationError(problems)
    problems += character_problems(doc, MULTI_LINE_FIELDS)
    reported = {p.field for p in problems}
    problems += company_problems(doc, _phone_region(doc.data, reported), reported)
    problems += _contrast_problems(doc, reported)
    if problems:
        raise ValidationError(sorted(set(problems)))


def _phone_region(data: dict[str, Any], reported: set[str]) -> str:
    """Return the region the company's phone number is read in."""
    region = data.get("phone_region", "CH")
    if "phone_region" in reported or not isinstance(region, str):
        return "CH"  # numbers are still checked, against the default region
    return region


def _contrast_problems(doc: Document, reported: set[str]) -> list[Problem]:
    """Refuse a brand colour too light for the white text of the 'Save contact' button."""
    data: dict[str, Any] = doc.data
    where = ("brand", "color") if isinstance(data.get("brand"), dict) and "color" in data["brand"] else ("brand_color",)
    color = brand_settings(data)["color"] if ".".join(where) not in reported else DEFAULT_COLOR
    ratio = contrast_with_white(color) if isinstance(color, str) else MIN_CONTRAST
    if ratio < MIN_CONTRAST:
        return [
            doc.problem(
                where,
                f"white text on {color} has a contrast of {ratio:.1f}:1; "
                f"the 'Save contact' button needs at least {MIN_CONTRAST}:1 (WCAG AA), so pick a darker colour",
            )
        ]
    return []


def load_settings(
    contacts_dir: Path,
    *,
    site_file: Path | None = None,
    templates_dir: Path | None = None,
    base_url: str | None = None,
    defer_checks: bool = False,
    need_contacts: bool = True,
) -> Settings:
    """Read site.yaml next to `contacts_dir`; raise ValidationError on any problem.

    `defer_checks`: the build decides, and calls Settings.check() unless its stamp shows that
    a successful build already checked this very file with this very code; a one-card rebuild
    feels the checks' ~15 ms and the validators' import.
    `need_contacts`: False for commands that read the built site's manifest, not the cards.
    """
    site_file, templates_dir = project_paths(contacts_dir, site_file, templates_dir)
    _check_paths(contacts_dir if need_contacts else None, site_file, templates_dir)
    site_stat = os.stat(site_file)
    doc, problems = read_yaml(site_file)
    if doc is None:
        raise ValidationError(problems)
    data: dict[str, Any] = doc.data
    # Deferred only while the fields read below have their types: the rest is checked before anything is built.
    defer = defer_checks and isinstance(data, dict) and isinstance(data.get("company"), dict)
    defer = defer and isinstance(data.get("base_url"), str)
    url = (base_url or data["base_url"]).rstrip("/")

    def checks() -> None:
        _check(doc)
        _base_url(doc, base_url)

    if not defer:
        checks()
    return Settings(
        base_url=url,
        company=data["company"],
        brand_color=brand_settings(data)["color"],
        default_language=data.get("default_language", "en"),
        phone_region=data.get("phone_region", "CH"),
        noindex=data.get("noindex", True),
        directory=data.get("directory", False),
        qr_error_correction=data.get("qr_error_correction", "M"),
        contacts_dir=contacts_dir,
        templates_dir=templates_dir,
        site_file=site_file,
        raw=data,
        site_stat=site_stat,
        pending_checks=checks if defer else None,
    )


def _check_paths(contacts_dir: Path | None, site_file: Path, templates_dir: Path) -> None:
    """Refuse symbolic links among the project's folders and files, and any of them that is missing.

    `contacts_dir` is None for a command that reads the built site, not the cards.
    """
    paths = [p for p in (contacts_dir, site_file, templates_dir) if p is not None]
    links = [link_problem(path) for path in paths if path.is_symlink()]
    if links:
        raise ValidationError(links)
    if contacts_dir is not None and not contacts_dir.is_dir():
        raise ValidationError([Problem(display_path(contacts_dir), 1, "", "contacts folder not found")])
    if not site_file.is_file():
        problem = "site settings file not found (see README: site.yaml)"
        raise ValidationError([Problem(display_path(site_file), 1, "", problem)])
    if not templates_dir.is_dir():
        raise ValidationError([Problem(display_path(templates_dir), 1, "", "templates folder not found")])


def _base_url(doc: Document, override: str | None) -> str:
    """Return the site's base URL (--base-url, else site.yaml's) without a final slash; refuse a bad one."""
    url = (override or doc.data["base_url"]).rstrip("/")
    reason = base_url_problem(url)
    if reason and override is None:
        raise ValidationError([Problem(doc.name, doc.line_of(("base_url",)), "base_url", reason)])
    if reason:
        raise ValidationError([Problem("--base-url", 1, "", reason)])
    return url


#: WCAG 2 AA contrast for normal text; the brand colour is the background of white button text.
MIN_CONTRAST = 4.5


def contrast_with_white(color: str) -> float:
    """Return the WCAG contrast ratio of white text on `color` (#rrggbb)."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def company_problems(doc: Document, region: str, reported: frozenset[str] | set[str] = frozenset()) -> list[Problem]:
    """Check the company's contact fields the way card fields are checked, but for those in `reported`."""
    from .validate import email_problem, phone_problem, url_problem

    company = doc.data.get("company")
    if not isinstance(company, dict):
        return []
    checks = {
        "website": url_problem,
        "email": email_problem,
        "phone": lambda v: phone_problem(v, region),
    }
    problems = []
    for key, check in checks.items():
        value = company.get(key)
        if isinstance(value, str) and f"company.{key}" not in reported and (reason := check(value)):
            problems.append(doc.problem(("company", key), reason))
    return problems
