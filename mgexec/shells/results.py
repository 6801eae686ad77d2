"""What the six background-shell tools answer: MassGen 0.1.12's shapes as pydantic models, so MCP clients get schemas.

Each tool answers either its result or MassGen's refusal `{success: false, error}`; its output
model is the union of the two, published as one object schema. Keys MassGen sends only
sometimes (`matched`, `message`) are left out when they have no value, as before.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_serializer

Status = Literal["running", "stopped", "failed", "killed"]
STATUS_HELP = "running; stopped (exited 0); failed (exited non-zero); killed (by kill_background_shell or a signal)"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    omitted_when_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in self.omitted_when_none:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class ShellError(_Answer):
    """A refused or failed call, in MassGen's shape."""

    success: Literal[False] = False
    error: str = Field(description="What was wrong and what to do, in one paragraph")


class StartedShell(_Answer):
    shell_id: str = Field(description="The id the other shell tools take, like shell_1a2b3c4d")
    status: Status = Field(description=STATUS_HELP)
    command: str
    pid: int = Field(description="The shell's process id (inside the container in docker mode)")
    work_dir: str


class ShellOutput(_Answer):
    omitted_when_none = frozenset({"matched"})

    shell_id: str
    stdout: str = Field(description="The output, stdout and stderr merged as a terminal shows them")
    stderr: str = Field(description="Always empty: a terminal merges stderr into stdout")
    status: Status = Field(description=STATUS_HELP)
    exit_code: int | None = Field(description="None while running; negative: ended by that signal")
    merged: bool = Field(description="True: stderr arrives merged in stdout")
    dropped_lines: int = Field(description="Lines dropped from the start of the kept output")
    dropped_bytes: int = Field(description="Bytes dropped from the start of the kept output")
    matched: bool | None = Field(default=None, description="Only with wait_for: whether the pattern appeared")


class ShellStatus(_Answer):
    shell_id: str
    status: Status = Field(description=STATUS_HELP)
    exit_code: int | None = Field(description="None while running; negative: ended by that signal")
    pid: int
    command: str
    cwd: str
    start_time: float = Field(description="When it started, in seconds since the epoch")
    duration_seconds: float = Field(description="How long it ran (so far, while running)")


class KilledShell(_Answer):
    omitted_when_none = frozenset({"message"})

    shell_id: str
    status: Status = Field(description=STATUS_HELP)
    signal: Literal["SIGTERM", "SIGKILL"] | None = Field(
        description="The signal that ended it; None when it had already ended")
    message: str | None = Field(default=None, description="Only when it had already ended")


class ShellList(_Answer):
    shells: list[ShellStatus]
    count: int


class InputSent(_Answer):
    shell_id: str
    success: Literal[True] = True
    bytes_written: int


def _schema_of(result: type[_Answer]) -> ConfigDict:
    # RootModel's schema is a bare anyOf; MCP wants an object at the root of every outputSchema.
    return ConfigDict(json_schema_extra={"type": "object"}, title=f"{result.__name__}OrError")


class StartAnswer(RootModel[Union[StartedShell, ShellError]]):
    model_config = _schema_of(StartedShell)


class OutputAnswer(RootModel[Union[ShellOutput, ShellError]]):
    model_config = _schema_of(ShellOutput)


class StatusAnswer(RootModel[Union[ShellStatus, ShellError]]):
    model_config = _schema_of(ShellStatus)


class KillAnswer(RootModel[Union[KilledShell, ShellError]]):
    model_config = _schema_of(KilledShell)


class ListAnswer(RootModel[Union[ShellList, ShellError]]):
    model_config = _schema_of(ShellList)


class InputAnswer(RootModel[Union[InputSent, ShellError]]):
    model_config = _schema_of(InputSent)

