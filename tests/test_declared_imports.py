"""Every third-party module mgexec imports comes from a distribution setup.cfg declares (no reliance on what others pull in)."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Imported only by code that runs in another program's interpreter, never in mgexec's own.
FOREIGN = {"massgen": "mgexec/adapters/massgen_launcher.py runs inside MassGen's own Python"}


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "mgexec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m != "mgexec" and m not in sys.stdlib_module_names and m not in FOREIGN}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = parser["options"]["install_requires"].split("\n")
    return {_normal(re.match(r"[A-Za-z0-9._-]+", line.strip()).group()) for line in lines if line.strip()}


def test_every_third_party_import_is_declared_in_install_requires():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {module: distributions.get(module) for module in _imported_top_level_modules()
                  if not {_normal(d) for d in distributions.get(module, [module])} & declared}
    assert undeclared == {}


def test_the_shells_use_ptyprocess_not_pexpect():
    assert "ptyprocess" in _imported_top_level_modules() and "ptyprocess" in _declared()
    assert "pexpect" not in _imported_top_level_modules()
