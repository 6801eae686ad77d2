"""srt mode's executor against real bwrap: what each read mode shows, hides and lets write; network; caps."""

from __future__ import annotations

import pytest

from mgexec.config import ExecConfig
from mgexec.config.models import ContextPath
from mgexec.config.sandbox import SandboxSettings
from mgexec.executors.sandbox import SandboxExecutor
from sandboxutil import SECRET, box  # noqa: F401  (fixture)

MODES = ("confined", "strict", "open")


def config(box, mode="confined", **settings) -> ExecConfig:
    contexts = settings.pop("context_paths", ())
    return ExecConfig(workspace=box.workspace, mode="srt", sandbox=SandboxSettings(read_mode=mode, **settings),
                      context_paths=contexts, timeout=20)


async def run(executor, command: str, **kw):
    result = await executor.execute(command, **kw)
    assert result.exit_code != -1, result.stderr  # ran: not refused by the guard rails
    return result


@pytest.fixture(params=[True, False], ids=["warm", "per-command"])
def warm(request):
    return request.param


@pytest.mark.parametrize("mode", MODES)
async def test_planted_secrets_are_unreadable_in_every_mode(box, mode, warm):
    async with SandboxExecutor(config(box, mode), warm=warm) as ex:
        assert ex.path_used.startswith("warm" if warm else "one bwrap")
        for secret in (".ssh/id_ed25519", ".aws/credentials", ".config/gh/hosts.yml", ".netrc", ".git-credentials"):
            result = await run(ex, f"cat {box.home / secret}; cat /etc/shadow")
            assert SECRET not in result.stdout and "root:" not in result.stdout, (secret, result)
        listing = await run(ex, f"ls -a {box.home / '.ssh'} {box.home / '.aws'}; grep -r {SECRET} {box.root} 2>&1")
        assert SECRET not in listing.stdout and "id_ed25519" not in listing.stdout


@pytest.mark.parametrize("mode,home_readable,outside_readable", [
    ("confined", False, True), ("strict", False, False), ("open", True, True)])
async def test_what_each_read_mode_shows(box, mode, home_readable, outside_readable):
    async with SandboxExecutor(config(box, mode)) as ex:
        home = await run(ex, f"cat {box.home / 'notes.txt'}")
        outside = await run(ex, f"cat {box.outside / 'data.txt'}")
        tools = await run(ex, "python3 -c 'print(6*7)'; git --version >/dev/null && echo git-ok")
    assert (home.stdout == "personal notes\n") is home_readable, home
    assert (outside.stdout == "outside data\n") is outside_readable, outside
    assert tools.stdout == "42\ngit-ok\n", tools


@pytest.mark.parametrize("mode", MODES)
async def test_writes_only_in_writable_paths(box, mode):
    async with SandboxExecutor(config(box, mode)) as ex:
        inside = await run(ex, "echo kept > made.txt && cat made.txt")
        assert inside.stdout == "kept\n" and (box.workspace / "made.txt").read_text() == "kept\n"
        for target in (box.canary / "new.txt", box.home / "new.txt", box.outside / "new.txt", "/usr/new.txt",
                       "/etc/new.txt", box.canary / "a.txt"):
            result = await run(ex, f"echo x >> {target}")
            assert result.exit_code != 0, (target, result)
            assert any(s in result.stderr for s in ("Read-only file system", "Permission denied",
                                                    "No such file or directory")), result.stderr
        assert not (box.canary / "new.txt").exists() and not (box.home / "new.txt").exists()
        assert not (box.outside / "new.txt").exists() and box.canary_intact()


async def test_read_only_makes_the_workspace_read_only_and_tmp_stays_private(box):
    async with SandboxExecutor(config(box, "confined", read_only=True)) as ex:
        result = await run(ex, "echo x > made.txt")
        assert result.exit_code != 0 and "Read-only file system" in result.stderr
        tmp = await run(ex, "echo t > /tmp/private-probe && cat /tmp/private-probe")
    assert tmp.stdout == "t\n" and not (box.workspace / "made.txt").exists()


