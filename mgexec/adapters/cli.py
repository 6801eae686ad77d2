"""The `mgexec` command: a thin click adapter over config, executors and the MCP server."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from mgexec import __version__, processes
from mgexec.adapters.massgen_serve import SERVE_EPILOG, ServeCommand, massgen_setup, massgen_workspace_option
from mgexec.errors import MgexecError

EXIT_USAGE = 2
EXIT_REFUSED = 126
EXIT_TIMEOUT = 124

EPILOG = """\b
Examples:
  mgexec exec -- ls -la                         run in local mode, this directory as workspace
  mgexec exec --json -- 'pytest -x | tail -5'   print the full result object
  mgexec exec --config conf/docker_simple.yaml -- python --version
  mgexec serve --config @examples/docker_simple  MCP server on stdio
  mgexec config check my_massgen_config.yaml    validate and show the resolved settings
  mgexec doctor                                 what is available, and how to fix gaps
  mgexec massgen --config team.yaml "question"  MassGen itself, its agents' commands run by mgexec
"""


class MgexecGroup(click.Group):
    """Turns MgexecError into one clear paragraph on stderr; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MgexecError as exc:
            if (ctx.obj or {}).get("debug") and getattr(exc, "argv", None):
                click.echo(f"mgexec: the failed command was: {shlex.join(exc.argv)}", err=True)
            _fail(ctx, str(exc), EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            raise SystemExit(130)
        except BrokenPipeError:
            # The reader went away (`mgexec ... | head`): stop quietly, as shell tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(141)
        except Exception as exc:  # an mgexec bug, not a user mistake
            _fail(ctx, f"internal error: {type(exc).__name__}: {exc}. Run again with --debug for the "
                       "traceback, and please report it.", 1)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    if (ctx.obj or {}).get("debug"):
        traceback.print_exc()
    click.echo(f"mgexec: {message}", err=True)
    ctx.exit(code)


config_option = click.option("--config", "-c", "config", metavar="FILE",
                             help="MassGen-style YAML config, or @examples/NAME. Default: local mode in this directory.")
agent_option = click.option("--agent", "-a", "agent", metavar="ID", help="Which agent of a multi-agent config.")


def workspace_options(command):
    """--workspace, --allow and --allow-broad-workspace: a generic client's whole config is these arguments."""
    command = click.option("--allow-broad-workspace", "allow_broad", is_flag=True,
                           help="Accept /, a system directory or the home directory as the workspace or an allowed path.")(command)
    command = click.option("--allow", "allow", metavar="DIR[:ro|rw]", multiple=True,
                           help="Another directory commands may use (read-only unless :rw); repeatable.")(command)
    command = click.option("--mode", "mode", type=click.Choice(["local", "docker", "srt"]), expose_value=False,
                           callback=_remember_mode, help="Execution mode (overrides the config's "
                           "command_line_execution_mode); srt: a bubblewrap sandbox on this host.")(command)
    return click.option("--workspace", metavar="DIR", help="The workspace (overrides the config's cwd).")(command)


def _remember_mode(ctx: click.Context, _param, value: str | None) -> None:
    # Kept on the context rather than passed along, so that every command taking workspace options takes --mode.
    ctx.ensure_object(dict)["mode"] = value


def _agent_config(config: str | None, agent: str | None, workspace: str | None = None, allow: tuple[str, ...] = (),
                  allow_broad: bool = False, *, check: bool = True, massgen=None):
    """The agent's config with MassGen's server flags (`massgen`), then the workspace flags applied, its
    workspace checked (unless check=False)."""
    from mgexec.config import load_config
    from mgexec.config.workspace import apply_flags, check_workspace

    cfg = load_config(config, agent)
    if massgen is not None:
        from mgexec.config.massgen_flags import apply_massgen_flags

        cfg = apply_massgen_flags(cfg, massgen, Path.cwd())
    cfg = apply_flags(cfg, workspace=workspace, allow=allow, allow_broad=allow_broad)
    mode = (click.get_current_context().obj or {}).get("mode")
    if mode is not None:
        cfg = cfg.model_copy(update={"mode": mode})
    if check:
        check_workspace(cfg, "--workspace" if workspace is not None else "the config's cwd")
    return cfg


@click.group(cls=MgexecGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mgexec")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run shell commands for LLM agents: on the host with guard rails, or in a per-agent Docker container."""
    ctx.ensure_object(dict)["debug"] = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


@cli.command("exec", epilog="Exit status: the command's own; 124 on timeout; 126 when refused by policy or unable to run.")
@config_option
@agent_option
@click.option("--timeout", "-t", type=float, help="Seconds before the whole process tree is killed, above 0 and at most 86400 (default from config, 60).")
@click.option("--workdir", "-w", metavar="DIR", help="Directory to run in (inside the workspace or a context path).")
@click.option("--json", "as_json", is_flag=True, help="Print the result object as JSON instead of the output.")
@workspace_options
@click.argument("command", nargs=-1, required=True)
def exec_command(config: str | None, agent: str | None, timeout: float | None, workdir: str | None,
                 as_json: bool, workspace: str | None, allow: tuple[str, ...], allow_broad: bool,
                 command: tuple[str, ...]) -> None:
    """Run COMMAND once through the same executor and policy as the server.

    Put `--` before the command. One argument is run as a shell line as is; several are quoted and joined.
    """
    from mgexec.config.limits import check_timeout
    from mgexec.adapters.oneshot import run_once

    if timeout is not None:
        timeout = check_timeout(timeout, name="--timeout")
    line = command[0] if len(command) == 1 else shlex.join(command)
    cfg = _agent_config(config, agent, workspace, allow, allow_broad)
    processes.become_subreaper()  # this process owns every child it has: orphans of the command come back
    result = asyncio.run(run_once(cfg, line, timeout=timeout, work_dir=workdir,
                                  on_setup=_say_progress))
    if as_json:
        from mgexec.result import encodable_tree

        click.echo(encodable_tree(result).model_dump_json(indent=2))
    else:
        sys.stdout.write(result.stdout)
        sys.stdout.flush()
        sys.stderr.write(result.stderr if result.stderr.endswith("\n") or not result.stderr else result.stderr + "\n")
    raise SystemExit(_exit_status(result))


async def _say_progress(elapsed: float, message: str) -> None:
    click.echo(f"mgexec: {message}", err=True)


def _exit_status(result) -> int:
    if result.timed_out:
        return EXIT_TIMEOUT
    if result.exit_code < 0:
        return EXIT_REFUSED
    return min(result.exit_code, 255)


@cli.command(cls=ServeCommand, epilog=SERVE_EPILOG)
@config_option
@agent_option
@massgen_workspace_option
@click.option("--transport", type=click.Choice(["stdio", "streamable-http"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for streamable-http.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port for streamable-http.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="streamable-http: file holding the bearer token (else $MGEXEC_HTTP_TOKEN, else one is generated).")
@click.option("--allow-remote", is_flag=True, help="streamable-http: allow a --host beyond loopback (needs a token you chose).")
@workspace_options
@click.pass_context
def serve(ctx: click.Context, config: str | None, agent: str | None, massgen_workspace: bool, transport: str,
          host: str, port: int, token_file: Path | None, allow_remote: bool, workspace: str | None,
          allow: tuple[str, ...], allow_broad: bool) -> None:
    """Serve the execution tools over MCP (stdio by default).

    Over streamable-http every request must carry 'Authorization: Bearer TOKEN'.
    """
    from mgexec.config.workspace import check_workspace, workspace_problem
    from mgexec.errors import ConfigError
    from mgexec.adapters.http import HttpOptions

    http_only = [f"--{p.replace('_', '-')}" for p in ("host", "port", "token_file", "allow_remote")
                 if ctx.get_parameter_source(p) is not click.core.ParameterSource.DEFAULT]
    if transport == "stdio" and http_only:
        raise ConfigError(f"{', '.join(http_only)}: only for --transport streamable-http; stdio has no address "
                          "or token (the client that starts the server is its only peer).")
    from mgexec.adapters.server import serve as run_server

    flags = ctx.meta.get("massgen_flags")
    cfg = _agent_config(config, agent, workspace, allow, allow_broad, check=False, massgen=flags)
    cfg = massgen_setup(cfg, flags, find_workspace=massgen_workspace and workspace is None)
    # With no workspace named, a stdio client in local mode may still supply one as MCP roots: the server
    # starts and refuses each call with the paragraph until it does. Elsewhere the refusal comes now.
    pending = workspace_problem(cfg)
    roots_may_fix = cfg.workspace_implicit and transport == "stdio" and cfg.mode == "local"
    check_workspace(cfg, "--workspace" if workspace is not None else "the config's cwd", workspace=not roots_may_fix)
    processes.become_subreaper()  # the server owns every child it has: orphans of commands come back to it
    run_server(cfg, transport=transport, pending=pending,
               http=HttpOptions(host=host, port=port, token_file=token_file, allow_remote=allow_remote))


@cli.group()
def config() -> None:
    """Inspect configuration files."""


@config.command("check")
@click.argument("file")
@agent_option
@click.option("--json", "as_json", is_flag=True, help="Print the resolved settings as JSON.")
def config_check(file: str, agent: str | None, as_json: bool) -> None:
    """Validate FILE and print the resolved settings of each agent (secrets are never shown)."""
    from mgexec.config import load_configs
    from mgexec.config.show import describe

    from mgexec.config.workspace import check_workspace
    from mgexec.docker.credentials import check_credentials, resolve_env

    configs = load_configs(file, create=False)
    if agent is not None:
        configs = [c for c in configs if c.agent_id == agent] or _no_agent(file, agent, configs)
    for cfg in configs:
        check_workspace(cfg)
        if cfg.mode == "docker":  # what a container start would refuse
            check_credentials(cfg.credentials)
        elif cfg.mode == "srt":  # what a sandbox start would refuse (credential mounts do not apply)
            resolve_env(cfg.credentials)
    if as_json:
        click.echo(json.dumps([c.model_dump(mode="json") for c in configs], indent=2))
        return
    for cfg in configs:
        click.echo(describe(cfg))
    click.echo(f"OK: {file} is valid ({len(configs)} agent{'s' if len(configs) != 1 else ''}).")


def _no_agent(file: str, agent: str, configs) -> list:
    from mgexec.errors import ConfigError

    raise ConfigError(f"{file} has no agent {agent!r}; agents: {', '.join(c.agent_id for c in configs)}.")


@config.command("examples")
def config_examples() -> None:
    """List the shipped example configs (use them as --config @examples/NAME)."""
    from mgexec.config import examples_dir, list_examples

    for name in list_examples():
        click.echo(f"@examples/{name.removesuffix('.yaml')}")
    click.echo(f"(files in {examples_dir()})", err=True)


@cli.command()
@config_option
@agent_option
@workspace_options
def doctor(config: str | None, agent: str | None, workspace: str | None, allow: tuple[str, ...], allow_broad: bool) -> None:
    """Check what mgexec can use here (workspace, docker CLI, daemon, images, podman) and how to fix each gap."""
    from mgexec.adapters.doctor import run_doctor

    ok = asyncio.run(run_doctor(_agent_config(config, agent, workspace, allow, allow_broad, check=False), click.echo))
    raise SystemExit(0 if ok else 1)


@cli.command()
@config_option
@agent_option
def up(config: str | None, agent: str | None) -> None:
    """Start the agent's container and keep it, so `mgexec exec --config F` reuses it."""
    from mgexec.adapters import housekeeping

    click.echo(asyncio.run(housekeeping.up(_docker_config(config, agent), _say_progress)))


@cli.command()
@config_option
@agent_option
def down(config: str | None, agent: str | None) -> None:
    """Remove the container `mgexec up` kept for the agent."""
    from mgexec.adapters import housekeeping

    click.echo(asyncio.run(housekeeping.down(_docker_config(config, agent))))


@cli.command("ps")
@config_option
@agent_option
def ps_command(config: str | None, agent: str | None) -> None:
    """List mgexec's containers, who holds each, and which are leftovers."""
    from mgexec.adapters import housekeeping
    from mgexec.config import load_config

    rows = asyncio.run(housekeeping.list_containers(load_config(config, agent)))
    if not rows:
        click.echo("No mgexec containers.")
        return
    header = ("NAME", "AGENT", "STATE", "HELD BY", "WORKSPACE")
    table = [header] + [(r.name, r.agent, r.state, r.held_by, r.workspace) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


@cli.command()
@config_option
@agent_option
@click.option("--include-kept", is_flag=True, help="Also remove containers kept by `mgexec up`.")
def cleanup(config: str | None, agent: str | None, include_kept: bool) -> None:
    """Remove every mgexec container whose owner process is gone, and channel directories of containers that no
    longer exist."""
    from mgexec.adapters import housekeeping
    from mgexec.config import load_config

    click.echo(asyncio.run(housekeeping.cleanup(load_config(config, agent), include_kept)).report())


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--sudo", is_flag=True, help="Build the sudo variant massgen/mcp-runtime-sudo.")
@click.option("--bootstrap", is_flag=True, help="Make the Debian base locally (no registry needed).")
@click.argument("build_args", nargs=-1, type=click.UNPROCESSED)
def build(sudo: bool, bootstrap: bool, build_args: tuple[str, ...]) -> None:
    """Build the runtime images with the packaged build.sh (other options go to it; see `mgexec build -- -h`)."""
    from mgexec.images import build_script

    args = [*(["--sudo"] if sudo else []), *(["--bootstrap"] if bootstrap else []), *build_args]
    script = build_script()
    sys.stdout.flush()
    # build.sh streams its own progress; replacing this process keeps its output and exit status intact.
    os.execvp("bash", ["bash", str(script), *args])


@cli.command("massgen", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                          "help_option_names": []})
@click.argument("massgen_args", nargs=-1, type=click.UNPROCESSED)
def massgen_command(massgen_args: tuple[str, ...]) -> None:
    """Run MassGen with its own arguments, every agent's command_line server being mgexec.

    MassGen is the `massgen` on PATH, or $MGEXEC_MASSGEN. Its workspaces, flags and modes stay as they are.
    """
    from mgexec.adapters.massgen_run import run_massgen

    run_massgen(list(massgen_args))


def _docker_config(config: str | None, agent: str | None):
    from mgexec.errors import ConfigError

    cfg = _agent_config(config, agent)
    if cfg.mode != "docker":
        raise ConfigError(f"Agent {cfg.agent_id} runs in {cfg.mode} mode, which has no container; "
                          "set command_line_execution_mode: docker in the config.")
    return cfg


def main() -> None:
    cli(prog_name="mgexec")


if __name__ == "__main__":
    main()
