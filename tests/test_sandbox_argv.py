"""The bwrap argv builder: tables of SandboxSpec -> mounts, nothing mocked, no bwrap run."""

from __future__ import annotations

import pytest

from mgexec.sandbox.argv import ISOLATION, SandboxSpec, build_bwrap_argv, visible

HOME = "/home/u"
KINDS = {"/": "dir", "/home/u": "dir", "/home/u/.ssh": "dir", "/home/u/.netrc": "file", "/etc/shadow": "file",
         "/work/ws": "dir", "/work/ws/.git": "dir", "/work/ctx": "dir", "/home/u/proj": "dir", "/run": "dir",
         "/usr": "dir", "/bin": "link:usr/bin", "/etc": "dir", "/home/u/.ssh/known_hosts": "file",
         "/run/app.sock": "file", "/work/ws/secret": "dir"}
SECRETS = ("/home/u/.ssh", "/home/u/.netrc", "/etc/shadow", "/home/u/.aws")  # .aws: absent on this host


def spec(mode="confined", **kw) -> SandboxSpec:
    base = dict(read_mode=mode, home=HOME, writable=("/work/ws",), hidden=SECRETS, kinds=KINDS,
                baseline=("/usr", "/bin", "/lib", "/etc"))
    return SandboxSpec(**{**base, **kw})


def ops(argv: list[str]) -> list[tuple[str, ...]]:
    """The mount operations in order, each with its operands."""
    arity = {"--ro-bind": 2, "--bind": 2, "--symlink": 2, "--tmpfs": 1, "--remount-ro": 1, "--proc": 1,
             "--dev": 1, "--chdir": 1}
    out, i = [], 0
    while argv[i] != "--":
        n = arity.get(argv[i])
        if n is None:
            i += 1
            continue
        out.append(tuple(argv[i:i + n + 1]))
        i += n + 1
    return out


def test_isolation_flags_and_command_come_first_and_last():
    argv = build_bwrap_argv(spec(), ["bash", "-c", "echo hi"], bwrap="/usr/bin/bwrap")
    assert argv[:1 + len(ISOLATION)] == ["/usr/bin/bwrap", *ISOLATION]
    assert argv[-4:] == ["--", "bash", "-c", "echo hi"]
    for flag in ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert ("--proc", "/proc") in ops(argv) and ("--dev", "/dev") in ops(argv)


@pytest.mark.parametrize("mode,expected", [
    ("confined", [("--ro-bind", "/", "/"), ("--proc", "/proc"), ("--dev", "/dev"), ("--tmpfs", "/tmp"),
                  ("--tmpfs", "/run"), ("--tmpfs", HOME), ("--bind", "/work/ws", "/work/ws"),
                  ("--ro-bind", "/dev/null", "/etc/shadow"), ("--remount-ro", "/run"), ("--remount-ro", HOME)]),
    ("open", [("--ro-bind", "/", "/"), ("--proc", "/proc"), ("--dev", "/dev"), ("--tmpfs", "/tmp"),
              ("--tmpfs", "/run"), ("--bind", "/work/ws", "/work/ws"), ("--ro-bind", "/dev/null", "/etc/shadow"),
              ("--tmpfs", "/home/u/.ssh"), ("--ro-bind", "/dev/null", "/home/u/.netrc"),
              ("--remount-ro", "/run"), ("--remount-ro", "/home/u/.ssh")]),
    ("strict", [("--ro-bind", "/usr", "/usr"), ("--symlink", "usr/bin", "/bin"), ("--ro-bind", "/etc", "/etc"),
                ("--proc", "/proc"), ("--dev", "/dev"), ("--tmpfs", "/tmp"), ("--tmpfs", "/run"), ("--tmpfs", HOME),
                ("--bind", "/work/ws", "/work/ws"), ("--ro-bind", "/dev/null", "/etc/shadow"),
                ("--remount-ro", "/run"), ("--remount-ro", HOME)]),
])
def test_read_modes(mode, expected):
    assert ops(build_bwrap_argv(spec(mode), ["true"])) == expected