async def test_context_paths_deny_write_allow_read_and_deny_read(box):
    read_ctx, write_ctx = box.root / "ref", box.root / "out"
    for directory in (read_ctx, write_ctx, box.workspace / ".git", box.workspace / "private"):
        directory.mkdir()
    (read_ctx / "r.txt").write_text("ref\n")
    (box.workspace / "private" / "p.txt").write_text("hidden\n")
    contexts = (ContextPath(path=read_ctx, permission="read"), ContextPath(path=write_ctx, permission="write"))
    cfg = config(box, "strict", context_paths=contexts, deny_write=(box.workspace / ".git",),
                 allow_read=(box.home / "notes.txt",), deny_read=(box.workspace / "private",))
    async with SandboxExecutor(cfg) as ex:
        read = await run(ex, f"cat {read_ctx / 'r.txt'} && echo x > {read_ctx / 'w.txt'}")
        write = await run(ex, f"echo w > {write_ctx / 'w.txt'}")
        git = await run(ex, "echo x > .git/config")
        notes = await run(ex, f"cat {box.home / 'notes.txt'}; echo x >> {box.home / 'notes.txt'}")
        private = await run(ex, "ls private; cat private/p.txt")
    assert read.stdout == "ref\n" and read.exit_code != 0 and not (read_ctx / "w.txt").exists()
    assert write.exit_code == 0 and (write_ctx / "w.txt").read_text() == "w\n"
    assert git.exit_code != 0 and not (box.workspace / ".git" / "config").exists()
    assert notes.stdout == "personal notes\n" and notes.exit_code != 0
    assert "hidden" not in private.stdout and (box.workspace / "private" / "p.txt").exists()


@pytest.mark.parametrize("mode", MODES)
async def test_only_loopback_and_no_host_sockets(box, mode, warm):
    async with SandboxExecutor(config(box, mode), warm=warm) as ex:
        result = await run(ex, "python3 -c 'import socket; print(socket.if_nameindex())'; "
                               "find /run/ /var/run/ -mindepth 1; test -e /var/run/docker.sock && echo docker-sock")
    assert result.stdout == "[(1, 'lo')]\n", result


async def test_results_match_local_mode_shapes(box, warm):
    async with SandboxExecutor(config(box), warm=warm) as ex:
        ok = await run(ex, "echo out; echo err >&2; exit 3")
        slow = await ex.execute("sleep 5", timeout=0.5)
        big = await run(ex, "head -c 3000000 /dev/zero | tr '\\0' a")
        where = await run(ex, "pwd; echo $HOME", work_dir=str(box.workspace))
        refused = await ex.execute("sudo true")
    assert (ok.exit_code, ok.stdout, ok.stderr, ok.success) == (3, "out\n", "err\n", False)
    assert slow.timed_out and slow.execution_time < 4
    assert big.truncated and len(big.stdout) < 1_100_000
    assert where.stdout == f"{box.workspace}\n{box.home}\n"
    assert refused.exit_code == -1 and refused.stderr


async def test_credentials_env_vars_reach_commands_and_server_env_does_not(box, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "tok-123")
    monkeypatch.setenv("SERVER_ONLY_KEY", "server-secret")
    cfg = ExecConfig(workspace=box.workspace, mode="srt", credentials={"env_vars": ["MY_TOKEN"]})
    async with SandboxExecutor(cfg) as ex:
        result = await run(ex, 'echo "$MY_TOKEN/${SERVER_ONLY_KEY:-unset}"')
        ps = await run(ex, "cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '")
    assert result.stdout == "tok-123/unset\n" and "tok-123" not in ps.stdout


async def test_no_capabilities_and_a_symlinked_secret_is_hidden_by_its_target(box):
    keys = box.root / "keys-elsewhere"
    keys.mkdir()
    (keys / "key").write_text(SECRET)
    (box.home / ".kube").symlink_to(keys)
    async with SandboxExecutor(config(box, "open")) as ex:
        caps = await run(ex, "grep CapEff /proc/self/status")
        through_link = await run(ex, f"cat {box.home / '.kube/key'}; cat {keys / 'key'}")
    assert caps.stdout.split() == ["CapEff:", "0000000000000000"]
    assert SECRET not in through_link.stdout


async def test_an_env_file_reaches_commands_and_a_missing_one_refuses_to_start(box):
    (box.root / "agent.env").write_text("FROM_FILE=file-value\nOTHER=x\n")
    creds = {"env_file": str(box.root / "agent.env"), "env_vars_from_file": ["FROM_FILE"]}
    cfg = ExecConfig(workspace=box.workspace, mode="srt", credentials=creds)
    async with SandboxExecutor(cfg) as ex:
        result = await run(ex, 'echo "$FROM_FILE/${OTHER:-unset}"')
    assert result.stdout == "file-value/unset\n"
    from mgexec.errors import ConfigError

    missing = ExecConfig(workspace=box.workspace, mode="srt", credentials={"env_file": str(box.root / "nope.env")})
    with pytest.raises(ConfigError, match="env_file .* does not exist"):
        await SandboxExecutor(missing).start()


