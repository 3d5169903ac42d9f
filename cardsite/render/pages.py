"""Render landing pages and the 404 page from the Jinja templates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from ..cards.load import Loader
from ..cards.model import Card, short_url
from ..cards.settings import Settings
from ..errors import Problem, ValidationError, display_path
from .address import address_view
from .profile import initials, name_parts, profile_ld

#: Files under templates/assets/ are published as assets/<stem>.<hash><suffix>.
ASSETS_DIR = "assets"
LOCALE_DIR = "locale"
#: The icon of each phone type, from templates/icons/sprite.svg.
PHONE_ICONS = {"work": "phone", "cell": "smartphone", "home": "home", "fax": "fax"}
#: The page's icons, one SVG sprite (Lucide, ISC licence: templates/icons/LICENSE).
ICONS = "icons/sprite.svg"
#: The height of the logo in the header band, CSS pixels (style.css: .logo img).
LOGO_HEIGHT = 28


@dataclass(frozen=True)
class Asset:
    source: Path
    path: str
    data: bytes


@dataclass
class Pages:
    """The template environment, string catalogs and hashed assets of one build."""

    settings: Settings
    names: dict[str, str] = field(default_factory=dict)
    #: Where compiled templates are kept between builds, or None to compile them afresh.
    bytecode_cache: jinja2.BytecodeCache | None = None
    #: The loaded wallet material of this build: "apple" and "google" signers, the "background" design, or None.
    wallet: dict[str, Any] = field(default_factory=dict)
    #: The build's output folder, where the last build's outputs and the build's caches are; None: no such folder.
    out_dir: Path | None = None
    env: jinja2.Environment = field(init=False)
    catalogs: dict[str, dict[str, str]] = field(init=False)
    assets: dict[str, Asset] = field(init=False)
    #: The logo for the header band: sanitised inline SVG, or "" for none or a raster logo.
    logo: Markup = field(init=False)
    #: A raster logo: its asset name, width and height in CSS pixels; else None.
    logo_image: dict[str, Any] | None = field(init=False, default=None)
    icons: Markup = field(init=False)

    def __post_init__(self) -> None:
        root = self.settings.templates_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(root),
            bytecode_cache=self.bytecode_cache,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # One build, one environment (the preview makes a new one per build): templates do not change under
            # it, so no stat of every template on every page.
            auto_reload=False,
        )
        self.env.filters["short_url"] = short_url
        self.env.filters["e164"] = self._e164
        self.env.globals.update(
            initials=initials,
            name_parts=name_parts,
            profile_ld=profile_ld,
            address_view=address_view,
            phone_icons=PHONE_ICONS,
        )
        self.catalogs = load_catalogs(root / LOCALE_DIR)
        self.assets = {}
        # Hidden files (an editor's swap or lock files) are never published.
        for source in sorted(p for p in (root / ASSETS_DIR).glob("*") if not p.name.startswith(".")):
            data = source.read_bytes()
            tag = hashlib.sha256(data).hexdigest()[:10]
            path = f"{ASSETS_DIR}/{source.stem}.{tag}{source.suffix}"
            self.assets[source.name] = Asset(source, path, data)
        self.logo = self._logo()
        # The icon sprite is plain SVG: read once, not included (and stat-ed) on every page.
        sprite = root / ICONS
        self.icons = Markup(sprite.read_text("utf-8").split("#}\n", 1)[-1]) if sprite.is_file() else Markup("")

    def _logo(self) -> Markup:
        """Read brand.logo from under the templates folder: sanitise an SVG, publish an image as an asset."""
        from .logo import LogoError, raster_logo, sanitise_svg

        name = self.settings.brand["logo"]
        if not name:
            return Markup("")
        root = self.settings.templates_dir
        path = root / name
        try:
            if path.is_symlink() or not path.resolve().is_relative_to(root.resolve()) or not path.is_file():
                raise LogoError(f"no file '{name}' in the templates folder {display_path(root)}")
            label = self.settings.company["name"]
            if path.suffix.lower() == ".svg":
                return Markup(sanitise_svg(path.read_bytes(), label))
            logo = raster_logo(path, LOGO_HEIGHT)
        except LogoError as exc:
            raise ValidationError([self._site_problem(("brand", "logo"), str(exc))]) from None
        tag = hashlib.sha256(logo.data).hexdigest()[:10]
        key = "logo" + logo.suffix
        self.assets[key] = Asset(path, f"{ASSETS_DIR}/logo.{tag}{logo.suffix}", logo.data)
        self.logo_image = {"name": key, "width": logo.width, "height": logo.height}
        return Markup("")

    def _site_problem(self, key: tuple[str, ...], message: str) -> Problem:
        """Return a problem of site.yaml at the line of `key`."""
        from ..cards.load import read_yaml

        doc, _ = read_yaml(self.settings.site_file)
        line = doc.line_of(key) if doc is not None else 1
        return Problem(display_path(self.settings.site_file), line, ".".join(key), message)

    def _e164(self, number: str) -> str:
        """Return a checked phone number in E.164 form, for tel: links."""
        import phonenumbers

        from ..cards.validate import parse_phone

        parsed = parse_phone(number, self.settings.phone_region)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if parsed else number

    def _context(self, lang: str, depth: int) -> dict[str, Any]:
        if lang not in self.catalogs:
            where = display_path(self.settings.templates_dir / LOCALE_DIR / f"{lang}.yaml")
            raise ValidationError([Problem(where, 1, "", f"no string catalog for language '{lang}'")])
        strings = self.catalogs[lang]
        prefix = "../" * depth
        return {
            "site": self.settings,
            "company": self.settings.company,
            "lang": lang,
            "t": strings,
            "asset": lambda name: prefix + self.assets[name].path,
            "names": self.names,
            "logo": self.logo,
            "logo_image": self.logo_image,
            "icons": self.icons,
        }

    def render(self, template: str, **context: Any) -> bytes:
        """Render template `name`; report template mistakes by file and line."""
        try:
            return self.env.get_template(template).render(**context).encode("utf-8")
        except jinja2.TemplateSyntaxError as exc:
            where = display_path(Path(exc.filename)) if exc.filename else template
            raise ValidationError([Problem(where, exc.lineno, "", exc.message or str(exc))]) from None
        except jinja2.TemplateError as exc:
            where, line = _template_frame(exc, self.settings.templates_dir, template)
            raise ValidationError([Problem(where, line, "", str(exc))]) from None

    def render_card(self, card: Card) -> bytes:
        """Return the landing page of `card`."""
        return self.render("card.html", card=card, **self._context(card.lang, depth=1))

    def render_signature(self, card: Card) -> bytes:
        """Return the card's e-mail signature: inline styles, absolute URLs only."""
        return self.render(
            "signature.html", card=card, wallet=self.wallet_links(card), **self._context(card.lang, depth=1)
        )

    def wallet_links(self, card: Card) -> dict[str, str]:
        """Return the absolute URLs of the card's wallet pass, Google Wallet page and background ("" if not built)."""
        from .wallet import WALLET_FILES

        return {
            kind: card.url + name.format(id=card.id) if self.wallet.get(kind) is not None else ""
            for kind, name in WALLET_FILES.items()
        }

    def render_alias(self, target_id: str, name: str, lang: str) -> bytes:
        """Return the redirect page at a card's former URL: a relative redirect, the real address as canonical."""
        url = self.settings.card_url(target_id)
        target = f"../{target_id}/"
        return self.render("alias.html", url=url, target=target, person=name, **self._context(lang, depth=1))

    def render_directory(self, sources: list[Any]) -> bytes:
        """Return the optional index page that lists the active cards."""
        cards = sorted(((s.name, s.id) for s in sources), key=lambda c: c[0].casefold())
        return self.render("directory.html", cards=cards, **self._context(self.settings.default_language, depth=0))

    def render_404(self) -> bytes:
        """Return the site's 404 page, served for every unknown path."""
        ctx = self._context(self.settings.default_language, depth=0)
        # The 404 page is served at any depth, so its links must not be relative.
        ctx["asset"] = lambda name: f"{self.settings.base_url}/{self.assets[name].path}"
        ctx["others"] = [{"lang": lang, "t": t} for lang, t in sorted(self.catalogs.items()) if lang != ctx["lang"]]
        return self.render("404.html", **ctx)

    def render_preview_index(self, cards: list[dict[str, Any]]) -> bytes:
        """Return the preview's list of every card, retired ones and aliases included (the site has no such page)."""
        ctx = {**self._context(self.settings.default_language, depth=0), "lang": "en"}  # the page's text is English
        aliases = sorted(((alias, card) for card in cards for alias in card["aliases"]), key=lambda pair: pair[0])
        return self.render("preview-index.html", cards=cards, aliases=aliases, **ctx)


def load_catalogs(folder: Path) -> dict[str, dict[str, str]]:
    """Read one string catalog per language from `folder`/<lang>.yaml."""
    catalogs: dict[str, dict[str, str]] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text("utf-8"), Loader=Loader)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem(display_path(path), 1, "", f"cannot read catalog: {exc}"))
            continue
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            problems.append(Problem(display_path(path), 1, "", "a catalog maps keys to text"))
            continue
        catalogs[path.stem] = data
    if problems:
        raise ValidationError(problems)
    return catalogs


def _template_frame(exc: BaseException, root: Path, fallback: str) -> tuple[str, int]:
    """Find the template file and line a render error came from in its traceback."""
    where, line = fallback, 1
    tb = exc.__traceback__
    root = root.resolve()
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".css", ".txt")) and Path(filename).resolve().is_relative_to(root):
            where, line = display_path(Path(filename)), tb.tb_lineno
        tb = tb.tb_next
    return where, line
