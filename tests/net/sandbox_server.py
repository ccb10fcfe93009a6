# Inside `husk do --network sandbox`: serves TCP (on the IPv6 wildcard,
# dual-stack, as Python's http.server does) and UDP on the sandbox's
# address, for a client on the host. Prints its address, then serves one
# connection and one datagram.
import fcntl, socket, struct, sys

SIOCGIFADDR = 0x8915
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", b"eth0"))[20:24])
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.bind(("::", 8080))
t.listen(8)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 8081))
print("ready", addr, flush=True)
c, peer = t.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(b"sandbox got %d bytes from %s" % (n, peer[0].encode()))
c.close()
d, a = u.recvfrom(100)
u.sendto(b"echo:" + d, a)
print("served", n, flush=True)
