"""srt-mode proxy rules as tables: canonical hosts, domain patterns, verdicts, request parsing, address checks."""

from __future__ import annotations

import pytest

from mgexec.errors import ConfigError
from mgexec.config.hosts import ALLOWED_KEY, DENIED_KEY, BadHost, canonical_host, parse_pattern
from mgexec.sandbox.hostrules import DomainRules
from mgexec.sandbox.httpwire import BadRequest, parse_head
from mgexec.sandbox.upstream import refusal


@pytest.mark.parametrize("raw, canonical", [
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("ｅｘａｍｐｌｅ.com", "example.com"),  # fullwidth letters: IDNA maps them to ASCII
    ("bücher.example", "xn--bcher-kva.example"),
    ("127.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("[0:0:0:0:0:0:0:1]", "::1"),
    ("[::ffff:127.0.0.1]", "127.0.0.1"),
    ("[::ffff:7f00:1]", "127.0.0.1"),
    ("_dmarc.example.com", "_dmarc.example.com"),
    ("localhost", "localhost"),
])
def test_canonical_host(raw, canonical):
    assert canonical_host(raw) == canonical


@pytest.mark.parametrize("raw", [
    "", "example.com..", "a..b", "evil.com\x00.allowed.com", "evil.com .allowed.com", "ex ample.com",
    "1.2.3.999", "1.2.3.4.5", "0x", "::1", "[::1", "[fe80::1%eth0]", "[not-v6]", "exa*mple.com",
    "-leading.example", "a" * 64 + ".com", "evil.com/x", "evil.com:80", "%65xample.com",
])
def test_bad_hosts_are_refused(raw):
    with pytest.raises(BadHost):
        canonical_host(raw)


RULES = DomainRules(["allowed.test", "*.wild.test", "127.0.0.1", "[::1]", "ports.test:8443"],
                    ["bad.wild.test", "*.deep.bad.wild.test"])


@pytest.mark.parametrize("host, port, allowed", [
    ("allowed.test", 443, True),
    ("sub.allowed.test", 443, False),  # an exact entry covers only itself
    ("xallowed.test", 443, False),
    ("allowed.test.evil.com", 443, False),
    ("a.wild.test", 80, True),
    ("a.b.wild.test", 80, True),
    ("wild.test", 80, False),  # `*.x` is strict subdomains only, as in sandbox-runtime
    ("xwild.test", 80, False),
    ("bad.wild.test", 80, False),  # denied wins over the wildcard allow
    ("x.deep.bad.wild.test", 80, False),
    ("ok.bad2.wild.test", 80, True),
    ("127.0.0.1", 8080, True),
    ("127.0.0.2", 8080, False),
    ("::1", 22, True),
    ("ports.test", 8443, True),
    ("ports.test", 443, False),
])
def test_verdicts(host, port, allowed):
    assert RULES.judge(host, port).allowed is allowed


def test_refusals_name_the_host_and_the_key():
    reason = RULES.judge("evil.test", 443).reason
    assert "evil.test:443" in reason and ALLOWED_KEY in reason
    reason = RULES.judge("bad.wild.test", 443).reason
    assert "'bad.wild.test'" in reason and DENIED_KEY in reason


def test_bare_star_denies_everything_and_is_refused_as_an_allow():
    rules = DomainRules(["allowed.test"], ["*"])
    assert not rules.judge("allowed.test", 443).allowed
    with pytest.raises(ConfigError, match=ALLOWED_KEY):
        DomainRules(["*"], [])


@pytest.mark.parametrize("entry", ["*.com", "*", "*.", "http://x.com", "x.com/path", "x.com:0", "x.com:99999",
                                   "*.127.0.0.1", "a*.example.com", "ex ample.com", 42])
def test_bad_patterns_are_config_errors(entry):
    with pytest.raises(ConfigError, match="not a domain pattern"):
        parse_pattern(entry, ALLOWED_KEY)


def _head(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8") + b"\r\n"


@pytest.mark.parametrize("head, host, port, path", [
    ("CONNECT allowed.test:443 HTTP/1.1\nHost: allowed.test:443\n", "allowed.test", 443, ""),
    ("CONNECT [::1]:22 HTTP/1.1\n", "::1", 22, ""),
    ("GET http://Allowed.Test./a?b#frag HTTP/1.1\nHost: evil.test\n", "allowed.test", 80, "/a?b"),
    ("GET http://allowed.test:8080 HTTP/1.0\n", "allowed.test", 8080, "/"),
    ("POST HTTP://127.1:81?q HTTP/1.1\n", "127.0.0.1", 81, "/?q"),
])
def test_parse_head(head, host, port, path):
    request = parse_head(_head(head))
    assert (request.host, request.port, request.path) == (host, port, path)


@pytest.mark.parametrize("head, why", [
    ("GET /relative HTTP/1.1\nHost: allowed.test\n", "absolute"),
    ("GET https://allowed.test/ HTTP/1.1\n", "CONNECT"),
    ("GET ftp://allowed.test/ HTTP/1.1\n", "absolute"),
    ("CONNECT allowed.test HTTP/1.1\n", "no port"),
    ("CONNECT allowed.test:0 HTTP/1.1\n", "invalid port"),
    ("CONNECT allowed.test:65536 HTTP/1.1\n", "invalid port"),
    ("CONNECT allowed.test:44３ HTTP/1.1\n", "invalid port"),
    ("CONNECT evil.test@allowed.test:443 HTTP/1.1\n", "user information"),
    ("GET http://allowed.test@evil.test/ HTTP/1.1\n", "user information"),
    ("GET http://evil.test\\@allowed.test/ HTTP/1.1\n", "user information"),
    ("GET http://evil.test\\.allowed.test/ HTTP/1.1\n", "'\\\\'"),
    ("GET http://%61llowed.test/ HTTP/1.1\n", "'%'"),
    ("GET http://[::1/ HTTP/1.1\n", "port"),
    ("GET  http://allowed.test/ HTTP/1.1\n", "METHOD TARGET"),
    ("GET http://allowed.test/ HTTP/2\n", "METHOD TARGET"),
    ("GET http://allowed.test/ HTTP/1.1\nX: a\n folded\n", "folded"),
    ("GET http://allowed.test/ HTTP/1.1\nBad Name: a\n", "malformed"),
    ("GET http://allowed.test/ HTTP/1.1\n" + "X: y\n" * 101, "more than 100"),
])
def test_malformed_requests_say_why(head, why):
    with pytest.raises(BadRequest, match=why):
        parse_head(_head(head))


@pytest.mark.parametrize("headers", [
    "Content-Length: 3\nTransfer-Encoding: chunked\n",
    "Transfer-Encoding: gzip, chunked\n",
    "Transfer-Encoding: chunked\nTransfer-Encoding: chunked\n",
    "Content-Length: 3\nContent-Length: 4\n",
    "Content-Length: -1\n",
    "Content-Length: 0x3\n",
])
def test_ambiguous_bodies_are_refused(headers):
    request = parse_head(_head("POST http://allowed.test/ HTTP/1.1\n" + headers))
    with pytest.raises(BadRequest):
        request.body_framing()


def test_forwarded_head_takes_host_from_the_uri_and_drops_the_hop_headers():
    request = parse_head(_head("GET http://allowed.test:8080/x HTTP/1.1\nHost: evil.test\n"
                               "Proxy-Authorization: Basic c2VjcmV0\nConnection: keep-alive, X-Drop\n"
                               "X-Drop: 1\nX-Keep: 2\n"))
    head = request.upstream_head().decode()
    assert head.startswith("GET /x HTTP/1.1\r\nHost: allowed.test:8080\r\n")
    assert "evil.test" not in head and "Proxy-Authorization" not in head and "X-Drop" not in head
    assert "X-Keep: 2\r\n" in head and head.endswith("Connection: close\r\n\r\n")


@pytest.mark.parametrize("host, address, why", [
    ("allowed.test", "93.184.216.34", None),
    ("allowed.test", "127.0.0.1", "a loopback address"),
    ("allowed.test", "::ffff:127.0.0.1", "a loopback address"),
    ("allowed.test", "169.254.169.254", "a link-local address"),
    ("allowed.test", "0.0.0.0", "an unspecified address"),
    ("allowed.test", "fd00:ec2::254", "a cloud metadata address"),
    ("localhost", "127.0.0.1", None),
    ("localhost", "93.184.216.34", "an address that is not loopback"),
    ("allowed.test", "10.1.2.3", None),  # intranets are a legitimate grant, as in sandbox-runtime
])
def test_addresses_an_allowed_name_may_lead_to(host, address, why):
    rules = DomainRules([host], [])
    assert refusal(host, address, 443, rules) == why


def test_an_allowed_literal_may_be_reached_by_name_and_a_denied_one_never():
    rules = DomainRules(["allowed.test", "127.0.0.1", "*.wild.test"], ["10.9.8.7", "[::ffff:10.1.1.1]:443"])
    assert refusal("allowed.test", "127.0.0.1", 443, rules) is None
    assert refusal("allowed.test", "10.9.8.7", 443, rules) == "a deny-listed address"
    assert refusal("a.wild.test", "::ffff:10.9.8.7", 80, rules) == "a deny-listed address"
    assert refusal("a.wild.test", "10.1.1.1", 443, rules) == "a deny-listed address"
    assert refusal("a.wild.test", "10.1.1.1", 80, rules) is None
