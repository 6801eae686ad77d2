"""Runs inside MassGen's own interpreter (for `mgexec massgen`): every agent's command_line server becomes `mgexec serve`.

MassGen builds that server's entry in one method, FilesystemManager.get_command_line_mcp_config, as
`fastmcp run <_code_execution_server.py>:create_server -- FLAGS...` with the agent's workspace as cwd.
This swaps the command for mgexec and keeps FLAGS, cwd and env, so workspaces, modes and limits line
up as if MassGen's server ran. It imports nothing from mgexec: mgexec is not installed here.
Usage: MASSGEN_PYTHON THIS MGEXEC_COMMAND_JSON [massgen arguments...]
"""

import os
import sys

# This file's folder is mgexec's adapters package, whose http.py would shadow the standard library's.
if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]

import json  # noqa: E402  (after the path fix)

TESTED_VERSIONS = ("0.1.97",)
# MassGen hands servers a bare environment (HOME, LOGNAME, PATH, SHELL, TERM, USER, DOCKER_HOST);
# what mgexec itself reads, and the proxies commands need, come along.
PASSED = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
SERVER_MODULE = "_code_execution_server.py"


def _massgen_version():
    try:
        import massgen

        return getattr(massgen, "__version__", "unknown")
    except ImportError:
        return None


def _fail(message):
    sys.stderr.write(f"mgexec massgen: {message}\n")
    sys.stderr.flush()
    # Raised inside MassGen's set-up, an exception would be logged and the server left out; stop instead.
    os._exit(2)


def _unrecognised(version, what):
    _fail(f"MassGen {version} launches its command_line server in a shape this mgexec does not recognise "
          f"({what}); mgexec massgen knows MassGen {', '.join(TESTED_VERSIONS)}. Use a `command_line` entry in the "
          "config instead (see mgexec's README, MassGen section), or a MassGen version mgexec knows.")


def to_mgexec(config, mgexec_command, version):
    """MassGen's server entry with mgexec in place of its server; anything unexpected stops the run."""
    args = [str(a) for a in config.get("args") or []]
    if config.get("command") != "fastmcp" or args[:1] != ["run"] or "--" not in args:
        _unrecognised(version, f"command {config.get('command')!r} {args[:3]}")
    split = args.index("--")
    if split != 2 or not args[1].split(":")[0].endswith(SERVER_MODULE):
        _unrecognised(version, f"server {args[1:split]}")
    env = dict(config.get("env") or {})
    env.update({k: v for k, v in os.environ.items() if k.startswith("MGEXEC_") or k in PASSED})
    return {**config, "command": mgexec_command[0], "args": [*mgexec_command[1:], "serve", *args[split + 1:]],
            "env": env}


def install(mgexec_command):
    version = _massgen_version()
    if version is None:
        _fail(f"this interpreter ({sys.executable}) has no MassGen; point MGEXEC_MASSGEN at MassGen's `massgen`.")
    try:
        from massgen.filesystem_manager._filesystem_manager import FilesystemManager
    except ImportError as exc:
        _unrecognised(version, f"no FilesystemManager: {exc}")
    original = getattr(FilesystemManager, "get_command_line_mcp_config", None)
    if original is None:
        _unrecognised(version, "no FilesystemManager.get_command_line_mcp_config")

    def get_command_line_mcp_config(self, *args, **kwargs):
        return to_mgexec(original(self, *args, **kwargs), mgexec_command, version)

    FilesystemManager.get_command_line_mcp_config = get_command_line_mcp_config


def main():
    mgexec_command = json.loads(sys.argv[1])
    install(mgexec_command)
    from importlib.metadata import entry_points

    scripts = [e for e in entry_points(group="console_scripts") if e.name == "massgen"]
    if not scripts:
        _fail("MassGen's `massgen` entry point is missing; reinstall MassGen.")
    sys.argv = ["massgen", *sys.argv[2:]]
    sys.exit(scripts[0].load()())


if __name__ == "__main__":
    main()
