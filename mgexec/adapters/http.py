"""The streamable-HTTP transport: a bearer token on every request (the SDK's own auth hooks), a loopback
default, and a shutdown that lets uvicorn finish instead of cancelling it mid-flight.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mgexec.errors import ConfigError

log = logging.getLogger("mgexec.http")

TOKEN_ENV = "MGEXEC_HTTP_TOKEN"
MIN_TOKEN_CHARS = 32
MAX_TOKEN_CHARS = 4096
# RFC 6750's b64token: what may follow "Bearer " in an Authorization header.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_LOOPBACK_NAMES = ("localhost",)
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class HttpOptions:
    """How `mgexec serve --transport streamable-http` listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = 8000
    token_file: Path | None = None
    allow_remote: bool = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/mcp"


class BearerToken:
    """The shared secret; its value never appears in repr, logs or errors."""

    def __init__(self, value: str, source: str) -> None:
        self._value = value.encode()
        self.source = source

    def matches(self, presented: str) -> bool:
        # Constant time, so response timing reveals nothing about how much of a guess was right.
        return hmac.compare_digest(presented.encode(errors="surrogateescape"), self._value)

    def reveal(self) -> str:
        return self._value.decode()

    def __repr__(self) -> str:
        return f"BearerToken(source={self.source!r})"


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere: treated as reachable from outside


def resolve_token(options: HttpOptions, environ: Mapping[str, str] | None = None) -> tuple[BearerToken, bool]:
    """The token every request must carry, and whether it was generated for this run."""
    environ = os.environ if environ is None else environ
    from_env = environ.get(TOKEN_ENV)
    if environ is os.environ:
        # Commands inherit the server's environment (and pass_all_env copies it into containers):
        # the token must not travel with them.
        os.environ.pop(TOKEN_ENV, None)
    if from_env is not None and options.token_file is not None:
        raise ConfigError(f"Both {TOKEN_ENV} and --token-file give a bearer token; keep one of them.")
    if options.token_file is not None:
        return _checked(_read_token_file(options.token_file), f"--token-file {options.token_file}"), False
    if from_env is not None:
        return _checked(from_env.strip(), f"the environment variable {TOKEN_ENV}"), False
    return BearerToken(secrets.token_urlsafe(32), "generated"), True


def _read_token_file(path: Path) -> str:
    try:
        info = path.stat()
        with path.open("rb") as stream:
            raw = stream.read(MAX_TOKEN_CHARS + 2)
    except OSError as exc:
        raise ConfigError(f"The token file {path} cannot be read: {exc.strerror or exc}. Give a file that holds "
                          f"only the token (make one with {GENERATE_HINT} > FILE; chmod 600 FILE).") from None
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("the token file %s is readable by other users; chmod 600 it", path)
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"The token file {path} holds bytes that are not ASCII; a bearer token is letters, "
                          f"digits and -._~+/ (make one with {GENERATE_HINT}).") from None


def _checked(value: str, source: str) -> BearerToken:
    # The value itself is never echoed: a nearly-right secret in an error message is still a secret.
    if not _TOKEN_CHARS.fullmatch(value) or len(value) > MAX_TOKEN_CHARS:
        raise ConfigError(f"The bearer token from {source} is not a valid token: it must be one word of letters, "
                          f"digits and -._~+/ (at most {MAX_TOKEN_CHARS} characters). Make one with {GENERATE_HINT}.")
    if len(value) < MIN_TOKEN_CHARS:
        raise ConfigError(f"The bearer token from {source} has {len(value)} characters; use at least "
                          f"{MIN_TOKEN_CHARS} random ones so it cannot be guessed. Make one with {GENERATE_HINT}.")
    return BearerToken(value, source)


