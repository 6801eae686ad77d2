"""Where commands may run when a generic client starts mgexec: --workspace, --allow, MCP roots, broad workspaces.

End to end through the official SDK's stdio client, with the server started in `/` as Claude
Desktop does, and through the `mgexec` command. HOME is a throwaway directory in every test, so
"the home directory" is one the test made.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import types
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from mgexec.config.workspace import broad_reason, parse_allow

MGEXEC = str(Path(sys.executable).parent / "mgexec")
pytestmark = pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
PARAGRAPH = "Fix it in one of three ways: pass --workspace DIR"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    made = {name: tmp_path / name for name in ("a", "b", "c")}
    for path in made.values():
        path.mkdir()
    return made


class Roots:
    def __init__(self, paths: list[Path | str]) -> None:
        self.paths = paths

    async def __call__(self, context) -> types.ListRootsResult:
        uris = [p if isinstance(p, str) else p.as_uri() for p in self.paths]
        return types.ListRootsResult(roots=[types.Root(uri=u) for u in uris])


@asynccontextmanager
async def connect(cwd: Path | str, home: Path, *args: str, roots: Roots | None = None, errlog=None):
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}  # what Claude Desktop passes, more or less
    params = StdioServerParameters(command=MGEXEC, args=["serve", *args], cwd=str(cwd), env=env)
    with open(errlog or os.devnull, "w") as err:
        async with stdio_client(params, errlog=err) as (read, write):
            async with ClientSession(read, write, list_roots_callback=roots) as session:
                await session.initialize()
                yield session


async def run(session, command: str, **kw) -> dict:
    result = await session.call_tool("execute_command", {"command": command, **kw})
    assert not result.is_error, result
    return result.structured_content


async def test_cwd_root_and_no_roots_refuses_every_call_with_the_paragraph(tmp_path, home):
    canary, errlog = tmp_path / "canary", tmp_path / "stderr"
    async with connect("/", home, errlog=errlog) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        data = await run(session, f"touch {canary}")
        shell = (await session.call_tool("start_background_shell", {"command": f"touch {canary}"})).structured_content
    assert "execute_command" in tools
    assert (data["success"], data["exit_code"]) == (False, -1)
    assert data["stderr"].startswith("Refusing to use / as the workspace: it is the root of the whole filesystem")
    assert PARAGRAPH in data["stderr"] and "--allow-broad-workspace" in data["stderr"] and "MCP roots" in data["stderr"]
    assert shell["success"] is False and shell["error"] == data["stderr"]
    assert not canary.exists()
    err = errlog.read_text()
    assert "Refusing to use / as the workspace" in err and "This client offers no MCP roots" in err
    assert "Traceback" not in err


async def test_cwd_root_serves_exactly_the_roots_the_client_offers(tmp_path, home, dirs):
    errlog = tmp_path / "stderr"
    async with connect("/", home, roots=Roots([dirs["a"], dirs["b"]]), errlog=errlog) as session:
        first = await run(session, "pwd; touch made-here")
        other = await run(session, "pwd; touch made-in-b", work_dir=str(dirs["b"]))
        outside = await run(session, "pwd", work_dir=str(dirs["c"]))
        root = await run(session, "pwd", work_dir="/")
    assert first["stdout"] == f"{dirs['a']}\n" and (dirs["a"] / "made-here").exists()
    assert other["stdout"] == f"{dirs['b']}\n" and (dirs["b"] / "made-in-b").exists()
    for refused in (outside, root):
        assert refused["exit_code"] == -1 and "outside the workspace" in refused["stderr"]
    err = errlog.read_text()
    assert f"workspace {dirs['a']} (the client's first root); also allowed, read-write: {dirs['b']}" in err


async def test_roots_list_changed_moves_the_confinement_for_later_calls(tmp_path, home, dirs):
    roots = Roots([dirs["a"]])
    errlog = tmp_path / "stderr"
    async with connect("/", home, roots=roots, errlog=errlog) as session:
        before = await run(session, "pwd")
        roots.paths = [dirs["c"]]
        await session.send_roots_list_changed()
        after = await run(session, "pwd")
        old = await run(session, "pwd", work_dir=str(dirs["a"]))
        roots.paths = []
        await session.send_roots_list_changed()
        none = await run(session, "pwd")
    assert before["stdout"] == f"{dirs['a']}\n" and after["stdout"] == f"{dirs['c']}\n"
    assert old["exit_code"] == -1 and "outside the workspace" in old["stderr"]
    assert none["exit_code"] == -1 and none["stderr"].startswith("Refusing to use / as the workspace")
    assert "The client's roots offer no usable directory" in none["stderr"]
    assert f"workspace {dirs['c']} (the client's first root)" in errlog.read_text()


@pytest.mark.parametrize("bad", ["/", "HOME", "/etc", "/usr", "file://otherhost/srv/repo", "file:///nonexistent-p4-root"])
async def test_broad_or_unusable_roots_are_skipped(tmp_path, home, dirs, bad):
    uri = home.as_uri() if bad == "HOME" else (bad if "://" in bad else Path(bad).as_uri())
    errlog = tmp_path / "stderr"
    async with connect("/", home, roots=Roots([uri, dirs["b"]]), errlog=errlog) as session:
        data = await run(session, "pwd")
        refused = await run(session, "pwd", work_dir=str(home if bad == "HOME" else "/"))
    assert data["stdout"] == f"{dirs['b']}\n"  # the next usable root is the workspace
    assert refused["exit_code"] == -1
    assert f"ignoring the client's root {uri}" in errlog.read_text()


async def test_a_client_that_fails_to_list_roots_gets_a_refusal_and_is_asked_again(tmp_path, home, dirs):
    answers = [types.ErrorData(code=types.INTERNAL_ERROR, message="roots broke"),
               types.ListRootsResult(roots=[types.Root(uri=dirs["a"].as_uri())])]

    async def flaky(context):
        return answers.pop(0)

    async with connect("/", home, roots=flaky) as session:
        first = await run(session, f"touch {tmp_path / 'canary'}")
        second = await run(session, "pwd")
    assert first["exit_code"] == -1 and "asked the client for its MCP roots and got no answer" in first["stderr"]
    assert "roots broke" in first["stderr"] and not (tmp_path / "canary").exists()
    assert second["stdout"] == f"{dirs['a']}\n"


async def test_only_broad_roots_means_refusal(tmp_path, home):
    async with connect("/", home, roots=Roots([Path("/").as_uri(), home.as_uri()])) as session:
        data = await run(session, f"touch {tmp_path / 'canary'}")
    assert data["exit_code"] == -1 and "Refusing to use / as the workspace" in data["stderr"]
    assert not (tmp_path / "canary").exists()


async def test_broad_roots_are_accepted_with_the_override(home, dirs):
    async with connect("/", home, "--allow-broad-workspace", roots=Roots([home])) as session:
        assert (await run(session, "pwd"))["stdout"] == f"{home}\n"


async def test_roots_replace_an_ordinary_current_directory_but_not_a_named_workspace(home, dirs):
    async with connect(dirs["c"], home, roots=Roots([dirs["a"]])) as session:
        assert (await run(session, "pwd"))["stdout"] == f"{dirs['a']}\n"
    async with connect(dirs["c"], home) as session:  # no roots: the current directory
        assert (await run(session, "pwd"))["stdout"] == f"{dirs['c']}\n"
    async with connect("/", home, "--workspace", str(dirs["b"]), roots=Roots([dirs["a"]])) as session:
        assert (await run(session, "pwd"))["stdout"] == f"{dirs['b']}\n"
        assert (await run(session, "pwd", work_dir=str(dirs["a"])))["exit_code"] == -1


async def test_workspace_and_allow_flags_through_the_client(home, dirs):
    args = ["--workspace", str(dirs["a"]), "--allow", f"{dirs['b']}:rw", "--allow", f"{dirs['c']}:ro"]
    async with connect("/", home, *args) as session:
        assert (await run(session, "pwd"))["stdout"] == f"{dirs['a']}\n"
        assert (await run(session, "pwd", work_dir=str(dirs["b"])))["stdout"] == f"{dirs['b']}\n"
        assert (await run(session, "pwd", work_dir=str(dirs["c"])))["stdout"] == f"{dirs['c']}\n"
        assert (await run(session, "pwd", work_dir="/"))["exit_code"] == -1


# --- the mgexec command -----------------------------------------------------------------------

def mgexec(args: list[str], cwd: Path | str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([MGEXEC, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


BROAD = [("/", [], "/"), ("HOME", [], "HOME"), ("/etc", [], "/etc"), ("/usr/share", [], "/usr/share"), ("/tmp", [], "/tmp"),
         ("X", ["--workspace", "/"], "/"), ("X", ["--workspace", "HOME"], "HOME"), ("X", ["--workspace", "/var"], "/var")]
# serve over stdio without a workspace starts and waits for roots (tested through the client above);
# over HTTP, or with a named workspace, it refuses at once.
SERVE = [(cwd, args, refused, "serve") for cwd, args, refused in BROAD if args]
SERVE += [(cwd, ["--transport", "streamable-http"], refused, "serve") for cwd, args, refused in BROAD if not args]


@pytest.mark.parametrize("cwd,args,refused,command", [(*case, "exec") for case in BROAD] + SERVE)
def test_broad_workspaces_are_refused_with_one_paragraph(tmp_path, home, cwd, args, refused, command):
    subst = {"HOME": str(home), "X": str(tmp_path / "x")}
    (tmp_path / "x").mkdir()
    cwd, refused = subst.get(cwd, cwd), subst.get(refused, refused)
    args = [subst.get(a, a) for a in args]
    extra = ["--", f"touch {tmp_path / 'canary'}"] if command == "exec" else []
    proc = mgexec([command, *args, *extra], cwd, home)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"mgexec: Refusing to use {refused} as the workspace: it is ")
    assert proc.stderr.count("\n") == 1 and PARAGRAPH in proc.stderr
    assert not (tmp_path / "canary").exists()


def test_the_override_and_the_config_key(tmp_path, home):
    assert mgexec(["exec", "--allow-broad-workspace", "--", "pwd"], "/", home).stdout == "/\n"
    (tmp_path / "c.yaml").write_text("agent:\n  backend:\n    cwd: /\n")
    proc = mgexec(["exec", "--config", str(tmp_path / "c.yaml"), "--", "pwd"], tmp_path, home)
    assert proc.returncode == 2 and "It came from the config's cwd" in proc.stderr
    check = mgexec(["config", "check", str(tmp_path / "c.yaml")], tmp_path, home)
    assert check.returncode == 2 and check.stderr == proc.stderr
    (tmp_path / "ok.yaml").write_text("agent:\n  backend:\n    cwd: /\n    command_line_allow_broad_workspace: true\n")
    assert mgexec(["exec", "--config", str(tmp_path / "ok.yaml"), "--", "pwd"], tmp_path, home).stdout == "/\n"


def test_flags_override_the_config(tmp_path, home, dirs):
    (tmp_path / "c.yaml").write_text(f"agent:\n  backend:\n    cwd: /\n    command_line_context_paths: [{dirs['c']}]\n")
    args = ["exec", "--config", str(tmp_path / "c.yaml"), "--workspace", str(dirs["a"]), "--allow", str(dirs["b"])]
    assert mgexec([*args, "--", "pwd"], "/", home).stdout == f"{dirs['a']}\n"
    for allowed in ("b", "c"):
        assert mgexec([*args, "--workdir", str(dirs[allowed]), "--", "pwd"], "/", home).stdout == f"{dirs[allowed]}\n"
    outside = mgexec([*args, "--workdir", str(tmp_path), "--", "pwd"], "/", home)
    assert outside.returncode == 126 and "outside the workspace" in outside.stderr


@pytest.mark.parametrize("args,error", [
    (["--allow", "/"], r"Refusing to allow /: it is the root of the whole filesystem"),
    (["--allow", "HOME:rw"], r"Refusing to allow .*home: it is your home directory"),
    (["--allow", "/etc:ro"], r"Refusing to allow /etc: it is a system directory"),
    (["--workspace", "X/missing"], r"--workspace .*missing does not exist; give an existing directory"),
    (["--allow", "X/missing:rw"], r"--allow .*missing does not exist"),
    (["--workspace", "/proc/self/cwd"], r"--workspace '/proc/self/cwd' lies under /proc"),
])
def test_bad_workspace_and_allow_flags(tmp_path, home, dirs, args, error):
    import re

    args = [a.replace("HOME", str(home)).replace("X/", f"{tmp_path}/") for a in args]
    proc = mgexec(["exec", "--workspace", str(dirs["a"]), *args, "--", "true"] if "--workspace" not in args
                  else ["exec", *args, "--", "true"], dirs["a"], home)
    assert proc.returncode == 2 and re.search(error, proc.stderr), proc.stderr
    assert proc.stderr.count("\n") == 1


def test_doctor_reports_the_same(home, dirs):
    proc = mgexec(["doctor"], "/", home)
    assert "[FAIL] workspace / is refused" in proc.stdout and PARAGRAPH in proc.stdout and proc.returncode == 1
    assert f"[ok  ] workspace {dirs['a']} is a project directory" in mgexec(["doctor"], dirs["a"], home).stdout
    allowed = mgexec(["doctor", "--allow", f"{home}:rw"], dirs["a"], home).stdout
    assert f"[FAIL] allowed path {home} is refused" in allowed and "it is your home directory" in allowed


def test_a_fresh_clone_directory_is_an_ordinary_workspace(tmp_path, home):
    clone = home / "src" / "mgexec"
    clone.mkdir(parents=True)
    proc = mgexec(["exec", "--", 'echo "hello from $(uname -s)"; ls'], clone, home)
    assert proc.returncode == 0 and proc.stdout.startswith("hello from Linux")


def test_a_symlink_to_a_broad_directory_is_broad(tmp_path, home):
    (tmp_path / "to-etc").symlink_to("/etc")
    (tmp_path / "to-home").symlink_to(home)
    assert broad_reason(tmp_path / "to-etc", home) == "a system directory"
    assert broad_reason(tmp_path / "to-home", home).startswith("your home directory")


@pytest.mark.parametrize("path,broad", [
    ("/", True), ("/etc", True), ("/etc/nginx", True), ("/usr", True), ("/usr/local/lib", True), ("/bin", True),
    ("/var", True), ("/var/lib", True), ("/tmp", True), ("/opt", True), ("/home", True),
    ("/var/www/site", False), ("/tmp/build", False), ("/opt/project", False), ("/srv/app", False),
    ("HOME", True), ("HOME/..", True), ("HOME/proj", False),
])
def test_broad_reason_table(home, path, broad):
    path = Path(path.replace("HOME", str(home)))
    assert (broad_reason(path, home) is not None) is broad


@pytest.mark.parametrize("spec,expected", [("/a", ("/a", "read")), ("/a:ro", ("/a", "read")), ("/a:rw", ("/a", "write")),
                                           ("/a:b:rw", ("/a:b", "write")), ("/a:x", ("/a:x", "read"))])
def test_parse_allow(spec, expected):
    assert parse_allow(spec) == expected


# --- the README's client configs, launched as those clients launch servers --------------------

def readme_client_configs() -> list[tuple[str, dict]]:
    import json
    import re

    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text[text.index("### Generic MCP clients"):text.index("### Background shells")]
    blocks = re.findall(r"^([^\n]+?):\n\n```json\n(.*?)```", section, re.S | re.M)
    configs = []
    for title, body in blocks:
        servers = json.loads(body)
        entry = (servers.get("mcpServers") or servers["servers"])["mgexec"]
        configs.append((title.split("(")[0].strip(), entry))
    return configs


def test_readme_has_the_three_client_configs():
    assert [name for name, _ in readme_client_configs()] == ["Claude Desktop", "VS Code", "Cursor"]


@pytest.mark.parametrize("client,entry", readme_client_configs(), ids=[n for n, _ in readme_client_configs()])
@pytest.mark.parametrize("launch_dir", ["/", "HOME"])
async def test_readme_client_configs_work_as_the_clients_launch_them(tmp_path, home, client, entry, launch_dir):
    project, data = tmp_path / "project", tmp_path / "datasets"
    project.mkdir()
    data.mkdir()
    subst = {"${workspaceFolder}": str(project), "/Users/me/projects/app": str(project),
             "/home/me/projects/app": str(project), "/home/me/datasets": str(data)}
    args = [subst.get(a.split(":")[0], a.split(":")[0]) + (":" + a.split(":")[1] if ":" in a else "")
            for a in entry["args"]]
    assert entry["command"] == "/path/to/.venv/bin/mgexec" and args[0] == "serve"
    env = {"HOME": str(home), "LOGNAME": "me", "PATH": os.environ["PATH"], "SHELL": "/bin/bash", "TERM": "dumb",
           "USER": "me"}
    params = StdioServerParameters(command=MGEXEC, args=args, cwd="/" if launch_dir == "/" else str(home), env=env)
    async with stdio_client(params, errlog=open(os.devnull, "w")) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            here = await run(session, "pwd; touch made")
            home_refused = await run(session, "true", work_dir=str(home))
            if "--allow" in args:
                assert (await run(session, "ls", work_dir=str(data)))["exit_code"] == 0
    assert here["stdout"] == f"{project}\n" and (project / "made").exists()
    assert home_refused["exit_code"] == -1
