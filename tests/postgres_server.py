"""A throwaway PostgreSQL server for the tests, from the system's binaries (Debian:
``apt-get install postgresql``; ``.ci/run`` installs it).

``initdb`` into a temporary folder, ``postgres`` listening on a unix socket in that
folder only (no TCP: ``listen_addresses = ''``; the folder is private to the server's
user), one database per test, and ``pg_ctl stop -m fast`` and the folder removed at the
end.  PostgreSQL refuses to run as root: as root, the server runs as the ``postgres``
user the Debian package creates.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

#: the superuser of the throwaway cluster, which the tests connect as (trust, socket only)
USER = "cnn_course"


class Unavailable(RuntimeError):
    """No PostgreSQL server binaries here, or no user to run them as."""


def bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian), else ``initdb`` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        raise Unavailable("no PostgreSQL server binaries (initdb, pg_ctl): "
                          "install them with `apt-get install postgresql`")
    return Path(initdb).parent


class Server:
    def __init__(self, folder: Path):
        self.folder = folder  # holds the data directory, the log and the socket

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@/{database}?host={self.folder}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template``; returns its SQLAlchemy URL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"' +
                                  (f' TEMPLATE "{template}"' if template else "")))
        finally:
            engine.dispose()
        return self.url(name)


@contextlib.contextmanager
def server():
    """Start a throwaway server; yields a ``Server``.  Raises ``Unavailable``."""
    bin_ = bindir()
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root, and there is no `postgres` user to run the "
                              "server as (PostgreSQL refuses root)") from None
        as_user = ["runuser", "-u", "postgres", "--"]
    # short: a unix socket's path has at most 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="cnn-pg-"))
    data, log = folder / "data", folder / "server.log"
    if owner:
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(*cmd: str) -> None:
        proc = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
        if proc.returncode:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}{tail}")

    started = False
    try:
        run(str(bin_ / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:  # a test server: speed, no TCP
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{folder}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        run(str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start")
        started = True
        yield Server(folder)
    finally:
        try:
            if started:
                run(str(bin_ / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "stop",
                    "-m", "fast")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
