"""The smallest MCP SDK v2 server with one tool, the start-up yardstick for `mgexec serve` (bench group `cold`)."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("minimal")


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


if __name__ == "__main__":
    server.run()  # stdio, as `mgexec serve` answers by default
