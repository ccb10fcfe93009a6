# Inside `husk do --network sandbox`: threads open, use and close
# connections to a host echo server at once, in both closing orders, and
# a listener in the sandbox takes connections from the host while that
# goes on. argv: the host's echo port, connections per thread.
import socket, struct, sys, threading

port, rounds = int(sys.argv[1]), int(sys.argv[2])
gw = None
for line in open("/proc/net/route").readlines()[1:]:
    f = line.split()
    if f[1] == "00000000":
        gw = socket.inet_ntoa(struct.pack("<I", int(f[2], 16)))
bad = []


def worker(k):
    for i in range(rounds):
        msg = b"%d-%d|" % (k, i) * 200
        try:
            c = socket.create_connection((gw, port), timeout=20)
            c.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = c.recv(65536)
                if not d:
                    break
                got += d
            if got != msg:
                bad.append((k, i, len(got)))
            if i % 2:
                c.shutdown(socket.SHUT_WR)
            c.close()
        except OSError as e:
            bad.append((k, i, str(e)))


ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("bad", bad[:5], len(bad))
print("done", 8 * rounds)
