"""Where a webhook may point: https, and a host that resolves to public addresses only.

Checked when the webhook is saved, and again at each delivery against the addresses the
connection will use (resolved once, then connected to by address: delivery.py), so a DNS
answer that changes between the check and the connection reaches no internal service."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """The URL or an address it resolves to is not allowed; the message says why."""


def check_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """The host and port of an allowed URL (https, or http when allowed)."""
    parts = urlsplit(url)
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed:
        raise AddressRefused("must be an https URL" if not allow_http
                             else "must be an http or https URL")
    if not parts.hostname:
        raise AddressRefused("has no host")
    if parts.username or parts.password:
        raise AddressRefused("must not carry a user or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("has an invalid port") from None
    return parts.hostname, port


def refusal(address: IPAddress) -> str | None:
    """Why a delivery may not connect to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global is false for loopback, RFC 1918, link-local (the 169.254.169.254 metadata
    # service), carrier-grade NAT 100.64/10, unique-local fc00::/7, unspecified, reserved
    # and documentation ranges; multicast ranges can be global, so they are named too.
    if address.is_multicast or not address.is_global:
        return f"resolves to {address}, an internal address"
    return None


def resolve(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Every address the host resolves to, each checked; refused if any is internal."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"host '{host}' does not resolve") from None
    addresses = list(dict.fromkeys(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise AddressRefused(reason)
    return addresses
