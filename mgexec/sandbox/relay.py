"""The in-sandbox relay: listens on 127.0.0.1:PORT in the sandbox's own network namespace and forwards
each connection to the host proxy's unix socket. Standard library only; the whole file is its program.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time

MAX_CONNECTIONS = 256
READY = "mgexec-relay: listening on 127.0.0.1:%d\n"
_UNREACHABLE = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                b"mgexec sandbox relay: the proxy on the host is not answering; the sandbox has no other "
                b"route out.\n")


def relay_argv(python: str, socket_path: str, port: int) -> list[str]:
    """argv that runs the relay with `python` inside the sandbox.

    It prints READY on stdout once listening, and exits when its parent dies or, when stdin is a
    pipe or socket, when stdin closes.
    """
    with open(__file__, encoding="utf-8") as source:
        program = source.read()
    return [python, "-I", "-S", "-c", program, socket_path, str(int(port))]


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
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: relay SOCKET_PATH PORT\n")
        return 2
    socket_path, port, parent = argv[0], int(argv[1]), os.getppid()
    try:
        listener = socket.create_server(("127.0.0.1", port), backlog=128)
    except OSError as exc:
        sys.stderr.write("mgexec-relay: cannot listen on 127.0.0.1:%d: %s\n" % (port, exc))
        return 1
    for watcher, args in ((_exit_with_stdin, ()), (_exit_with_parent, (parent,))):
        threading.Thread(target=watcher, args=args, daemon=True).start()
    sys.stdout.write(READY % port)
    sys.stdout.flush()
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
