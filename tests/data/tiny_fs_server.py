"""A tiny filesystem MCP server for offline MassGen runs (in place of the npx one): read, write, list.

Runs with MassGen's interpreter; paths are taken as given (relative ones from its cwd).
"""

from pathlib import Path

from mcp.server.fastmcp import FastMCP

server = FastMCP("filesystem")


@server.tool()
def read_file(path: str) -> str:
    """Read a text file."""
    return Path(path).read_text()


@server.tool()
def write_file(path: str, content: str) -> str:
    """Write a text file."""
    Path(path).write_text(content)
    return f"wrote {len(content)} characters to {path}"


@server.tool()
def list_directory(path: str) -> str:
    """List a directory."""
    return "\n".join(sorted(p.name for p in Path(path).iterdir()))


if __name__ == "__main__":
    server.run()
