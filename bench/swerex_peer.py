"""SWE-ReX as an output peer: its `swerex-remote` server in an image built FROM the runtime image, driven by its client.

The image is built on first use (`docker build --network host`, pip verifying with the host's CA bundle, which
a TLS-intercepting proxy needs) and kept, tagged with the runtime image's id so a rebuilt runtime image gets a
fresh one. The container publishes its port on 127.0.0.1 only, and the bench talks to it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

from bench.timing import BenchError
from mgexec.docker.engine import resolve_binary

SWEREX_VERSION = "1.4.0"
RUNTIME_IMAGES = ("massgen/mcp-runtime:latest", "mgexec-runtime:latest")
IMAGE_REPO = "mgexec-bench-swerex"
BENCH_LABEL = "io.mgexec.bench"  # on every container the bench makes itself, so leftovers are easy to find
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
PORT = 8000

DOCKERFILE = f"""\
FROM {{base}}
USER root
COPY bench-ca.cr[t] Dockerfile /tmp/bench-build/
RUN set -eu; ca=/tmp/bench-build/bench-ca.crt; if [ -s "$ca" ]; then export PIP_CERT="$ca"; fi; \\
    python3 -m pip install --no-cache-dir swe-rex=={SWEREX_VERSION}; rm -rf /tmp/bench-build
USER massgen
"""


async def docker(*args: str, timeout: float = 600) -> tuple[int, str, str]:
    """Run the docker CLI; (exit status, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(resolve_binary(None, os.environ), *args,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return 124, "", f"docker {args[0]} took longer than {timeout:.0f} s"
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def image_id(name: str) -> str:
    rc, out, _ = await docker("image", "inspect", "--format", "{{.Id}}", name)
    return out.strip() if rc == 0 else ""


async def runtime_image() -> tuple[str, str]:
    for name in RUNTIME_IMAGES:
        found = await image_id(name)
        if found:
            return name, found
    raise BenchError(f"no runtime image ({' or '.join(RUNTIME_IMAGES)}); build it with ./build.sh --bootstrap")


async def ensure_image() -> str:
    """The SWE-ReX image's tag, built now unless one from the current runtime image exists; BenchError says why not."""
    base, base_id = await runtime_image()
    tag = f"{IMAGE_REPO}:{SWEREX_VERSION}-{base_id.split(':')[-1][:12]}"
    if await image_id(tag):
        return tag
    context = Path(tempfile.mkdtemp(prefix="mgexec-bench-swerex-"))
    try:
        (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        if HOST_CA.is_file():
            shutil.copyfile(HOST_CA, context / "bench-ca.crt")
        rc, _, err = await docker("build", "-q", "--network", "host", "--label", f"{BENCH_LABEL}=swerex",
                                  "-t", tag, str(context))
    finally:
        shutil.rmtree(context, ignore_errors=True)
    if rc != 0:
        raise BenchError(f"could not build the SWE-ReX image (pip install swe-rex=={SWEREX_VERSION} FROM {base}): "
                         f"{err.strip()[-300:]}")
    await remove_stale_images(keep=tag)
    return tag


async def remove_stale_images(keep: str) -> None:
    """Earlier SWE-ReX images (built FROM a runtime image since rebuilt): one cached image is enough."""
    _, out, _ = await docker("images", "--format", "{{.Repository}}:{{.Tag}}", IMAGE_REPO)
    stale = [name for name in out.split() if name != keep]
    if stale:
        await docker("rmi", *stale)


@dataclass
class SwerexPeer:
    """An `execute` call through SWE-ReX's own client, or why there is none."""

    call: Callable[[str], Awaitable[str]] | None = None
    why: str = ""


def client_classes():
    """SWE-ReX's RemoteRuntime and Command, or ImportError (its client needs aiohttp, which it does not declare)."""
    from swerex.runtime.abstract import Command
    from swerex.runtime.remote import RemoteRuntime

    return RemoteRuntime, Command


@contextlib.asynccontextmanager
async def swerex_peer(workspace: Path) -> AsyncIterator[SwerexPeer]:
    """A running SWE-ReX container with `workspace` mounted read-only at its own path; removed on exit."""
    try:
        runtime_cls, command_cls = client_classes()
    except ImportError as exc:
        yield SwerexPeer(why=f"skipped: SWE-ReX's client is not installed ({exc}); `pip install -e '.[bench]'`")
        return
    try:
        image = await ensure_image()
    except BenchError as exc:
        yield SwerexPeer(why=f"skipped: {exc}")
        return
    token, name = secrets.token_hex(16), f"mgexec-bench-swerex-{secrets.token_hex(5)}"
    rc, _, err = await docker("run", "-d", "--name", name, "--label", f"{BENCH_LABEL}=swerex",
                              "-p", f"127.0.0.1::{PORT}", "-v", f"{workspace}:{workspace}:ro", image,
                              "swerex-remote", "--port", str(PORT), "--auth-token", token)
    try:
        if rc != 0:
            raise BenchError(f"could not start the SWE-ReX container: {err.strip()[-300:]}")
        runtime = await _connect(runtime_cls, name, token)

        async def execute(line: str) -> str:
            response = await runtime.execute(command_cls(command=line, shell=True, cwd=str(workspace)))
            if response.exit_code != 0:
                raise BenchError(f"SWE-ReX `{line}` exited {response.exit_code}: {response.stderr[:300]}")
            return response.stdout

        yield SwerexPeer(execute)
    finally:
        await docker("rm", "-f", name)


async def _connect(runtime_cls, name: str, token: str):
    rc, out, err = await docker("port", name, str(PORT))
    address = next((line for line in out.splitlines() if line.startswith("127.0.0.1:")), "")
    if rc != 0 or not address:
        raise BenchError(f"the SWE-ReX container published no port on 127.0.0.1: {(out + err).strip()[:300]}")
    host, port = address.rsplit(":", 1)
    runtime = runtime_cls(host=f"http://{host}", port=int(port), auth_token=token)
    try:
        await runtime.wait_until_alive(timeout=60)
    except Exception as exc:  # its own exception types; any means the server did not come up
        _, logs, log_err = await docker("logs", "--tail", "20", name)
        raise BenchError(f"the SWE-ReX server did not answer within 60 s ({exc}): {(logs + log_err)[-300:]}")
    return runtime