async def test_a_work_dir_venv_comes_first_on_path(box, warm):
    (box.workspace / ".venv" / "bin").mkdir(parents=True)
    async with SandboxExecutor(config(box), warm=warm) as ex:
        result = await run(ex, 'echo "${PATH%%:*} $VIRTUAL_ENV"')
    assert result.stdout == f"{box.workspace}/.venv/bin {box.workspace}/.venv\n"


async def test_home_as_the_workspace_is_writable_and_its_secrets_still_hidden(box):
    cfg = ExecConfig(workspace=box.home, mode="srt", allow_broad_workspace=True)
    async with SandboxExecutor(cfg) as ex:
        result = await run(ex, "echo kept > made.txt && cat notes.txt && cat .ssh/id_ed25519 .netrc")
    assert result.stdout == "personal notes\n" and SECRET not in result.stdout
    assert (box.home / "made.txt").read_text() == "kept\n"


async def test_allow_read_brings_back_a_tool_under_home(box):
    tool = box.home / ".local" / "bin" / "mytool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool-ran\n")
    tool.chmod(0o755)
    async with SandboxExecutor(config(box, "confined")) as ex:
        hidden = await run(ex, str(tool))
    async with SandboxExecutor(config(box, "confined", allow_read=(tool.parent,))) as ex:
        shown = await run(ex, f"{tool}; echo x > {tool.parent / 'new'}")
    assert hidden.exit_code == 127 and shown.stdout == "tool-ran\n" and shown.exit_code != 0


async def test_a_helper_that_cannot_start_falls_back_to_one_bwrap_per_command(box, monkeypatch):
    from mgexec.deployments import sandbox as module

    fake = box.root / "python3"
    fake.write_text("#!/bin/sh\necho 'no helper here' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(module, "sandbox_python", lambda spec: str(fake))  # a python3 that is not one
    async with SandboxExecutor(config(box, "open")) as ex:
        result = await run(ex, "echo still-sandboxed; python3 -c 'import socket; print(socket.if_nameindex())'")
    assert ex.path_used.startswith("one bwrap per command (the warm helper did not start: no helper here")
    assert result.stdout == "still-sandboxed\n[(1, 'lo')]\n"


# The command's parent is the warm helper; writing to its stdout would forge the channel's frames.
FORGE_LINE = ("tr '\\0' ' ' </proc/$PPID/cmdline | grep -q mgexec-inside && echo helper; "
              "{ exec 3>>/proc/$PPID/fd/1; } 2>/dev/null && echo opened || echo refused; echo still-works")


async def test_a_command_cannot_open_the_warm_helpers_stdout(box):
    async with SandboxExecutor(config(box, "open")) as ex:
        assert ex.path_used.startswith("warm")
        result = await run(ex, FORGE_LINE)
        after = await run(ex, "echo next")
    assert result.stdout == "helper\nrefused\nstill-works\n", result
    assert (after.stdout, after.exit_code) == ("next\n", 0)


async def test_the_warm_helper_carries_ten_megabytes_exactly_and_cuts_utf8_safely(box):
    """Binary frames over the sandbox helper's pipe: every byte, in order, and caps on whole characters."""
    import hashlib

    def capped_at(cap: int) -> ExecConfig:
        return ExecConfig(workspace=box.workspace, mode="srt", sandbox=SandboxSettings(), timeout=60,
                          max_output_bytes=cap)

    async with SandboxExecutor(capped_at(20_000_000)) as ex:
        assert ex.path_used.startswith("warm")
        made = await run(ex, "head -c 7500000 /dev/urandom | base64 > big.txt; sha256sum big.txt")
        big = await run(ex, "cat big.txt; echo err >&2")
    async with SandboxExecutor(capped_at(1_000_000)) as ex:
        capped = await run(ex, "yes é | head -c 3000000")
    assert hashlib.sha256(big.stdout.encode()).hexdigest() == made.stdout.split()[0]
    assert len(big.stdout) == 10_000_000 + 10_000_000 // 76 + 1 and (big.stderr, big.truncated) == ("err\n", False)
    kept, marker = capped.stdout.split("\n... (truncated ")
    assert kept == "é\n" * 333333 and marker == "2000001 bytes)"  # the cap fell inside a character
