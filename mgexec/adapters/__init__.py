"""Adapters: the `mgexec` command, the MCP server and its transports; they translate, the core decides."""
