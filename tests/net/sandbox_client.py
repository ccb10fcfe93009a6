# Inside `husk do --network sandbox`: reaches the host's servers through
# the veth. argv: TCP port, UDP port, a port nobody listens on, a token.
import errno, select, socket, struct, sys

tcp_port, udp_port, closed_port, token = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
gw = None
for line in open("/proc/net/route").readlines()[1:]:
    f = line.split()
    if f[1] == "00000000":
        gw = socket.inet_ntoa(struct.pack("<I", int(f[2], 16)))
print("gateway found", gw is not None)

# A blocking connect, a stream larger than any window, a half-close.
c = socket.create_connection((gw, tcp_port), timeout=20)
payload = (token.encode() * ((3 << 20) // len(token) + 1))[: 3 << 20]
c.sendall(payload)
c.shutdown(socket.SHUT_WR)
reply = b""
while True:
    d = c.recv(65536)
    if not d:
        break
    reply += d
print("tcp reply", reply.decode())
c.close()

# A non-blocking connect: EINPROGRESS, then writable with SO_ERROR 0.
s = socket.socket()
s.setblocking(False)
print("nonblocking connect", errno.errorcode.get(s.connect_ex((gw, tcp_port))))
select.select([], [s], [], 10)
print("SO_ERROR", s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.close()

# Nobody listens: the host's reset.
try:
    socket.create_connection((gw, closed_port), timeout=10)
    print("closed port: connected")
except OSError as e:
    print("closed port", errno.errorcode.get(e.errno))

# UDP to the host and back.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(token.encode(), (gw, udp_port))
d, a = u.recvfrom(100)
print("udp reply", d.decode(), a[0] == gw)

# SO_LINGER on with no time: close resets the connection.
c = socket.create_connection((gw, tcp_port), timeout=20)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.sendall(b"linger")
c.close()
print("linger closed")

# An echo request to the host (a raw ICMP socket, as ping's), and its reply.
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(10)
body = b"\x00\x00\x4b\x1d\x00\x01" + b"husk-echo"
s = sum((body[i] << 8) + (body[i + 1] if i + 1 < len(body) else 0) for i in range(0, len(body), 2)) + 0x0800
while s >> 16:
    s = (s & 0xFFFF) + (s >> 16)
req = b"\x08\x00" + struct.pack("!H", ~s & 0xFFFF) + body[2:]
r.sendto(req, (gw, 0))
while True:
    d, a = r.recvfrom(200)
    if d[20] == 0 and d[24:26] == b"\x4b\x1d":
        break
print("echo reply", a[0] == gw, d[28:] == b"husk-echo")
