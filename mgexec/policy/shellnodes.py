"""The syntax tree the shell parser builds: lists, pipelines, simple and compound commands."""

from __future__ import annotations

from dataclasses import dataclass, field

from mgexec.policy.shelltokens import Word


@dataclass
class RedirNode:
    op: str
    fd: str
    target: Word


@dataclass
class Simple:
    assigns: list[Word]
    words: list[Word]
    redirects: list[RedirNode]
    text: str


@dataclass
class Compound:
    """A subshell, group, if, loop, case, `(( ))` or `[[ ]]`: bodies to walk, words it expands."""

    kind: str
    bodies: list[Script]
    words: list[Word]
    redirects: list[RedirNode] = field(default_factory=list)
    name: str = ""  # the variable of a `for` or `select` loop


@dataclass
class FuncDef:
    name: str
    body: Compound


Command = Simple | Compound | FuncDef


@dataclass
class Pipeline:
    commands: list[Command]


@dataclass
class AndOr:
    pipelines: list[Pipeline]
    background: bool = False


@dataclass
class Script:
    items: list[AndOr]
