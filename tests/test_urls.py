"""URL normalisation and the address policy, checked as pure functions with an injected resolver."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knowledge_agg.errors import FetchError
from knowledge_agg.urls import check_url, domain_of, http_base, is_exempt, is_public_ip, normalize_url


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.Example.com/path/", "http://example.com/path"),
        ("HTTP://EXAMPLE.com:80/a#section", "http://example.com/a"),
        ("https://example.com:443/a?b=2&a=1", "http://example.com/a?b=2&a=1"),
        ("https://example.com/a?a=1&b=2", "https://example.com/a?b=2&a=1&utm_source=x&utm_medium=y"),
        ("https://example.com/a?gclid=1&fbclid=2&ref=hn", "https://example.com/a"),
        ("example.com/a", "https://example.com/a/"),
        ("https://example.com/caf%C3%A9", "https://example.com/café"),
    ],
)
def test_same_page_under_different_urls_normalises_equal(a: str, b: str) -> None:
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com:8080/a", "https://example.com/a"),
        ("https://docs.example.com/a", "https://example.com/a"),
    ],
)
def test_different_pages_stay_different(a: str, b: str) -> None:
    assert normalize_url(a) != normalize_url(b)


@pytest.mark.parametrize("bad", ["", "   ", "http://", "http://example.com:99999/", "https://[::1/"])
def test_unusable_url_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(bad)


@given(st.text())
def test_normalize_never_fails_otherwise_on_arbitrary_text(text: str) -> None:
    try:
        result = normalize_url(text)
    except ValueError:
        return
    assert isinstance(result, str)
    assert normalize_url(result) == result


@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"(www\.)?[a-z][a-z0-9-]{0,10}\.(com|org|de)", fullmatch=True),
    st.lists(st.from_regex(r"[a-zA-Z0-9_.~%-]{0,8}", fullmatch=True), max_size=4),
    st.dictionaries(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), st.text(max_size=5), max_size=4),
)
def test_normalize_is_idempotent_on_urls(scheme: str, host: str, path: list[str], query: dict[str, str]) -> None:
    from urllib.parse import urlencode

    url = f"{scheme}://{host}/{'/'.join(path)}?{urlencode(query)}#frag"
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "#" not in once and "utm_" not in once and "www." not in once.split("/")[2]


def test_domain_of() -> None:
    assert domain_of("https://www.Example.COM/x") == "example.com"
    assert domain_of("https://docs.python.org/3/") == "docs.python.org"
    assert domain_of("not a url") == ""


REFUSED = [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.0.170", "192.0.2.1", "198.51.100.7",
    "203.0.113.9", "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    "::127.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::", "2001:db8::1", "not-an-ip", "",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize("ip", REFUSED)
def test_non_public_addresses_are_refused(ip: str) -> None:
    assert not is_public_ip(ip)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert is_public_ip(ip)


class FakeDNS:
    """A resolver over a fixed table; records every name it is asked for and never touches the network."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return self.table[host]


DNS = FakeDNS({
    "public.example": ["93.184.216.34"],
    "v6.example": ["2606:4700:4700::1111", "93.184.216.34"],
    "metadata.example": ["169.254.169.254"],
    "rebind.example": ["93.184.216.34", "10.0.0.5"],
    "internal.corp": ["192.168.0.10"],
    "localhost": ["127.0.0.1", "::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "nothing.example": [],
})


@pytest.mark.parametrize("url", [
    "http://public.example/", "https://v6.example:8443/a?b=c", "https://93.184.216.34/x", "http://[2606:4700::1]/",
])
async def test_check_url_allows_public_hosts(url: str) -> None:
    await check_url(url, allow_private=False, resolver=DNS)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8001/", "http://localhost/", "http://LOCALHOST./", "http://[::1]/", "http://169.254.169.254/latest/",
    "http://metadata.example/", "http://rebind.example/", "http://internal.corp/", "http://mapped.example/",
    "http://[::ffff:169.254.169.254]/", "http://0.0.0.0/", "http://[fe80::1%25eth0]/", "ftp://public.example/",
    "file:///etc/passwd", "gopher://public.example/", "javascript:alert(1)", "http:///nohost", "http://a:bad/",
])
async def test_check_url_refuses_internal_targets_and_other_schemes(url: str) -> None:
    with pytest.raises(FetchError) as info:
        await check_url(url, allow_private=False, resolver=DNS)
    assert info.value.kind == "refused_address"
    assert info.value.url == url


async def test_unresolvable_and_empty_names_are_connection_errors() -> None:
    for url in ("http://unknown.example/", "http://nothing.example/"):
        with pytest.raises(FetchError) as info:
            await check_url(url, allow_private=False, resolver=DNS)
        assert info.value.kind == "connection"


async def test_allow_private_skips_the_address_check_but_not_the_scheme() -> None:
    dns = FakeDNS({})
    await check_url("http://127.0.0.1:9/", allow_private=True, resolver=dns)
    await check_url("http://internal.corp/", allow_private=True, resolver=dns)
    assert dns.asked == []
    with pytest.raises(FetchError):
        await check_url("file:///etc/passwd", allow_private=True, resolver=dns)


async def test_refusal_message_says_how_to_allow() -> None:
    with pytest.raises(FetchError, match="KNOWLEDGE_AGG_ALLOW_PRIVATE_HOSTS"):
        await check_url("http://10.1.2.3/", allow_private=False, resolver=DNS)


def test_allow_list_matches_host_or_host_and_port() -> None:
    assert is_exempt("127.0.0.1", 8001, ["127.0.0.1:8001"])
    assert not is_exempt("127.0.0.1", 8002, ["127.0.0.1:8001"])
    assert is_exempt("LocalHost", 5, ["localhost"])
    assert is_exempt("::1", 8001, ["[::1]:8001"])
    assert not is_exempt("evil.example", 80, [])


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", 8001, "http://127.0.0.1:8001"), ("::1", 80, "http://[::1]:80"), ("localhost", 0, "http://localhost:0"),
])
def test_http_base_brackets_ipv6_hosts(host: str, port: int, url: str) -> None:
    assert http_base(host, port) == url
