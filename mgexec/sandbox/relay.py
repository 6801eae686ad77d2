"""The in-sandbox relay: listens on 127.0.0.1:PORT in the sandbox's own network namespace and forwards
each connection to the host proxy's unix socket. Standard library only (Python 3.7+); the whole file is its program.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time

MAX_CONNECTIONS = 256
READY = "mgexec-relay: listening on 127.0.0.1:%d (pid %d)\n"
_UNREACHABLE = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                b"mgexec sandbox relay: the proxy on the host is not answering; the sandbox has no other "
                b"route out.\n")


def relay_argv(python: str, socket_path: str, port: int, *, detach: bool = False) -> list[str]:
    """argv that runs the relay with `python` inside the sandbox.

    It prints READY on stdout once listening. It exits when stdin, if a pipe or socket, closes, and
    when its parent dies, unless PID 1 adopts it: in a PID namespace of its own that is the
    sandbox's init, whose end ends the relay too. With `detach`, the first process exits as soon as
    the relay listens and a child serves on, holding none of the caller's descriptors: a shell can
    run it in the foreground and then run commands that need the proxy, with no race.
    """
    with open(__file__, encoding="utf-8") as source:
        program = source.read()
    return [python, "-I", "-S", "-c", program, socket_path, str(int(port)), *(["--detach"] if detach else [])]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        for end in (source, sink):  # one side broke: end both, so the other pump stops too
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _refuse(client: socket.socket) -> None:
    client.sendall(_UNREACHABLE)
    client.shutdown(socket.SHUT_WR)
    # Read what the client sent before closing: closing on unread bytes resets the connection,
    # and the reset can destroy the answer before the client reads it.
    client.settimeout(2.0)
    while client.recv(65536):
        pass


def _handle(client: socket.socket, socket_path: str, slots: threading.Semaphore) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            upstream.connect(socket_path)
        except OSError:
            _refuse(client)
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
    except OSError:
        pass
    finally:
        upstream.close()
        client.close()
        slots.release()


def _exit_with_stdin() -> None:
    mode = os.fstat(0).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return  # /dev/null or a terminal: nothing to watch
    while os.read(0, 4096):
        pass
    os._exit(0)


def _exit_with_parent(parent: int) -> None:
    # Polled rather than PR_SET_PDEATHSIG, which fires when the thread that started the relay ends,
    # not its process: a threaded parent would lose its relay early.
    while True:
        time.sleep(0.2)
        now = os.getppid()
        if now == 1:
            return  # adopted by init (a launcher that double-forked): init's end is ours
        if now != parent:
            os._exit(0)


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    return listener


def _detach(port: int) -> None:
    """Return in a child that serves; the parent reports READY and exits."""
    child = os.fork()
    if child:
        sys.stdout.write(READY % (port, child))
        sys.stdout.flush()
        os._exit(0)
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    except OSError:
        for fd in (0, 1, 2):
            try:
                os.close(fd)
            except OSError:
                pass


def main(argv: list[str]) -> int:
    detach = argv[2:] == ["--detach"]
    if len(argv) != 2 + detach or not argv[1].isdigit():
        sys.stderr.write("usage: relay SOCKET_PATH PORT [--detach]\n")
        return 2
    socket_path, port, parent = argv[0], int(argv[1]), os.getppid()
    try:
        listener = _listen(port)
    except OSError as exc:
        sys.stderr.write("mgexec-relay: cannot listen on 127.0.0.1:%d: %s\n" % (port, exc))
        return 1
    port = listener.getsockname()[1]
    if detach:
        _detach(port)  # the sandbox's end (its PID namespace) is what ends a detached relay
    else:
        for watcher, args in ((_exit_with_stdin, ()), (_exit_with_parent, (parent,))):
            threading.Thread(target=watcher, args=args, daemon=True).start()
        sys.stdout.write(READY % (port, os.getpid()))
        sys.stdout.flush()
    _serve(listener, socket_path)
    return 0


def _serve(listener: socket.socket, socket_path: str) -> None:
    slots = threading.Semaphore(MAX_CONNECTIONS)
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # out of descriptors, say: wait for connections to end instead of spinning
            time.sleep(0.1)
            continue
        if not slots.acquire(blocking=False):
            client.close()  # at the limit: refuse rather than grow without bound
            continue
        threading.Thread(target=_handle, args=(client, socket_path, slots), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
