"""srt mode's domain patterns: `config check` (SandboxSettings) and the proxy (DomainRules) accept the same ones."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgexec.config.sandbox import SandboxSettings
from mgexec.errors import ConfigError
from mgexec.sandbox.hostrules import DomainRules

# (entry, list, accepted, words of the refusal)
TABLE = [
    ("pypi.org", "allowed", True, ""),
    ("PyPI.org.", "allowed", True, ""),
    ("*.example.com", "allowed", True, ""),
    ("pypi.org:443", "allowed", True, ""),
    ("*.example.com:8443", "denied", True, ""),
    ("*", "denied", True, ""),
    ("*:25", "denied", True, ""),
    ("[::1]", "allowed", True, ""),
    ("[2001:db8::1]:443", "denied", True, ""),
    ("my_host.internal", "allowed", True, ""),
    ("10.0.0.1", "allowed", True, ""),
    ("bücher.example", "allowed", True, ""),
    ("*", "allowed", False, "a bare '*' would allow every host"),
    ("*.com", "allowed", False, "at least two labels"),
    ("*.com", "denied", False, "at least two labels"),
    ("*.10.0.0.1", "allowed", False, "at least two labels"),
    ("::1", "allowed", False, "without brackets"),
    ("[::1", "allowed", False, "does not close"),
    ("pypi.org:0", "allowed", False, "port between 1 and 65535"),
    ("pypi.org:http", "allowed", False, "port between 1 and 65535"),
    ("a b.example", "allowed", False, "not a valid host name"),
    ("", "allowed", False, "empty"),
    ("-lead.example", "allowed", False, "not a valid host name"),
    ("x" * 254, "allowed", False, "not a valid host name"),
    (".".join(["a" * 60] * 4 + ["a" * 10]), "allowed", False, "not a valid host name"),  # 254 characters
]


def settings_verdict(entry: str, which: str) -> str:
    try:
        SandboxSettings(**{f"{which}_domains": [entry]})
    except ValidationError as exc:
        return str(exc)
    return ""


def proxy_verdict(entry: str, which: str) -> str:
    try:
        DomainRules([entry] if which == "allowed" else [], [entry] if which == "denied" else [])
    except ConfigError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize("entry,which,accepted,why", TABLE, ids=[f"{w}:{e[:20]!r}" for e, w, _, _ in TABLE])
def test_config_and_proxy_accept_the_same_patterns(entry, which, accepted, why):
    by_config, by_proxy = settings_verdict(entry, which), proxy_verdict(entry, which)
    assert (by_config == "", by_proxy == "") == (accepted, accepted), (by_config, by_proxy)
    if not accepted:
        key = f"command_line_srt_network_{which}_domains"
        assert why in by_config and why in by_proxy and key in by_config


def test_a_non_list_is_refused_clearly():
    with pytest.raises(ValidationError, match="expected a list of domain patterns"):
        SandboxSettings(allowed_domains={"pypi.org": 1})
