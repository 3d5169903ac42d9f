"""A throwaway OpenLDAP server (Debian's slapd) on 127.0.0.1, for the LDAP tests and benchmarks/sync_bench.py."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SUFFIX = "dc=example,dc=ch"
ADMIN, ADMIN_PASSWORD = f"cn=admin,{SUFFIX}", "admin-secret"
READER, READER_PASSWORD = f"cn=cards-reader,{SUFFIX}", "reader-secret"
PEOPLE = f"ou=people,{SUFFIX}"
#: Without a paged search the reader sees 3 entries at most, so a test proves that paging is used.
SIZE_LIMIT = 3

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {root}/slapd.pid
database mdb
maxsize 1073741824
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {root}/db
limits dn.exact="{reader}" size.soft={limit} size.hard={limit} size.pr=unlimited size.prtotal=unlimited
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{reader}" read by * none
"""


def available() -> bool:
    """Return whether slapd and slapadd are installed."""
    return Path(SLAPD).is_file() and Path(SLAPADD).is_file()


def person_ldif(uid: str, given: str, family: str, **attrs: str) -> str:
    """Return the LDIF of one inetOrgPerson under ou=people."""
    lines = [
        f"dn: uid={uid},{PEOPLE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {given} {family}",
        f"givenName: {given}",
        f"sn: {family}",
    ]
    lines += [f"{k}: {v}" for k, v in attrs.items()]
    return "\n".join(lines) + "\n\n"


def base_ldif() -> str:
    return (
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example AG\ndc: example\n\n"
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
        f"dn: {READER}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: cards-reader\n"
        f"userPassword: {READER_PASSWORD}\n\n"
    )


class Slapd:
    """slapd with a fresh database in `root`, loaded by slapadd before it starts."""

    def __init__(self, root: Path):
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, people: Iterable[str]) -> str:
        (self.root / "db").mkdir(parents=True)
        conf = self.root / "slapd.conf"
        conf.write_text(
            CONFIG.format(
                root=self.root,
                suffix=SUFFIX,
                admin=ADMIN,
                admin_password=ADMIN_PASSWORD,
                reader=READER,
                limit=SIZE_LIMIT,
            )
        )
        ldif = self.root / "data.ldif"
        ldif.write_text(base_ldif() + "".join(people), "utf-8")
        subprocess.run([SLAPADD, "-f", str(conf), "-q", "-l", str(ldif)], check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"ldap://127.0.0.1:{port}"
        # -d 0 keeps slapd in the foreground, so the test owns the process and ends it.
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{self.url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return self.url
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("slapd exited at start") from None
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen in 20 s")

    def modify(self, dn: str, **changes: list[str]) -> None:
        """Replace attributes of one entry, as the directory's admin."""
        import ldap3

        conn = ldap3.Connection(self.url, ADMIN, ADMIN_PASSWORD, auto_bind=True)
        assert conn.modify(dn, {k: [(ldap3.MODIFY_REPLACE, v)] for k, v in changes.items()}), conn.result
        conn.unbind()

    def delete(self, dn: str) -> None:
        import ldap3

        conn = ldap3.Connection(self.url, ADMIN, ADMIN_PASSWORD, auto_bind=True)
        assert conn.delete(dn), conn.result
        conn.unbind()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
