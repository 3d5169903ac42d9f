"""People from files: CSV (comma or semicolon, BOM or not), XLSX workbooks and vCard files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ...errors import Abort, display_path
from ..records import Record


def read_file(path: Path) -> list[Record]:
    """Return the people of one CSV, XLSX or .vcf file, by its suffix."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return read_xlsx(path)
        data = path.read_bytes()
    except OSError as exc:
        raise Abort(f"cannot read {display_path(path)}: {exc.strerror or exc}") from None
    if suffix in (".vcf", ".vcard"):
        return read_vcf(decode(data, path), display_path(path))
    if suffix in (".csv", ".txt", ".tsv"):
        return read_csv(decode(data, path), display_path(path))
    raise Abort(f"{display_path(path)}: import reads .csv, .xlsx and .vcf files")


def decode(data: bytes, path: Path | str) -> str:
    """Return the text of a file: UTF-8 with or without a BOM, else Windows-1252."""
    # Excel writes UTF-8 with a BOM when asked for "CSV UTF-8", and Windows-1252 otherwise (German Excel too).
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_csv(text: str, name: str) -> list[Record]:
    """Return one Record per data row of a CSV text."""
    return parse_csv(text, name)[1]


def parse_csv(text: str, name: str) -> tuple[list[str], list[Record]]:
    """Return the headers and one Record per data row of a CSV text; the delimiter (, ; or tab) is the header's."""
    header = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = iter(reader)
    headers = [h.strip() for h in next(rows, [])]
    if not any(headers):
        raise Abort(f"{name}: the file has no header row")
    records = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        values = dict(zip(headers, row, strict=False))
        records.append(_record(values, f"{name}:{reader.line_num}"))
    return headers, records


def read_xlsx(path: Path) -> list[Record]:
    """Return one Record per row of the first sheet of a workbook, whose first non-empty row is the header."""
    import openpyxl

    name = display_path(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError or its own errors for a file that is no workbook
        raise Abort(f"{name}: not an XLSX workbook ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        headers: list[str] = []
        records = []
        for number, row in enumerate(rows, start=1):
            cells = ["" if c is None else _cell(c) for c in row]
            if not headers:
                headers = [c.strip() for c in cells] if any(cells) else []
                continue
            if any(c.strip() for c in cells):
                records.append(_record(dict(zip(headers, cells, strict=False)), f"{name}:{number}"))
        return records
    finally:
        book.close()


def _cell(value: Any) -> str:
    # A phone or postal code typed into Excel becomes a number; 8001.0 must read 8001.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


#: Columns that hold an HR system's stable identity of a person, which survives a change of e-mail address.
KEY_COLUMNS = frozenset({"employeeid", "personalnummer", "uid", "userid", "objectid", "entryuuid", "externalid", "key"})
#: Columns that say whether a person is still there, and the values that mean they are not.
ACTIVE_COLUMNS = frozenset({"active", "enabled", "status", "aktiv", "accountenabled"})
INACTIVE = frozenset({"false", "0", "no", "n", "inactive", "disabled", "suspended", "nein", "inaktiv", "ausgetreten"})


def _record(values: dict[str, str], where: str) -> Record:
    from ..mapping import fold

    folded = {fold(k): v.strip() for k, v in values.items()}
    return Record(key=_row_key(folded) or where, where=where, values=values, active=_row_active(folded))


def _row_key(folded: dict[str, str]) -> str:
    """Return a row's identity: its HR key, else its e-mail address; '' with neither."""
    key = next((v for k, v in folded.items() if k in KEY_COLUMNS and v), "")
    return key or next((v.lower() for k, v in folded.items() if "mail" in k and "@" in v), "")


def _row_active(folded: dict[str, str]) -> bool:
    return not any(folded.get(k, "").lower() in INACTIVE for k in ACTIVE_COLUMNS if folded.get(k))


def read_vcf(text: str, name: str) -> list[Record]:
    """Return one Record per contact of a vCard file (3.0 or 4.0, one contact or many)."""
    import vobject

    records = []
    try:
        for number, card in enumerate(vobject.readComponents(text, ignoreUnreadable=True), start=1):
            records.append(_vcard_record(card, f"{name}: contact {number}"))
    except Exception as exc:  # vobject raises ParseError and friends with the line in the message
        raise Abort(f"{name}: not a readable vCard file ({exc})") from None
    return records


def _vcard_record(card: Any, where: str) -> Record:
    contents = card.contents
    values = _vcard_name(contents) | _vcard_org(contents)
    for key in ("title", "note"):
        if key in contents:
            values[key] = [str(line.value) for line in contents[key]]
    # Google Contacts escapes the colon of a URL (https\://), which vCard 3.0 does not ask for.
    values["website"] = [str(line.value).replace("\\:", ":") for line in contents.get("url", [])]
    mails = [str(line.value) for line in contents.get("email", [])]
    values["email"] = mails
    values |= _vcard_phones(contents)
    values |= _vcard_address(contents)
    return Record(key=mails[0].lower() if mails else where, where=where, values=values)


def _vcard_name(contents: dict[str, Any]) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {}
    if "n" in contents:
        n = contents["n"][0].value
        values |= {"given": n.given, "family": n.family, "additional": _text(n.additional)}
        values |= {"prefix": _text(n.prefix), "suffix": _text(n.suffix)}
    if "fn" in contents and not (values.get("given") or values.get("family")):
        values["fullname"] = contents["fn"][0].value
    return values


def _vcard_org(contents: dict[str, Any]) -> dict[str, str | list[str]]:
    if "org" not in contents:
        return {}
    org = contents["org"][0].value
    org = org if isinstance(org, list) else [org]
    return {"org": org[0] if org else "", "department": org[1] if len(org) > 1 else ""}


def _vcard_phones(contents: dict[str, Any]) -> dict[str, list[str]]:
    phones: dict[str, list[str]] = {}
    for line in contents.get("tel", []):
        types = _types(line)
        kind = "mobile" if "cell" in types else "fax" if "fax" in types else "phone"
        phones.setdefault(kind, []).append(str(line.value).removeprefix("tel:"))
    return phones


def _vcard_address(contents: dict[str, Any]) -> dict[str, str]:
    if "adr" not in contents:
        return {}
    adr = contents["adr"][0].value
    return {
        "street": _text(adr.street),
        "locality": _text(adr.city),
        "region": _text(adr.region),
        "postal_code": _text(adr.code),
        "country": _text(adr.country),
    }


def _text(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value or "")


def _types(line: Any) -> set[str]:
    # vCard 4.0 may write TYPE="cell,voice" as one quoted parameter value.
    return {t.strip().lower() for value in line.params.get("TYPE", []) for t in value.split(",")}
