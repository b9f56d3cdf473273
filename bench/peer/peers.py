"""The peer: where it listens, the key it takes, what it is, which process holds its memory."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

TOKEN_SECONDS = 4 * 3600  # longer than any run
PEER_NAME = "Supabase Storage"


class Skip(Exception):
    """The side-by-side run cannot happen on this machine; the message says why."""


class PeerRefused(Exception):
    """A peer answers but refuses the run's key: a setting to mend, not a reason to skip."""


@dataclass(frozen=True)
class Peer:
    url: str
    token: str
    version: str
    commit: str
    pid: int | None  # None: its memory is not measured (the reason is in `memory_note`)
    memory_note: str = ""

    def describe(self) -> dict[str, str]:
        return {"name": PEER_NAME, "version": self.version, "commit": self.commit,
                "url": self.url}


def service_token(secret: str, now: float | None = None) -> str:
    """A service-role JWT as Supabase's own service key is: HS256 over its AUTH_JWT_SECRET."""
    import jwt

    issued = int(time.time() if now is None else now)
    claims = {"role": "service_role", "iss": "supabase", "iat": issued,
              "exp": issued + TOKEN_SECONDS}
    return jwt.encode(claims, secret, algorithm="HS256")


def find_peer(environ: Mapping[str, str]) -> Peer:
    """The peer the environment names, once it answered; Skip when there is none to measure."""
    url = environ.get("PEER_URL", "").rstrip("/")
    if not url:
        raise Skip("PEER_URL is not set (start Supabase Storage as bench/peer/__init__.py "
                   "says, then set PEER_URL and PEER_JWT_SECRET)")
    token = environ.get("PEER_SERVICE_KEY") or ""
    if not token and environ.get("PEER_JWT_SECRET"):
        token = service_token(environ["PEER_JWT_SECRET"])
    if not token:
        raise Skip("neither PEER_SERVICE_KEY nor PEER_JWT_SECRET is set")
    try:
        answer = httpx.get(f"{url}/version", timeout=5)
        buckets = httpx.get(f"{url}/bucket", timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as error:
        raise Skip(f"nothing answers at {url} ({type(error).__name__}: {error})") from None
    if buckets.status_code != 200:
        raise PeerRefused(f"{url}/bucket answered {buckets.status_code} to the service key: "
                          f"{buckets.text[:200]} (is PEER_JWT_SECRET its AUTH_JWT_SECRET?)")
    version = environ.get("PEER_VERSION") or (
        answer.text.strip() if answer.status_code == 200 else "unknown")
    pid, note = _peer_process(environ, url)
    return Peer(url=url, token=token, version=version,
                commit=environ.get("PEER_COMMIT", "unknown"), pid=pid, memory_note=note)


def _peer_process(environ: Mapping[str, str], url: str) -> tuple[int | None, str]:
    if environ.get("PEER_PID"):
        return int(environ["PEER_PID"]), ""
    port = urlsplit(url).port or 80
    pids = listening_pids(port)
    if len(pids) == 1:
        return pids[0], ""
    return None, (f"{len(pids)} processes of ours listen on port {port}; set PEER_PID"
                  if pids else f"no process of this user listens on port {port}; set PEER_PID")


def listening_pids(port: int, proc: Path = Path("/proc")) -> list[int]:
    """The processes holding a socket that listens on `port` (TCP, IPv4 or IPv6), from /proc."""
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        path = proc / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{inode}]")
    return sorted(int(entry.name) for entry in proc.iterdir()
                  if entry.name.isdigit() and _links(entry / "fd") & inodes)


def _links(folder: Path) -> set[str]:
    """What a process's descriptors point at; those closed while read (or not ours) left out."""
    links = set()
    try:
        for descriptor in folder.iterdir():
            try:
                links.add(descriptor.readlink().as_posix())
            except OSError:
                continue
    except OSError:  # another user's process, or gone
        pass
    return links


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (`VmRSS`) or its high-water mark (`VmHWM`), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")
