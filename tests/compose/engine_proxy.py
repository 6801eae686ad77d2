"""Forward every connection on one unix socket to another (a second door into a Docker daemon)."""

import asyncio
import os
import sys


async def pipe(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    # Half-close only: docker's attach protocol keeps reading output after the client stops writing.
    if writer.can_write_eof():
        writer.write_eof()


async def handle(client_reader, client_writer):
    engine_reader, engine_writer = await asyncio.open_unix_connection(sys.argv[2])
    await asyncio.gather(pipe(client_reader, engine_writer), pipe(engine_reader, client_writer),
                         return_exceptions=True)
    client_writer.close()
    engine_writer.close()


async def main():
    if os.path.exists(sys.argv[1]):
        os.unlink(sys.argv[1])
    server = await asyncio.start_unix_server(handle, sys.argv[1])
    os.chmod(sys.argv[1], 0o660)
    async with server:
        await server.serve_forever()


asyncio.run(main())