def test_agent_paths_bind_shallow_to_deep_and_deny_write_wins():
    argv = build_bwrap_argv(spec("confined", readable=("/work/ctx", "/home/u/proj"),
                                 deny_write=("/work/ws/.git",)), ["true"])
    binds = [op for op in ops(argv) if op[0] in ("--bind", "--ro-bind") and op[1] != "/dev/null"][1:]
    assert binds == [("--ro-bind", "/work/ctx", "/work/ctx"), ("--bind", "/work/ws", "/work/ws"),
                     ("--ro-bind", "/home/u/proj", "/home/u/proj"), ("--ro-bind", "/work/ws/.git", "/work/ws/.git")]


def test_read_only_has_no_writable_bind():
    argv = build_bwrap_argv(spec("open", writable=(), readable=("/work/ws",)), ["true"])
    assert not [op for op in ops(argv) if op[0] == "--bind"]
    assert ("--ro-bind", "/work/ws", "/work/ws") in ops(argv)


def test_secrets_inside_a_revealed_path_are_masked_after_it():
    argv = build_bwrap_argv(spec("confined", readable=(HOME,)), ["true"])
    order = ops(argv)
    assert order.index(("--ro-bind", HOME, HOME)) < order.index(("--tmpfs", "/home/u/.ssh"))
    assert ("--ro-bind", "/dev/null", "/home/u/.netrc") in order


def test_deny_read_in_the_workspace_is_an_empty_read_only_dir():
    argv = build_bwrap_argv(spec("open", hidden=("/work/ws/secret",)), ["true"])
    order = ops(argv)
    assert order.index(("--bind", "/work/ws", "/work/ws")) < order.index(("--tmpfs", "/work/ws/secret"))
    assert ("--remount-ro", "/work/ws/secret") in order


def test_allow_read_re_allows_an_exact_secret_and_a_path_inside_one():
    exact = ops(build_bwrap_argv(spec("open", allow_read=("/home/u/.ssh",)), ["true"]))
    assert ("--tmpfs", "/home/u/.ssh") not in exact
    inside = ops(build_bwrap_argv(spec("open", allow_read=("/home/u/.ssh/known_hosts",)), ["true"]))
    assert inside.index(("--tmpfs", "/home/u/.ssh")) < inside.index(
        ("--ro-bind", "/home/u/.ssh/known_hosts", "/home/u/.ssh/known_hosts"))


def test_allow_read_below_a_writable_path_keeps_it_writable():
    order = ops(build_bwrap_argv(spec("open", allow_read=("/work/ws/secret",)), ["true"]))
    assert ("--ro-bind", "/work/ws/secret", "/work/ws/secret") not in order


def test_sockets_are_bound_and_absent_paths_skipped():
    order = ops(build_bwrap_argv(spec("confined", sockets=("/run/app.sock", "/run/gone.sock")), ["true"]))
    assert order.index(("--tmpfs", "/run")) < order.index(("--bind", "/run/app.sock", "/run/app.sock"))
    assert not [op for op in order if "/run/gone.sock" in op]
    assert not [op for op in order if "/home/u/.aws" in op]


def test_work_dir_becomes_chdir():
    argv = build_bwrap_argv(spec(work_dir="/work/ws"), ["true"])
    assert argv[argv.index("--") - 2:argv.index("--")] == ["--chdir", "/work/ws"]


@pytest.mark.parametrize("mode,path,seen", [
    ("confined", "/usr/bin/python3", True), ("confined", "/home/u/.pyenv/bin/python3", False),
    ("confined", "/tmp/x", False), ("strict", "/usr/bin/python3", True), ("strict", "/opt/py/bin/python3", False),
    ("strict", "/work/ws/.venv/bin/python", True), ("open", "/home/u/.pyenv/bin/python3", True),
])
def test_visible(mode, path, seen):
    assert visible(spec(mode), path) is seen


def test_a_workspace_that_is_home_stays_writable():
    order = ops(build_bwrap_argv(spec("confined", writable=(HOME,)), ["true"]))
    assert order.index(("--tmpfs", HOME)) < order.index(("--bind", HOME, HOME))
    assert ("--remount-ro", HOME) not in order and ("--tmpfs", "/home/u/.ssh") in order
