"""Which hosts the srt-mode proxy lets through: the allow and deny lists (parsed by mgexec.config.hosts) judged."""

from __future__ import annotations

from dataclasses import dataclass

from mgexec.config.hosts import ALLOWED_KEY, DENIED_KEY, parse_pattern


@dataclass(frozen=True)
class Verdict:
    """The proxy's decision for one destination, with the paragraph a refused client reads."""

    allowed: bool
    reason: str = ""


class DomainRules:
    """The allow and deny lists of one sandbox; a deny entry wins over every allow entry."""

    def __init__(self, allowed: list[str] | tuple[str, ...], denied: list[str] | tuple[str, ...]) -> None:
        self.allowed = tuple(parse_pattern(text, ALLOWED_KEY) for text in allowed)
        self.denied = tuple(parse_pattern(text, DENIED_KEY) for text in denied)

    def judge(self, host: str, port: int) -> Verdict:
        """`host` must be canonical (see `canonical_host`)."""
        for pattern in self.denied:
            if pattern.matches(host, port):
                return Verdict(False, f"{host}:{port} matches {pattern.text!r} in {DENIED_KEY}, which wins "
                                      f"over {ALLOWED_KEY}. Remove that entry to let commands reach it.")
        if any(pattern.matches(host, port) for pattern in self.allowed):
            return Verdict(True)
        return Verdict(False, f"{host}:{port} is not in {ALLOWED_KEY}. To let sandboxed commands reach it, "
                              f"add {host!r} to {ALLOWED_KEY} in the mgexec config.")

    def denies_literal(self, address: str, port: int) -> bool:
        """True when an IP address is denied as a literal entry (then no name may lead to it either)."""
        return any(not p.wildcard and p.host == address and p.matches(address, port) for p in self.denied)

    def allows_literal(self, address: str, port: int) -> bool:
        """True when an IP address is itself allowed as a literal entry (a name may then resolve to it)."""
        return any(not p.wildcard and p.host == address and p.matches(address, port) for p in self.allowed)
