"""Each naming rule is defined once (config/validators.py) and every layer that checks it agrees: tables of input -> verdict."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mgexec.config.models import Credentials, ExecConfig
from mgexec.config.validators import (
    NETWORK_MODES,
    env_name_problem,
    image_problem,
    network_problem,
    pattern_problem,
)
from mgexec.docker.argv import ContainerSpec, ExecSpec
from mgexec.docker.credentials import HOST_ONLY, resolve_env
from mgexec.errors import ConfigError
from mgexec.policy.rules import compile_patterns, vet_pattern

ENV_NAMES = [  # (name, valid)
    ("A", True), ("_", True), ("a1", True), ("GITHUB_TOKEN", True), ("_X_9", True), ("lower_case", True),
    ("", False), ("1A", False), ("9", False), ("0_TOKEN", False),
    ("A=B", False), ("=A", False), ("A=", False),
    ("A B", False), ("A-B", False), ("A.B", False), ("A\n", False), ("A\0", False), (" A", False),
    ("é", False), ("ÄPFEL", False), ("naïve", False), ("Ａ", False), ("ª", False), ("A٣", False), ("Σ_1", False),
    ("BASH_FUNC_f%%", False),
]


@pytest.mark.parametrize("name, valid", ENV_NAMES)
def test_env_name_rule(name, valid):
    assert (env_name_problem(name) is None) is valid


@pytest.mark.parametrize("value", [None, 3, b"A", ["A"]])
def test_env_name_must_be_a_string(value):
    assert "not an environment variable name" in env_name_problem(value)


@pytest.mark.parametrize("name, valid", ENV_NAMES)
def test_every_layer_agrees_on_env_names(name, valid, tmp_path):
    outcomes = {}
    try:
        Credentials(env_vars=(name,))
        outcomes["config env_vars"] = True
    except ValidationError as exc:
        assert "not an environment variable name" in str(exc)
        outcomes["config env_vars"] = False
    outcomes["config env_vars_from_file"] = _accepts(lambda: Credentials(env_vars_from_file=(name,)), ValidationError)
    outcomes["docker run -e"] = _accepts(lambda: ContainerSpec(name="c", image="i", env_names=(name,)), ConfigError)
    outcomes["docker run env"] = _accepts(lambda: ContainerSpec(name="c", image="i", env={name: "v"}), ConfigError)
    outcomes["docker exec -e"] = _accepts(lambda: ExecSpec(container="c", argv=("true",), env_names=(name,)),
                                          ConfigError)
    # pass_all_env forwards a host variable only if it is a name the container can be given.
    if name not in HOST_ONLY:  # `_` and PATH describe the host and are never forwarded
        outcomes["pass_all_env"] = name in resolve_env(Credentials(pass_all_env=True), {name: "v"}).values
    assert outcomes == dict.fromkeys(outcomes, valid)


# Names a .env line can carry at all (dotenv itself skips lines with spaces, '=' or line breaks in the name).
@pytest.mark.parametrize("name, valid", [(n, v) for n, v in ENV_NAMES if n and not set(n) & set(" =\n\0")])
def test_env_file_names_follow_the_same_rule(name, valid, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"{name}=v\n", encoding="utf-8")
    creds = Credentials(env_file=str(env_file))
    if valid:
        assert resolve_env(creds, {}).values == {name: "v"}
    else:
        with pytest.raises(ConfigError, match="not an environment variable name") as raised:
            resolve_env(creds, {})
        assert str(env_file) in str(raised.value)


def test_an_invalid_name_in_an_env_file_is_fine_when_not_taken(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("naïve=1\nKEEP=2\n", encoding="utf-8")
    assert resolve_env(Credentials(env_file=str(env_file), env_vars_from_file=("KEEP",)), {}).values == {"KEEP": "2"}


NETWORKS = [("none", True), ("bridge", True), ("host", True), ("wifi", False), ("container:other", False),
            ("NONE", False), ("", False), ("host ", False), ("-d", False)]


@pytest.mark.parametrize("mode, valid", NETWORKS)
def test_every_layer_agrees_on_network_modes(mode, valid, tmp_path):
    assert (network_problem(mode) is None) is valid and (mode in NETWORK_MODES) is valid
    config_ok = _accepts(lambda: ExecConfig(workspace=tmp_path, network_mode=mode), ValidationError)
    argv_ok = _accepts(lambda: ContainerSpec(name="c", image="i", network=mode), ConfigError)
    assert (config_ok, argv_ok) == (valid, valid)


IMAGES = [("massgen/mcp-runtime:latest", True), ("me/img:1", True), ("localhost:5000/a/b", True),
          ("ghcr.io/a/b@sha256:" + "0" * 64, True), ("alpine", True),
          ("", False), ("-x", False), ("--privileged", False), ("a b", False), ("a\tb", False), ("a\nb", False),
          ("i" * 256, False)]


@pytest.mark.parametrize("image, valid", IMAGES)
def test_every_layer_agrees_on_image_names(image, valid, tmp_path):
    assert (image_problem(image) is None) is valid
    config_ok = _accepts(lambda: ExecConfig(workspace=tmp_path, docker_image=image), ValidationError)
    argv_ok = _accepts(lambda: ContainerSpec(name="c", image=image), ConfigError)
    assert (config_ok, argv_ok) == (valid, valid)


def test_a_bad_image_is_refused_when_the_config_loads(tmp_path):
    with pytest.raises(ValidationError, match="must not start with '-'"):
        ExecConfig(workspace=tmp_path, docker_image="--privileged")


PATTERNS = [("python .*", True), (r"git (status|log)\b.*", True), ("rm .*", True), ("(", False), ("[a-", False),
            ("*x", False), (r"(a|aa)+$", False), (3, False), (None, False), ("x" * 1001, False)]


@pytest.mark.parametrize("pattern, valid", PATTERNS)
@pytest.mark.parametrize("kind", ["allow", "deny"])
def test_config_and_rule_agree_on_patterns(pattern, valid, kind, tmp_path):
    assert (pattern_problem(pattern, kind) is None) is valid
    field = "allow_patterns" if kind == "allow" else "deny_patterns"
    assert _accepts(lambda: ExecConfig(workspace=tmp_path, **{field: [pattern]}), ValidationError) is valid


@pytest.mark.parametrize("pattern", ["(", "[a-", "*x"])
def test_the_policy_refuses_the_syntax_the_config_refuses(pattern):
    assert vet_pattern(pattern, "deny") is not None
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        compile_patterns([pattern], kind="deny")


def _accepts(build, error) -> bool:
    try:
        build()
    except error:
        return False
    return True
