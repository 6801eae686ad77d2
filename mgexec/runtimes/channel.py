"""Commands in a container through the warm exec channel (mgexec.docker.channel): a message each, no new `docker exec`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from mgexec.docker.channel import ChannelOutput, ExecChannel
from mgexec.errors import ChannelLost, MgexecError, SpawnFailed
from mgexec.runner import ProcessOutput
from mgexec.runtimes import Runtime


class ChannelRuntime(Runtime):
    """Runs each command as a fresh process inside, started by the channel's helper, which enforces the
    timeout and kills the command's tree there; closing the channel ends every command it runs."""

    def __init__(self, channel: ExecChannel, kill_grace: float,
                 lost: Callable[[ChannelLost], str] | None = None) -> None:
        self.channel = channel
        self.kill_grace = kill_grace
        self.lost = lost  # the loss in the place's own terms (the channel's message speaks of containers)

    async def run(self, command: str, *, work_dir: Path, timeout: float, output_cap: int,
                  env: Mapping[str, str] | None = None) -> ProcessOutput:
        try:
            out = await self.channel.run(command, work_dir=str(work_dir), timeout=timeout, output_cap=output_cap,
                                         kill_grace=self.kill_grace, env=env)
        except ChannelLost as exc:
            if self.lost is not None:
                raise MgexecError(self.lost(exc)) from exc
            raise ChannelLost(f"{exc} The command may not have finished; run it again.", argv=exc.argv,
                              exit_code=exc.exit_code, stderr=exc.stderr, kind=exc.kind,
                              container=exc.container) from exc
        if isinstance(out, ChannelOutput) and out.work_dir_unusable:
            raise SpawnFailed(out.stderr.strip())  # the helper could not enter work_dir: nothing ran
        return out

    async def close(self) -> None:
        await self.channel.close()
