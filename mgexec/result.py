"""The result of one command, in MassGen's shape plus `timed_out` and `truncated`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mgexec.runner import ProcessOutput

REJECTED_EXIT_CODE = -1
SHOWN_MAX = 140_000  # characters of a refused command echoed back; above the kernel's limit for one argument


class ExecResult(BaseModel):
    """What execute_command returns for every outcome: ran, failed, timed out or refused."""

    success: bool = Field(description="True when the command ran and exited 0")
    exit_code: int = Field(description="The command's exit code; -1 when it was refused, timed out or could not start")
    stdout: str = Field(description="Standard output, capped per stream")
    stderr: str = Field(description="Standard error, capped per stream; the reason when success is false and exit_code is -1")
    execution_time: float = Field(description="Seconds from start to end")
    command: str
    work_dir: str
    timed_out: bool = False
    truncated: bool = Field(default=False, description="True when output beyond the cap was dropped")


def rejected(command: str, work_dir: str, reason: str) -> ExecResult:
    """A command refused before it ran (policy, bad work_dir, engine problem)."""
    return ExecResult(success=False, exit_code=REJECTED_EXIT_CODE, stdout="", stderr=reason,
                      execution_time=0.0, command=clipped(encodable(command)), work_dir=clipped(encodable(work_dir)))


def clipped(text: str, limit: int = SHOWN_MAX) -> str:
    """A refused argument as echoed back: whole unless it is huge (it could not have run anyway)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters in all)"


def encodable_tree(value):
    """value with every string made encodable (see encodable): dicts, lists and results, recursively.

    Paths on disk may hold bytes that are not UTF-8 (a directory named b"d\xff"); Python gives
    them as lone surrogates, which no JSON reply can carry, so the whole reply would be lost.
    """
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {encodable(k) if isinstance(k, str) else k: encodable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable_tree(item) for item in value]
    if isinstance(value, BaseModel):
        return value.model_copy(update={name: encodable_tree(getattr(value, name))
                                        for name in type(value).model_fields})
    return value


def encodable(text: object) -> str:
    """text as it can travel in a UTF-8 JSON reply: an unpaired surrogate is shown as its escape."""
    text = text if isinstance(text, str) else repr(text)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")  # fails only on a lone surrogate; far cheaper than the round trip below
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def from_process(out: ProcessOutput, command: str, work_dir: str, timeout: float) -> ExecResult:
    if out.timed_out:
        note = f"Command timed out after {timeout:g} seconds"
        stderr = f"{out.stderr.rstrip()}\n{note}" if out.stderr.strip() else note
        return ExecResult(success=False, exit_code=REJECTED_EXIT_CODE, stdout=out.stdout, stderr=stderr,
                          execution_time=out.duration, command=command, work_dir=work_dir,
                          timed_out=True, truncated=out.truncated)
    code = out.exit_code if out.exit_code is not None else REJECTED_EXIT_CODE
    # A shell reports death by signal N as 128+N; asyncio reports -N: keep the shell's convention.
    if code < 0:
        code = 128 - code
    return ExecResult(success=code == 0, exit_code=code, stdout=out.stdout, stderr=out.stderr,
                      execution_time=out.duration, command=command, work_dir=work_dir,
                      truncated=out.truncated)
