"""One delivery: sign an event per the Standard Webhooks specification and POST it to the
address checked just before (the connection goes to that address, not to a new lookup)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from cloudnexus.events.addresses import AddressRefused, check_url, resolve

MAX_RESPONSE_BYTES = 64 * 1024
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.error is None and self.status_code is not None and \
            200 <= self.status_code < 300


def signature(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>` for each secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(base64.b64decode(secret.removeprefix("whsec_")),
                                          signed, hashlib.sha256).digest()).decode()
        for secret in secrets)


def send(url: str, *, msg_id: str, body: bytes, secrets: list[str], timeout: float,
         allow_http: bool, allow_private: bool) -> Outcome:
    """POST the body once; a 2xx within `timeout` is delivered, anything else is not."""
    started = time.monotonic()
    status_code, error = None, None
    try:
        host, port = check_url(url, allow_http=allow_http)
        address = resolve(host, port, allow_private=allow_private)[0]
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(timestamp),
                   "webhook-signature": signature(secrets, msg_id, timestamp, body),
                   "user-agent": "CloudNexus-Webhooks"}
        status_code = _post(url, address, headers, body, timeout=timeout, started=started)
    except AddressRefused as refused:
        error = f"refused: the URL {refused}"
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except (httpx.HTTPError, OSError) as failed:
        error = f"{type(failed).__name__}: {failed}"[:MAX_ERROR_CHARS]
    duration_ms = int((time.monotonic() - started) * 1000)
    if error is None and status_code is not None and not 200 <= status_code < 300:
        error = f"answered {status_code}"
    return Outcome(status_code=status_code, error=error, duration_ms=duration_ms)


def _post(url: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address,
          headers: dict[str, str], body: bytes, *, timeout: float, started: float) -> int:
    """POST to `address`, with the URL's host in the Host header and as TLS's server name
    (so its certificate is checked against the name); redirects are answers, not followed;
    at most MAX_RESPONSE_BYTES of the response are read, within `timeout` in all."""
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    # trust_env off: a proxy from the environment would make its own lookup of the host.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client, \
            client.stream("POST", pinned, content=body, headers={**headers, "host": host_header},
                          extensions=extensions) as response:
        read = 0
        for chunk in response.iter_raw():
            read += len(chunk)
            if read >= MAX_RESPONSE_BYTES or time.monotonic() - started > timeout:
                break
        if time.monotonic() - started > timeout:
            raise httpx.ReadTimeout("the answer took too long")
        return response.status_code
