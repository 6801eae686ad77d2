"""Config loading: MassGen files as they are, defaults, and a clear error for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, list_examples, load_config, load_configs
from mgexec.errors import ConfigError

DATA = Path(__file__).parent / "data"


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def backend(tmp_path: Path, body: str) -> str:
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return write(tmp_path, f"agent:\n  id: a1\n  backend:\n{lines}\n")


def test_embedded_default_is_local_mode_in_the_current_directory(tmp_path):
    config = load_config(None, cwd=tmp_path)
    assert config.mode == "local"
    assert config.workspace == tmp_path.resolve()
    assert config.timeout == 60 and config.max_output_bytes == 1_000_000
    assert config.network_mode == "none" and config.image == DEFAULT_IMAGE


def test_real_massgen_file_loads_with_llm_keys_ignored(tmp_path):
    (tmp_path / "ctx").mkdir()
    text = (DATA / "massgen_two_agents.yaml").read_text()
    configs = load_configs(write(tmp_path, text), cwd=tmp_path)
    a, b = configs
    assert (a.agent_id, b.agent_id) == ("agent_a", "agent_b")
    assert a.allow_patterns == ("python .*", "pytest.*")
    assert a.workspace == tmp_path / "workspace_a" and a.workspace.is_dir()
    assert b.mode == "docker" and b.docker_memory_limit == "2g" and b.docker_cpu_limit == 1.5
    assert b.deny_patterns == ("rm .*",)
    assert b.credentials.env_vars == ("GITHUB_TOKEN",)
    assert b.credentials.additional_mounts["/tmp"].mode == "ro"  # MassGen made it rw
    assert b.packages.preinstall.python == ("requests",)
    assert [c.path for c in b.context_paths] == [tmp_path / "ctx"]
    assert b.container_name == "massgen-agent_b"


def test_multi_agent_file_needs_agent_choice(tmp_path):
    (tmp_path / "ctx").mkdir()
    path = write(tmp_path, (DATA / "massgen_two_agents.yaml").read_text())
    with pytest.raises(ConfigError, match=r"2 agents \(agent_a, agent_b\); choose one with --agent"):
        load_config(path, cwd=tmp_path)
    assert load_config(path, "agent_b", cwd=tmp_path).agent_id == "agent_b"
    with pytest.raises(ConfigError, match="no agent 'agent_c'. Did you mean 'agent_[ab]'"):
        load_config(path, "agent_c", cwd=tmp_path)


@pytest.mark.parametrize("key", ["command_line_whitelist_patterns", "command_line_allowed_commands"])
def test_both_allow_list_spellings(tmp_path, key):
    config = load_config(backend(tmp_path, f'{key}: ["ls.*"]'), cwd=tmp_path)
    assert config.allow_patterns == ("ls.*",)


@pytest.mark.parametrize("key", ["command_line_blacklist_patterns", "command_line_blocked_commands"])
def test_both_deny_list_spellings(tmp_path, key):
    assert load_config(backend(tmp_path, f'{key}: ["rm .*"]'), cwd=tmp_path).deny_patterns == ("rm .*",)


def test_two_spellings_of_one_setting_conflict(tmp_path):
    path = backend(tmp_path, 'command_line_whitelist_patterns: ["a"]\ncommand_line_allowed_commands: ["b"]')
    with pytest.raises(ConfigError, match="two spellings of one setting"):
        load_config(path, cwd=tmp_path)


def test_sudo_switches_the_default_image_but_keeps_a_custom_one(tmp_path):
    sudo = load_config(backend(tmp_path, "command_line_execution_mode: docker\ncommand_line_docker_enable_sudo: true"), cwd=tmp_path)
    assert sudo.image == DEFAULT_SUDO_IMAGE
    custom = load_config(backend(tmp_path, "command_line_docker_image: me/img:1\ncommand_line_docker_enable_sudo: true"), cwd=tmp_path)
    assert custom.image == "me/img:1"


def test_cwd_is_relative_to_current_directory_and_created(tmp_path):
    config = load_config(backend(tmp_path, "cwd: deep/ws"), cwd=tmp_path)
    assert config.workspace == tmp_path / "deep" / "ws" and config.workspace.is_dir()


def test_bad_file_creates_no_workspace(tmp_path):
    with pytest.raises(ConfigError):
        load_config(backend(tmp_path, "cwd: never\ncommand_line_docker_network_mode: wifi"), cwd=tmp_path)
    assert not (tmp_path / "never").exists()


BAD_VALUES = [
    ("command_line_execution_mode: kubernetes", r"command_line_execution_mode = 'kubernetes'.*'local', 'docker' or 'srt'"),
    ("command_line_docker_network_mode: wifi", r"command_line_docker_network_mode = 'wifi'.*'none', 'bridge' or 'host'"),
    ("command_line_docker_memory_limit: 2x", r"command_line_docker_memory_limit = '2x'.*like '512m' or '2g'"),
    ("command_line_docker_memory_limit: 1k", r"below docker's minimum"),
    ("command_line_docker_cpu_limit: 0", r"command_line_docker_cpu_limit = 0.*greater than 0"),
    ("command_line_docker_cpu_limit: -1.5", r"command_line_docker_cpu_limit = -1.5"),
    ("command_line_default_timeout: 0", r"command_line_default_timeout = 0"),
    ("command_line_docker_credentials: {mount: [ssh_key]}", r"mount.0 = 'ssh_key'.*'ssh_keys'"),
    ("command_line_docker_credentials: {env_vars: ['NOT-A-NAME']}", r"not an environment variable name"),
    ("command_line_docker_credentials: {additional_mounts: {/tmp: {bind: /x, mode: rwx}}}", r"mode = 'rwx'.*'ro' or 'rw'"),
    ("command_line_docker_credentials: {mounts: [ssh_keys]}", r"credentials.mounts.*not a known setting"),
    ("command_line_docker_packages: {preinstall: {python: requests}}", r"expected a list of package names"),
    ("command_line_docker_packages: {preinstall: {python: [--index-url=x]}}", r"options are not allowed"),
    ("command_line_docker_network_mode: none\ncommand_line_docker_packages: {preinstall: {python: [requests]}}",
     r"preinstall needs a network.*'bridge'"),
    ("command_line_docker_network_mode: bridge\ncommand_line_docker_packages: {preinstall: {system: [jq]}}",
     r"system packages.*need root.*command_line_docker_enable_sudo: true"),
    ("command_line_docker_network_mode: bridge\ncommand_line_docker_packages: {preinstall: {npm: [x]}}", r"npm packages"),
    ("command_line_docker_imgae: x", r"command_line_docker_imgae is not a setting mgexec knows. Did you mean 'command_line_docker_image'"),
    ("command_line_whitelist_patterns: ['(unclosed']", r"command_line_whitelist_patterns.*'\(unclosed'"),
    ("command_line_blacklist_patterns: ['[z-a]']", r"command_line_blacklist_patterns.*'\[z-a\]'"),
]


@pytest.mark.parametrize("body,message", BAD_VALUES, ids=[b.split(":")[0] + str(i) for i, (b, _) in enumerate(BAD_VALUES)])
def test_bad_values_name_file_key_value_and_what_is_allowed(tmp_path, body, message):
    path = backend(tmp_path, body)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, cwd=tmp_path)
    assert path in str(info.value)
    assert "\n" not in str(info.value).strip() or len(str(info.value).splitlines()) < 4


def test_agent_id_must_fit_a_container_name(tmp_path):
    path = write(tmp_path, "agent:\n  id: 'my agent!'\n  backend: {}\n")
    with pytest.raises(ConfigError, match="cannot name a container"):
        load_config(path, cwd=tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "agent:\n  backend:\n    cwd: x\n   - nope\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 4"):
        load_config(path, cwd=tmp_path)


def test_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist.*@examples/NAME"):
        load_config(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("text,message", [
    ("", "holds nothing"),
    ("- a\n- b\n", "holds list"),
    ("orchestrator: {}\n", "neither 'agent:' nor 'agents:'"),
    ("agents: []\n", "non-empty list"),
    ("agents:\n  - id: x\n  - id: x\n", "used by another agent"),
    ("agent:\n  backend: [1]\n", "backend must be a mapping"),
])
def test_structural_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text), cwd=tmp_path)


def test_context_paths_from_orchestrator_and_missing_path(tmp_path):
    (tmp_path / "docs").mkdir()
    text = "agent:\n  backend: {}\norchestrator:\n  context_paths:\n    - {path: docs, permission: write}\n"
    config = load_config(write(tmp_path, text), cwd=tmp_path)
    assert config.context_paths[0].path == tmp_path / "docs"
    assert config.context_paths[0].permission == "write"
    assert tmp_path / "docs" in config.allowed_roots()
    text = "agent:\n  backend: {}\norchestrator:\n  context_paths:\n    - {path: gone}\n"
    with pytest.raises(ConfigError, match="context path .*gone does not exist"):
        load_config(write(tmp_path, text), cwd=tmp_path)


def test_mgexec_extras(tmp_path):
    body = """
command_line_default_timeout: 5
command_line_max_output_bytes: 4096
command_line_temp_workspace: tmpws
command_line_context_paths: [{path: ., permission: read}]
command_line_max_background_shells: 3
"""
    config = load_config(backend(tmp_path, body), cwd=tmp_path)
    assert (config.timeout, config.max_output_bytes, config.max_background_shells) == (5, 4096, 3)
    assert config.temp_workspace == tmp_path / "tmpws" and config.temp_workspace.is_dir()


def test_examples_resolve_by_name(tmp_path):
    names = list_examples()
    assert "basic_command_execution.yaml" in names
    config = load_config("@examples/basic_command_execution", cwd=tmp_path)
    assert config.mode == "local"
    with pytest.raises(ConfigError, match="no example config named 'basic_comand_execution'. Did you mean"):
        load_config("@examples/basic_comand_execution")


def test_every_shipped_example_loads(tmp_path):
    for name in list_examples():
        for config in load_configs(f"@examples/{name}", cwd=tmp_path):
            assert config.agent_id
