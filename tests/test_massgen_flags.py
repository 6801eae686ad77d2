"""MassGen's server flags: parsing as MassGen passes them, the srt settings mapping, the mapping onto ExecConfig, and the workspace MassGen makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgexec.config import ExecConfig
from mgexec.config.massgen_flags import (MassGenFlags, apply_massgen_flags, first_unknown_option,
                                         split_massgen_flags, srt_settings_to_sandbox)
from mgexec.config.massgen_workspace import Candidate, link_skills, massgen_bases, pick_workspace
from mgexec.errors import ConfigError

SPLITS = [
    # MassGen's own launch: variadic lists, then further flags.
    (["--allowed-paths", "/a", "/b", "--execution-mode", "local"],
     MassGenFlags(allowed_paths=("/a", "/b"), execution_mode="local"), []),
    (["--allowed-paths", "--timeout", "30"], MassGenFlags(allowed_paths=(), timeout=30), []),
    (["--allowed-commands", "^python .*", "^ls", "--blocked-commands", "rm .*"],
     MassGenFlags(allowed_commands=("^python .*", "^ls"), blocked_commands=("rm .*",)), []),
    # What MassGen appends to a command_line entry of the user's, mixed with mgexec's own options.
    (["serve", "--config", "c.yaml", "--agent-id", "agent_a", "--instance-id", "1a2b3c4d"],
     MassGenFlags(agent_id="agent_a", instance_id="1a2b3c4d"), ["serve", "--config", "c.yaml"]),
    (["--enable-sudo", "--agent", "x"], MassGenFlags(enable_sudo=True), ["--agent", "x"]),
    (["--max-output-size=2048", "--local-skills-directory", "/s"],
     MassGenFlags(max_output_size=2048, local_skills_directory="/s"), []),
    # A negative number or '-' does not end a list, as in argparse; '--' ends the flags.
    (["--allowed-commands", "-1", "-", "--", "--timeout", "3"], MassGenFlags(allowed_commands=("-1", "-")),
     ["--", "--timeout", "3"]),
]


@pytest.mark.parametrize("args, flags, rest", SPLITS)
def test_split_massgen_flags(args, flags, rest):
    got, left = split_massgen_flags(args)
    assert got == flags
    assert left == rest


@pytest.mark.parametrize("args, message", [
    (["--timeout"], "--timeout needs a value"),
    (["--timeout", "--agent-id", "a"], "--timeout needs a value"),
    (["--timeout", "soon"], "--timeout needs a whole number, got 'soon'"),
    (["--execution-mode", "podman"], "'podman' is not a mode; MassGen's modes are local, docker, srt"),
    (["--enable-sudo=yes"], "--enable-sudo takes no value"),
])
def test_bad_flag_values_name_the_flag(args, message):
    with pytest.raises(ConfigError, match=message):
        split_massgen_flags(args)


@pytest.mark.parametrize("rest, unknown", [
    (["--config", "c", "--agent", "a"], None),
    (["--config", "c", "--future-flag", "x"], "--future-flag"),
    (["--new=1"], "--new"),
    (["-1"], None),
    (["--", "--whatever"], None),
])
def test_first_unknown_option(rest, unknown):
    assert first_unknown_option(rest, {"--config", "--agent"}) == unknown


SRT = {"filesystem": {"allowWrite": ["/ws"], "denyWrite": ["/ws/.git"], "denyRead": ["/root"],
                      "allowRead": ["/ws"]},
       "network": {"allowedDomains": ["pypi.org"], "deniedDomains": [], "allowUnixSockets": ["/run/x.sock"]}}


def test_srt_settings_map_onto_sandbox_fields():
    assert srt_settings_to_sandbox(SRT) == {
        "read_mode": "open", "read_only": False, "allow_write": ("/ws",), "deny_write": ("/ws/.git",),
        "deny_read": ("/root",), "allow_read": ("/ws",), "allowed_domains": ("pypi.org",), "denied_domains": (),
        "allow_unix_sockets": ("/run/x.sock",)}


@pytest.mark.parametrize("data, message", [
    ([], "must hold a JSON object"),
    ({"filesystem": {"allowWrite": "/ws"}}, "filesystem.allowWrite must be a list of strings"),
    ({"filesystem": {"allowExec": ["/x"]}}, "filesystem.allowExec is not a setting mgexec can enforce"),
    ({"ignoreViolations": {}}, "'ignoreViolations' is not a setting mgexec can enforce"),
    ({"network": ["pypi.org"]}, "network must be an object"),
])
def test_srt_settings_refuse_what_they_cannot_enforce(data, message):
    with pytest.raises(ConfigError, match=message):
        srt_settings_to_sandbox(data)


def test_massgen_launch_makes_cwd_the_workspace_and_other_paths_allowed(tmp_path):
    config_ws, suffixed, context = tmp_path / "ws", tmp_path / "ws_0a1b2c3d", tmp_path / "ctx"
    for d in (config_ws, suffixed, context, suffixed / "sub"):
        d.mkdir()
    flags, _ = split_massgen_flags(["--allowed-paths", str(suffixed), str(suffixed / "sub"), str(context),
                                    str(tmp_path / "missing"), "--timeout", "7", "--max-output-size", "4096",
                                    "--blocked-commands", "^curl", "--execution-mode", "local"])
    cfg = apply_massgen_flags(ExecConfig(workspace=config_ws, timeout=60), flags, suffixed)
    assert cfg.workspace == suffixed
    assert [c.path for c in cfg.context_paths] == [context]
    assert (cfg.timeout, cfg.max_output_bytes, cfg.deny_patterns, cfg.mode) == (7, 4096, ("^curl",), "local")


def test_entry_flags_keep_the_config_workspace(tmp_path):
    flags, _ = split_massgen_flags(["--agent-id", "agent_b", "--instance-id", "deadbeef", "--enable-sudo"])
    cfg = apply_massgen_flags(ExecConfig(workspace=tmp_path, agent_id="agent_a"), flags, Path("/"))
    assert (cfg.workspace, cfg.agent_id, cfg.instance_id, cfg.enable_sudo) == (tmp_path, "agent_b", "deadbeef", True)


@pytest.mark.parametrize("args, message", [
    (["--max-output-size", "1"], "--max-output-size: "),
    (["--agent-id", "../x"], "--agent-id: .*cannot name a container"),
    (["--instance-id", "a b"], "--instance-id: .*cannot name a container"),
    (["--blocked-commands", "("], "--blocked-commands: "),
    (["--timeout", "0"], "--timeout: "),
])
def test_flag_values_mgexec_refuses_name_the_flag(tmp_path, args, message):
    flags, _ = split_massgen_flags(args)
    with pytest.raises(ConfigError, match=message):
        apply_massgen_flags(ExecConfig(workspace=tmp_path), flags, tmp_path)


def test_srt_mode_without_settings_or_without_srt_support_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="needs --srt-settings FILE"):
        apply_massgen_flags(ExecConfig(workspace=tmp_path), split_massgen_flags(["--execution-mode", "srt"])[0],
                            tmp_path)
    settings = tmp_path / "srt.json"
    settings.write_text('{"filesystem": {"allowWrite": []}}')
    flags, _ = split_massgen_flags(["--execution-mode", "srt", "--srt-settings", str(settings)])
    if "sandbox" not in ExecConfig.model_fields:
        with pytest.raises(ConfigError, match="this mgexec has no srt"):
            apply_massgen_flags(ExecConfig(workspace=tmp_path), flags, tmp_path)
    else:
        cfg = apply_massgen_flags(ExecConfig(workspace=tmp_path), flags, tmp_path)
        assert cfg.mode == "srt" and cfg.sandbox.allow_write == ()


def test_skills_directory_becomes_readable_and_linked(tmp_path):
    skills, ws = tmp_path / "skills", tmp_path / "ws"
    skills.mkdir(), ws.mkdir()
    flags, _ = split_massgen_flags(["--local-skills-directory", str(skills)])
    cfg = apply_massgen_flags(ExecConfig(workspace=ws), flags, tmp_path)
    assert [(c.path, c.permission) for c in cfg.context_paths] == [(skills, "read")]
    (ws / ".agent").mkdir()
    (ws / ".agent" / "skills").symlink_to(tmp_path)  # a stale link from an earlier run is replaced
    link_skills(ws, skills)
    assert (ws / ".agent" / "skills").resolve() == skills


@pytest.mark.parametrize("cwd, bases", [
    ("/abs/ws", ["/abs/ws"]),
    ("/abs/workspace1", ["/abs/workspace"]),
    ("ws", ["/run/.massgen/workspaces/ws", "/run/ws"]),
    (".massgen/workspaces/w", ["/run/.massgen/workspaces/w"]),
])
def test_massgen_bases(cwd, bases):
    assert massgen_bases(cwd, Path("/run")) == [Path(b) for b in bases]


def test_pick_workspace_takes_the_one_made_since_the_run_started():
    base = Path("/r/ws")
    made = [Candidate(Path("/r/ws_0123abcd"), 100.0), Candidate(Path("/r/ws_99999999"), 50.0),
            Candidate(Path("/r/ws_extra_0123abcd"), 200.0), Candidate(Path("/r/ws_XYZ"), 200.0)]
    assert pick_workspace(base, made, run_started=90.0) == Path("/r/ws_0123abcd")
    assert pick_workspace(base, made, run_started=150.0) is None
    with pytest.raises(ConfigError, match="2 MassGen workspaces were made"):
        pick_workspace(base, made, run_started=10.0)
