"""Config limits: hostile YAML, numbers out of range, oversized ids and paths; `config check` agrees with `exec`."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from mgexec.config import load_config, load_configs
from mgexec.config.limits import MAX_TIMEOUT, check_timeout
from mgexec.errors import ConfigError

MGEXEC = str(Path(sys.executable).parent / "mgexec")


def laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\nagent:\n  backend:\n    command_line_allowed_commands: *l{levels}\n"


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return "agent: " + open_ * depth + close * depth + "\n"


def deep_block(depth: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "x: 1\n"


# (name, file text, what the one-paragraph error must say)
BAD_YAML = [
    ("billion laughs into the allow list", laughs(), r"more than 20,000 values once its anchors and aliases"),
    ("laughs through merge keys", "b: &b {cwd: w}\n" + "\n".join(
        f"m{i}: &m{i} [" + ",".join([f"*{'b' if i == 0 else f'm{i - 1}'}"] * 12) + "]" for i in range(6))
     + "\nagent: {backend: {command_line_blocked_commands: *m5}}\n", r"more than 20,000 values"),
    ("30,000 plain values", "agent: {backend: {command_line_allowed_commands: [" + ",".join(["a"] * 30_000) + "]}}\n",
     r"holds more than 20,000 values"),
    ("100k-deep flow nesting", nested(100_000), r"nest more than 64 levels deep"),
    ("100k-deep mapping nesting", nested(100_000, "{a: ", "}"), r"nest more than 64 levels deep"),
    ("deep block nesting", deep_block(200), r"nest more than 64 levels deep"),
    ("duplicate backend key", "agent:\n  backend:\n    cwd: a\n    cwd: b\n", r"key 'cwd' appears twice .*first at line 3"),
    ("duplicate top-level key", "agent: {id: a}\nagent: {id: b}\n", r"key 'agent' appears twice"),
    ("duplicate key, other quoting", "agent:\n  id: a\n  'id': b\n", r"key 'id' appears twice"),
    ("an alias inside its own anchor", "agent: &x\n  backend: *x\n", r"refers to the value that contains it"),
    ("not UTF-8", b"agent:\n  id: \xff\n", r"not UTF-8"),
    ("larger than 1 MiB", "agent: {id: a}\n" + "#" * (1024**2) + "\n", r"larger than 1024 KiB"),
    ("python tag", "agent: !!python/object/apply:os.system ['true']\n", r"not valid YAML"),
]


@pytest.mark.parametrize("name,text,error", BAD_YAML, ids=[c[0] for c in BAD_YAML])
def test_hostile_yaml_is_refused_with_one_paragraph(tmp_path, name, text, error):
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=error) as info:
        load_configs(str(path), cwd=tmp_path, create=False)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600 and str(path) in message


GOOD_YAML = [
    ("anchors within bounds", "common: &c {command_line_default_timeout: 30, cwd: w}\n"
     "agents:\n  - {id: a, backend: {<<: *c}}\n  - {id: b, backend: {<<: *c, cwd: v}}\n"),
    ("a merge key overridden", "base: &b {cwd: w}\nagent: {backend: {<<: *b, cwd: z}}\n"),
    ("64 levels", "agent: {backend: {}}\nx: " + "[" * 60 + "]" * 60 + "\n"),
    ("the same key in two mappings", "agents:\n  - {id: a, backend: {cwd: w}}\n  - {id: b, backend: {cwd: w}}\n"),
]


@pytest.mark.parametrize("name,text", GOOD_YAML, ids=[c[0] for c in GOOD_YAML])
def test_ordinary_yaml_still_loads(tmp_path, name, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert load_configs(str(path), cwd=tmp_path, create=False)


# (backend lines, what the error must say)
BAD_VALUES = [
    ("command_line_default_timeout: .nan", r"default_timeout = nan: the default timeout must be a number of seconds above 0 and at most 86400"),
    ("command_line_default_timeout: .inf", r"default_timeout = inf: .*at most 86400"),
    ("command_line_default_timeout: 1000000000000", r"default_timeout = 1000000000000: .*background shell"),
    ("command_line_default_timeout: 0", r"default_timeout = 0: .*above 0"),
    ("command_line_default_timeout: -5", r"default_timeout = -5"),
    ("command_line_default_timeout: true", r"default_timeout = True"),
    ("command_line_max_output_bytes: 100000000000000000000", r"max_output_bytes = 100000000000000000000: .*less than or equal to 1073741824"),
    ("command_line_max_output_bytes: 1073741825", r"less than or equal to 1073741824"),
    ("command_line_max_output_bytes: 1.0e+20", r"max_output_bytes = 1e\+20"),
    ("command_line_max_output_bytes: 10", r"greater than or equal to 1024"),
    ("command_line_progress_interval: .nan", r"progress_interval = nan: Input should be a finite number"),
    ("command_line_progress_interval: 0.000001", r"progress_interval = 1e-06: Input should be greater than or equal to 0.1"),
    ("command_line_progress_interval: 100000", r"less than or equal to 3600"),
    ("command_line_background_shell_retention: .inf", r"background_shell_retention = inf: Input should be a finite number"),
    ("command_line_background_shell_retention: 1.0e+12", r"less than or equal to 2592000"),
    ("command_line_docker_cpu_limit: .inf", r"cpu_limit = inf: Input should be a finite number"),
    ("command_line_docker_cpu_limit: 1.0e+9", r"less than or equal to 1024"),
    ("command_line_docker_memory_limit: 99999999999999g", r"above mgexec's maximum memory limit of 1024g"),
    ("command_line_docker_memory_limit: '" + "9" * 400 + "g'", r"at most 255 characters"),
    ("command_line_max_background_shells: 100000", r"less than or equal to 1000"),
    ("cwd: /proc/self", r"cwd '/proc/self' lies under /proc, a kernel pseudo-filesystem; choose a directory of real files"),
    ("cwd: /sys/kernel", r"lies under /sys"),
    ("cwd: ws/../../../../../../proc/self/cwd", r"lies under /proc"),
    ("cwd: /dev", r"cwd '/dev' lies under /dev"),
    ("cwd: /dev/shm/ws", r"lies under /dev"),
    ("command_line_temp_workspace: /proc/1/cwd", r"command_line_temp_workspace '/proc/1/cwd'.* lies under /proc"),
    ("command_line_context_paths: [{path: /proc}]", r"context path #1 '/proc' lies under /proc"),
    ("command_line_execution_mode: docker\ncommand_line_docker_credentials: {additional_mounts: {/dev: {bind: /d}}}",
     r"additional_mounts '/dev' lies under /dev"),
    ("cwd: " + "w" * 300, r"cwd has a name of 300 characters; each name in a path may have at most 255"),
    ("cwd: " + "/a" * 3000, r"cwd is 6000 characters long; a path may have at most 4096"),
    ("cwd: \"w\\0x\"", r"contains a NUL character"),
    ("command_line_allowed_commands: ['" + "a" * 1001 + "']", r"a pattern is 1001 characters long; patterns may have at most 1000"),
    ("command_line_allowed_commands: [" + ",".join(["a"] * 1001) + "]", r"at most 1000 items"),
    ("command_line_docker_image: " + "i" * 300, r"docker_image = 'iii.*': String should have at most 255 characters"),
    ("command_line_docker_credentials: {env_vars: [" + "A" * 300 + "]}", r"at most 255 characters"),
]


@pytest.mark.parametrize("lines,error", BAD_VALUES, ids=[c[0][:60] for c in BAD_VALUES])
def test_out_of_range_values_are_refused(tmp_path, lines, error):
    body = "\n".join("    " + line for line in lines.splitlines())
    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  id: a1\n  backend:\n{body}\n")
    with pytest.raises(ConfigError, match=error) as info:
        load_configs(str(path), cwd=tmp_path, create=False)
    assert "\n" not in str(info.value) and len(str(info.value)) < 700


@pytest.mark.parametrize("agent_id,ok", [("a" * 64, True), ("a" * 65, False), ("a" * 5000, False), ("x.y-z_1", True)])
def test_agent_id_length(tmp_path, agent_id, ok):
    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  id: {agent_id}\n")
    if ok:
        assert load_config(str(path), cwd=tmp_path).agent_id == agent_id
    else:
        with pytest.raises(ConfigError, match=r"id = 'a+(\.\.\.a+)?': String should have at most 64 characters"):
            load_config(str(path), cwd=tmp_path)


def test_workspace_that_cannot_be_created_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    path = tmp_path / "c.yaml"
    path.write_text("agent:\n  backend:\n    cwd: file/sub\n")
    for create in (False, True):
        with pytest.raises(ConfigError, match=r"cwd .*file/sub does not exist and cannot be created, since .*file is not a directory"):
            load_configs(str(path), cwd=tmp_path, create=create)


@pytest.mark.parametrize("value,expected", [(1, 1.0), (0.5, 0.5), ("30", 30.0), (MAX_TIMEOUT, MAX_TIMEOUT)])
def test_check_timeout_accepts(value, expected):
    assert check_timeout(value) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e12, MAX_TIMEOUT + 1, 0, -1, True, None, "soon",
                                   "nan", [], 10**400])
def test_check_timeout_refuses(value):
    with pytest.raises(ConfigError, match=r"timeout must be a number of seconds above 0 and at most 86400"):
        check_timeout(value)


# --- config check and exec agree ------------------------------------------------------------

def run(args, cwd):
    return subprocess.run([MGEXEC, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


DOCKER = "    command_line_execution_mode: docker\n"
DISAGREEMENTS = [
    ("env_vars_from_file names a variable missing from the file",
     DOCKER + "    command_line_docker_credentials: {env_file: .env, env_vars_from_file: [PRESENT, MISSING]}\n",
     r"env_vars_from_file lists MISSING, which is not in .*\.env"),
    ("env_file missing", DOCKER + "    command_line_docker_credentials: {env_file: nowhere.env}\n",
     r"env_file .*nowhere.env does not exist"),
    ("additional mount missing", DOCKER + "    command_line_docker_credentials: {additional_mounts: {/nonexistent-p4: {bind: /x}}}\n",
     r"additional_mounts names /nonexistent-p4, which does not exist"),
    ("timeout NaN", "    command_line_default_timeout: .nan\n", r"default timeout must be a number"),
    ("cwd under /proc", "    cwd: /proc/self/cwd\n", r"lies under /proc"),
    ("duplicate key", "    cwd: a\n    cwd: b\n", r"appears twice"),
]


@pytest.mark.parametrize("name,backend,error", DISAGREEMENTS, ids=[c[0] for c in DISAGREEMENTS])
def test_config_check_refuses_what_exec_refuses(tmp_path, name, backend, error):
    (tmp_path / ".env").write_text("PRESENT=1\n")
    (tmp_path / "c.yaml").write_text(f"agent:\n  id: agree\n  backend:\n{backend}")
    canary = tmp_path / "ran"
    check = run(["config", "check", "c.yaml"], tmp_path)
    execd = run(["exec", "--config", "c.yaml", "--", f"touch {canary}"], tmp_path)
    assert (check.returncode, execd.returncode) == (2, 2), (check.stderr, execd.stderr)
    assert not canary.exists()
    for proc in (check, execd):
        assert __import__("re").search(error, proc.stderr), proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_config_check_and_exec_accept_the_same_good_file(tmp_path):
    (tmp_path / "c.yaml").write_text("agent:\n  backend:\n    cwd: ws\n    command_line_default_timeout: 86400\n")
    assert run(["config", "check", "c.yaml"], tmp_path).returncode == 0
    assert not (tmp_path / "ws").exists()  # check only validates
    proc = run(["exec", "--config", "c.yaml", "--", "pwd"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == str(tmp_path / "ws")


@pytest.mark.parametrize("value", ["nan", "inf", "1e12", "0", "-1", "86401"])
def test_exec_timeout_flag_has_the_config_rule(tmp_path, value):
    proc = run(["exec", "--timeout", value, "--", f"touch {tmp_path / 'ran'}"], tmp_path)
    assert proc.returncode == 2 and "--timeout must be a number of seconds above 0 and at most 86400" in proc.stderr
    assert not (tmp_path / "ran").exists()


def test_a_symlink_into_proc_is_judged_by_where_it_points(tmp_path):
    (tmp_path / "link").symlink_to("/proc/self")
    path = tmp_path / "c.yaml"
    path.write_text(f"agent:\n  backend:\n    cwd: {tmp_path / 'link'}\n")
    with pytest.raises(ConfigError, match=r"cwd '.*link' \(it resolves to '/proc/\d+'\) lies under /proc"):
        load_configs(str(path), cwd=tmp_path, create=False)


def test_an_unknown_5000_character_agent_name_gives_a_short_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("agent:\n  id: a1\n")
    with pytest.raises(ConfigError, match=r"has no agent 'x+\.\.\.x+'") as info:
        load_config(str(path), "x" * 5000, cwd=tmp_path)
    assert len(str(info.value)) < 400