def check_bind(options: HttpOptions, token_given: bool) -> None:
    """Refuse to listen beyond this machine unless a chosen token is set and the user asked for it."""
    if is_loopback(options.host):
        return
    missing = [what for what, ok in ((f"a token you chose ({TOKEN_ENV} or --token-file FILE)", token_given),
                                     ("--allow-remote", options.allow_remote)) if not ok]
    if not missing:
        log.warning("listening on %s beyond loopback: anyone who reaches the port and holds the token can run "
                    "commands as this user; keep TLS in front of it", options.host)
        return
    raise ConfigError(
        f"Refusing to listen on {options.host}: that address can be reachable from other machines, and "
        "whoever reaches the port can run commands as this user. Serving beyond loopback needs "
        f"{' and '.join(missing)}; then put TLS in front with a reverse proxy (see the README, 'HTTP transport'), "
        "since the token travels in every request. To stay on this machine, use --host 127.0.0.1.")


def token_verifier(token: BearerToken):
    """A TokenVerifier (the SDK's hook) that accepts exactly `token`."""
    from mcp.server.auth.provider import AccessToken

    class StaticTokenVerifier:
        async def verify_token(self, presented: str) -> AccessToken | None:
            if not token.matches(presented):
                return None
            return AccessToken(token="(verified)", client_id="mgexec-bearer", scopes=[])

    return StaticTokenVerifier()


def auth_settings(options: HttpOptions):
    """AuthSettings for a resource server that checks a static token: no OAuth routes, no metadata."""
    from mcp.server.auth.settings import AuthSettings

    return AuthSettings(issuer_url=options.url.removesuffix("/mcp"), resource_server_url=None)


def transport_security(options: HttpOptions):
    """The SDK's DNS-rebinding checks, on for every loopback bind (the SDK's own default covers only three names)."""
    from mcp.server.transport_security import TransportSecuritySettings

    if not is_loopback(options.host):
        return None  # beyond loopback the bearer token is what a rebinding page cannot supply
    hosts = {"127.0.0.1", "localhost", "[::1]", f"[{options.host}]" if ":" in options.host else options.host}
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=[f"{h}:*" for h in sorted(hosts)],
                                     allowed_origins=[f"http://{h}:*" for h in sorted(hosts)])


class HttpServer:
    """uvicorn serving the MCP app, stopped by request_stop() rather than by its own signal handlers."""

    def __init__(self, app, options: HttpOptions, log_level: str = "info") -> None:
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):
                yield  # mgexec's server owns SIGTERM/SIGINT: it kills commands first, then stops this

        config = uvicorn.Config(app, host=options.host, port=options.port, log_level=log_level,
                                timeout_graceful_shutdown=2, lifespan="on")
        self._server = _Server(config)

    async def serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn's answer to a failed bind; as a task's exception it would skip clean-up
            config = self._server.config
            raise ConfigError(f"The HTTP server could not listen on {config.host}:{config.port} (the reason is "
                              "logged above; is the port in use?). Choose another --port or stop the other server.") from None

    def request_stop(self) -> None:
        self._server.should_exit = True


class HttpAccess:
    """Who may use the HTTP transport: the token (checked, or generated), the bind rule, the SDK's auth hooks."""

    def __init__(self, options: HttpOptions, token: BearerToken, generated: bool) -> None:
        self.options, self.token, self.generated = options, token, generated

    @classmethod
    def prepare(cls, options: HttpOptions) -> "HttpAccess":
        token, generated = resolve_token(options)
        check_bind(options, token_given=not generated)
        return cls(options, token, generated)

    def server_options(self) -> dict:
        """MCPServer arguments that make the SDK demand the token on every request."""
        return {"auth": auth_settings(self.options), "token_verifier": token_verifier(self.token)}

    def http_server(self, server) -> HttpServer:
        app = server.streamable_http_app(host=self.options.host, transport_security=transport_security(self.options))
        if self.generated:
            # Printed once, to stderr only (stdout carries uvicorn's access log), so the user can hand it to a client.
            print(f"mgexec: {self.options.url} needs a bearer token on every request, and none was set ({TOKEN_ENV} "
                  f"or --token-file FILE), so this run generated one; clients send the header 'Authorization: Bearer "
                  f"{self.token.reveal()}'", file=sys.stderr, flush=True)
        return HttpServer(app, self.options)
