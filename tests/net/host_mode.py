# Inside `husk do --network host`: the sandbox's TCP and UDP sockets are
# the host's. Connects to a host server (argv[1]: its port) and sends a
# token (argv[2]); serves one connection on 127.0.0.1 for the host; then
# tries what the sandbox must not get: raw and packet sockets, options
# that need privilege, ports that need it, the host's routes.
import errno, socket, sys

port, token = int(sys.argv[1]), sys.argv[2].encode()

c = socket.create_connection(("127.0.0.1", port), timeout=30)
c.sendall(token)
c.shutdown(socket.SHUT_WR)
print("host replied", c.recv(100).decode(), flush=True)
c.close()

s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print("listening", s.getsockname()[1], flush=True)
a, peer = s.accept()
got = b""
while True:
    d = a.recv(65536)
    if not d:
        break
    got += d
a.sendall(b"sandbox got %d" % len(got))
a.close()


def attempt(name, f):
    try:
        f()
        print(name, "allowed", flush=True)
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno), flush=True)


attempt("raw tcp socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP))
attempt("packet socket", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
t = socket.socket()
attempt("SO_MARK", lambda: t.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 1))
attempt("SO_BINDTODEVICE", lambda: t.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo"))
attempt("IP_TRANSPARENT", lambda: t.setsockopt(socket.SOL_IP, 19, 1))
attempt("port 80", lambda: t.bind(("127.0.0.1", 80)))
# A route change goes to the sentry's own netlink, never the host's.
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
# RTM_NEWROUTE, NLM_F_REQUEST|NLM_F_ACK|NLM_F_CREATE, an IPv4 default route.
import struct
body = struct.pack("BBBBBBBBI", socket.AF_INET, 0, 0, 0, 254, 4, 0, 1, 0)
msg = struct.pack("IHHII", 16 + len(body), 24, 0x1 | 0x4 | 0x400, 1, 0) + body
n.send(msg)
reply = n.recv(4096)
err = struct.unpack_from("i", reply, 16)[0] if len(reply) >= 20 else 0
print("route change", errno.errorcode.get(-err, err), flush=True)
print("done", flush=True)
