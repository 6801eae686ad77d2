"""A bounded YAML reader for config files: no billion laughs, no deep nesting, no duplicate keys.

PyYAML's safe loader shares aliased nodes, so a tiny file can describe a value with billions of
elements that validation and error messages would then walk; and it composes nesting
recursively, so deep nesting ends in a RecursionError. Both are refused here, before any value is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mgexec.errors import ConfigError

MAX_FILE_BYTES = 1024**2
MAX_DEPTH = 64
MAX_VALUES = 20_000  # counting every value an alias repeats; real configs have a few hundred
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(yaml.MarkedYAMLError):
    """A well-formed document that mgexec will not read; `problem` says why and what to do."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_VALUES:  # stop reading early: parsing is the slow part
                raise _Refused(problem=f"the file holds more than {MAX_VALUES:,} values; a config is far smaller",
                               problem_mark=self.peek_event().start_mark)
            if self._depth > MAX_DEPTH:
                raise _Refused(problem=f"the values nest more than {MAX_DEPTH} levels deep; a config needs a "
                                       "handful of levels, so flatten it", problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                raise _Refused(problem=f"the key {key.value[:80]!r} appears twice in one mapping (first at line "
                                       f"{first.start_mark.line + 1}); YAML would silently keep only the last, so "
                                       "remove one of them", problem_mark=key.start_mark)
        return node

    def compose_document(self):
        node = super().compose_document()
        _check_size(node)
        return node


def _check_size(root: yaml.Node) -> None:
    """Count the values `root` stands for with every alias expanded (shared nodes counted once per use)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _Refused(problem="an alias refers to the value that contains it, which would make an endless "
                                   "value; refer to a finished anchor instead", problem_mark=node.start_mark)
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(key)
        sizes[key] = total
        if total > MAX_VALUES:
            raise _Refused(problem=f"the value starting here stands for more than {MAX_VALUES:,} values once its "
                                   "anchors and aliases (*name) are expanded; a config is far smaller, so write "
                                   "the values out or reuse fewer", problem_mark=node.start_mark)
        return total

    if root is not None:
        size(root)


def read_config_yaml(path: Path) -> Any:
    """The parsed document of a config file, or a ConfigError saying what is wrong and where."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist. Check the path, or use '@examples/NAME' for a "
                          "shipped example (mgexec config examples lists them).") from None
    except IsADirectoryError:
        raise ConfigError(f"Config path {path} is a directory; give the YAML file inside it.") from None
    except OSError as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"Config file {path} is larger than {MAX_FILE_BYTES // 1024} KiB; a config file is a few "
                          "KiB. Check that this is the file you meant.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"Config file {path} is not UTF-8 text (byte {exc.start} is not valid); save it as UTF-8.") from None
    return _parse(text, path)


def _parse(text: str, path: Path) -> Any:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, _Refused):
            raise ConfigError(f"Config file {path}{where}: {exc.problem}.") from None
        raise ConfigError(f"Config file {path} is not valid YAML{where}: {exc.problem or exc}. "
                          "Fix the syntax there (indentation and ':' are the usual suspects).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}.") from None
    finally:
        loader.dispose()
