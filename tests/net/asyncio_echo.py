# asyncio streams over loopback: a server and a client in one event loop.
import asyncio


async def echo(r, w):
    w.write((await r.readline()).upper())
    await w.drain()
    w.close()


async def main():
    s = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = s.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"asyncio streams\n")
    print((await r.readline()).decode().strip())
    w.close()
    s.close()
    await s.wait_closed()


asyncio.run(main())
