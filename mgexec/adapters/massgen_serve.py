"""`serve`'s MassGen side: MassGen's server flags on its command line, and the workspace MassGen made for the run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mgexec.errors import ConfigError

if TYPE_CHECKING:
    from mgexec.config.massgen_flags import MassGenFlags


class ServeCommand(click.Command):
    """`serve` also takes MassGen's server flags (lists as MassGen passes them), and names an unknown option in one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from mgexec.config.massgen_flags import FLAGS, first_unknown_option, split_massgen_flags  # only serve's path

        flags, rest = split_massgen_flags(args)
        known = {opt for param in self.get_params(ctx) for opt in (*param.opts, *param.secondary_opts)}
        if (unknown := first_unknown_option(rest, known)) is not None:
            raise ConfigError(f"serve does not know the option {unknown}. It takes mgexec's options (mgexec serve "
                              f"--help) and MassGen's server flags ({', '.join(FLAGS)}); a newer MassGen may pass "
                              "flags this mgexec predates.")
        ctx.meta["massgen_flags"] = flags
        return super().parse_args(ctx, rest)


SERVE_EPILOG = ("MassGen's server flags are taken too, with MassGen's meanings: --allowed-paths P..., --timeout S, "
                "--max-output-size B, --allowed-commands P..., --blocked-commands P..., --execution-mode "
                "local|docker|srt, --srt-settings FILE, --agent-id ID, --instance-id ID, --enable-sudo, "
                "--local-skills-directory DIR. With --allowed-paths (MassGen's own launch) the workspace is the "
                "current directory.")

massgen_workspace_option = click.option(
    "--massgen-workspace", is_flag=True,
    help="The workspace is the CWD_<8 hex> copy that the MassGen run starting this server made of the config's cwd "
         "(for a command_line entry in a MassGen config).")


def massgen_setup(cfg, flags: MassGenFlags | None, *, find_workspace: bool):
    """The config in MassGen's workspace for this run (when asked to find it), with MassGen's skills link made."""
    if find_workspace and not (flags is not None and flags.launched_by_massgen):
        cfg = _in_massgen_workspace(cfg)
    if flags is not None and flags.local_skills_directory is not None and cfg.mode == "local":
        from mgexec.config.massgen_workspace import link_skills

        link_skills(cfg.workspace, Path(flags.local_skills_directory).resolve())
    return cfg


def _in_massgen_workspace(cfg):
    from mgexec.config.massgen_workspace import find_massgen_workspace

    here = Path.cwd().resolve()
    given = cfg.workspace.relative_to(here) if cfg.workspace.is_relative_to(here) else cfg.workspace
    return cfg.model_copy(update={"workspace": find_massgen_workspace(str(given), here), "workspace_implicit": False})
