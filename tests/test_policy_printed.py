"""The echo and printf models against the real bash and dash: a script printed into a shell is
judged as the text those shells really write."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from mgexec.policy.printed import printed_texts

CASES = [
    ["printf", "a\\cb%s", "x"], ["printf", "%b|", "x\\cy", "z"], ["printf", "%s-%s\\n", "a", "b", "c"],
    ["printf", "%d,%c,%x\\n", "12", "hello", "255"], ["printf", "%d\\n", "'a"],
    ["printf", "x\\n", "a", "b"], ["printf", "%5s|%-3s|%.2s\\n", "a", "b", "cdef"],
    ["printf", "\\101\\x41\\u0041\\0101|%b\\n", "\\0101\\101"], ["printf", "%%%s"],
    ["printf", "%*s|\\n", "4", "a"], ["printf", "%i %o %u\\n", "8", "8", "8"],
    ["printf", "--", "%s\\n", "a"], ["printf", "%s\\n"], ["printf", "%b", "\\e\\x41\\u0041"],
    ["printf", "\\x72m -rf /"], ["printf", "%s %s %s\\n", "rm", "-rf", "/"],
    ["printf", "%c%c -rf /", "rat", "mouse"], ["printf", "\\162\\155 -rf /"],
    ["printf", "%b", "rm\\040-rf /"], ["printf", "%s\\n", "rm -rf /", "ls"], ["printf", "r%sm", ""],
    ["printf", "%.1s%.1s", "rx", "my"], ["printf", "%d%s", "1", "a", "2"],
    ["printf", "%x %X %o\\n", "0x1f", "255", "010"], ["printf", "%q|%q", "x;y", "$(rm -rf /)"],
    ["printf", "%s", "a\\tb"], ["printf", "a\\tb\\'\\\"\\?"], ["printf", "%-4c|%3b|", "x", "y"],
    ["echo", "-e", "\\101|\\0101|\\x41|\\e|\\a|\\q|a\\cb", "x"], ["echo", "\\0101|\\101|\\x41|a\\cb", "x"],
    ["echo", "-n", "-e", "x"], ["echo", "-en", "x\\ty"], ["echo", "-ne", "-E", "x\\ty"],
    ["echo", "--", "-e", "x"], ["echo", "-e"], ["echo", "-x", "a\\tb"], ["echo", "rm\\x20-rf", "/"],
    ["echo", "-e", "rm\\x20-rf /"], ["echo", "r\\155 -rf /"], ["echo", "-n", "rm -rf /"],
    ["echo", "a\\nb", "c\\\\d"],
]


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize("words", CASES, ids=shlex.join)
def test_printers_write_what_the_shell_writes(shell: str, words: list[str]) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    if shell == "dash" and "%q" in words[1]:
        pytest.skip("dash's printf has no %q")
    real = subprocess.run([shell, "-c", shlex.join(words)], capture_output=True, check=False,
                          timeout=10).stdout.decode("latin-1")
    assert printed_texts(tuple(words), (shell,)) == (real,)


def test_a_sh_payload_is_read_as_each_shell_writes_it() -> None:
    texts = printed_texts(("echo", "rm\\0040-rf /"), ("bash", "dash"))
    assert texts == ("rm\\0040-rf /\n", "rm -rf /\n")
    assert printed_texts(("printf", "-v", "x", "%s", "y"), ("bash",)) == ()
    assert printed_texts(("ls", "x")) == ()
