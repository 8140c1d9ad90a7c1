"""URL normalisation for dedup, and the address policy that keeps fetches off internal networks."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from .errors import FetchError

__all__ = [
    "Resolver", "normalize_url", "domain_of", "is_public_ip", "is_exempt", "check_url", "system_resolver", "http_base",
]

#: Resolves a host name to the IP addresses a connection could reach.
Resolver = Callable[[str], Awaitable[Sequence[str]]]

_TRACKING = frozenset(
    {"gclid", "fbclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid", "_ga", "spm"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEMES = frozenset({"http", "https"})
_BAD_HOST_CHARS = frozenset('<>"{}|\\^`%/?#@')
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REFUSED_V4 = tuple(
    ipaddress.ip_network(net)
    for net in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "255.255.255.255/32")
)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in _TRACKING


def http_base(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets (``http://[::1]:8001``)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def normalize_url(url: str) -> str:
    """The canonical form of ``url`` for dedup; raises ``ValueError`` when it is not a usable URL."""
    text = url.strip()
    if "://" not in text and not text.startswith("//"):
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in _WEB_SCHEMES:
        scheme = "http"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"not a URL with a host: {url!r}")
    if any(c.isspace() or c in _BAD_HOST_CHARS for c in host):
        raise ValueError(f"not a valid host name in {url!r}")
    if host.startswith("www."):
        host = host[4:]
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # raises ValueError for a malformed port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=~-._")
    path = path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def domain_of(url: str) -> str:
    """The lower-cased host of ``url`` without a leading ``www.``; empty when there is none."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def is_public_ip(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is a globally routable unicast address a fetch may connect to."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0] if isinstance(ip, str) else ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is None and int(addr) >> 32 == 0:  # deprecated IPv4-compatible ::a.b.c.d
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_ip(embedded)
    elif any(addr in net for net in _REFUSED_V4):
        return False
    refused = (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
        or addr.is_reserved or addr.is_unspecified or getattr(addr, "is_site_local", False)
    )
    return addr.is_global and not refused


def is_exempt(host: str, port: int | None, allowed: Iterable[str]) -> bool:
    """Whether ``host`` (or ``host:port``) is on the allow-list that bypasses the address policy."""
    host = host.lower().strip("[]").rstrip(".")
    names = {host, f"{host}:{port}", f"[{host}]:{port}"} if port is not None else {host}
    return any(entry.lower() in names for entry in allowed)


async def system_resolver(host: str) -> list[str]:
    """The addresses the operating system resolves ``host`` to (what the connection will use)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> None:
    """Raise ``FetchError(kind="refused_address")`` unless ``url`` is http(s) on a public address."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise FetchError(f"Not a valid URL: {exc}", url=url, kind="refused_address") from exc
    if parts.scheme.lower() not in _WEB_SCHEMES:
        raise FetchError(
            f"Only http and https URLs are fetched, not {parts.scheme or 'a URL without scheme'!r}.",
            url=url, kind="refused_address",
        )
    if not host:
        raise FetchError("The URL has no host name.", url=url, kind="refused_address")
    if allow_private:
        return
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        try:
            addresses = await (resolver or system_resolver)(host)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"Could not resolve {host!r}: {exc}", url=url, kind="connection") from exc
    if not addresses:
        raise FetchError(f"{host!r} resolves to no address.", url=url, kind="connection")
    refused = [a for a in addresses if not is_public_ip(a)]
    if refused:
        raise FetchError(
            f"Refused to fetch {host!r}: it resolves to the non-public address {refused[0]}. "
            "Set KNOWLEDGE_AGG_ALLOW_PRIVATE_HOSTS=true to read internal hosts on purpose.",
            url=url, kind="refused_address",
        )
