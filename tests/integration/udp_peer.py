#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""UDP endpoints for test_bypass_socket and test_policy_reqid (run inside a
site's namespace).

  udp_peer.py echo  ADDR PORT [--register SOCK]
      bind, register as a bypass socket if asked, print "ready" on stderr,
      then answer every datagram with the same bytes (until killed); each
      datagram received is logged on stdout as "from ADDR:PORT".
  udp_peer.py send  ADDR PORT DST DPORT COUNT [--register SOCK]
      bind, register if asked, send COUNT datagrams (one every 10 ms) and
      print "sent N answered M" (answers within 1 s of the last one).
  udp_peer.py stream ADDR PORT DST DPORT STOPFILE
      send a numbered datagram every 2 ms until STOPFILE exists, then wait
      1 s for the last answers and print "sent N answered M missing K"
      (K: datagrams never answered; an echo answers each).
  udp_peer.py register SOCK
      register a fresh socket, print the status and message (exit 0 always).
  udp_peer.py fill SOCK N
      register N fresh sockets while keeping them open, print "ok K refused R
      status S" (S: the status of the last refusal, 0 if none), close them
      all, register one more and print "after close status S".
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import etlib  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["echo", "send", "register", "fill", "stream"])
ap.add_argument("args", nargs="*")
ap.add_argument("--register")
a = ap.parse_args()


def bound(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    if a.register:
        st, msg = etlib.ctl_bypass_socket(a.register, s)
        if st:
            print("register failed: %d %s" % (st, msg), file=sys.stderr, flush=True)
            sys.exit(2)
    return s


if a.mode == "register":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        st, msg = etlib.ctl_bypass_socket(a.args[0], s)
        print("status %d %s" % (st, msg))
    except OSError as e:
        print("status -1 %s" % e)
    sys.exit(0)

if a.mode == "fill":
    socks, ok, refused, last = [], 0, 0, 0
    for i in range(int(a.args[1])):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        st, msg = etlib.ctl_bypass_socket(a.args[0], s)
        if st:
            refused, last = refused + 1, st
        else:
            ok += 1
    print("ok %d refused %d status %d" % (ok, refused, last), flush=True)
    for s in socks:
        s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    st, msg = etlib.ctl_bypass_socket(a.args[0], s)
    print("after close status %d" % st, flush=True)
    sys.exit(0)

if a.mode == "stream":
    s = bound(a.args[0], a.args[1])
    dst, dport, stop = a.args[2], int(a.args[3]), a.args[4]
    s.setblocking(False)
    sent, seen = 0, set()

    def drain():
        while True:
            try:
                data, _ = s.recvfrom(65536)
            except BlockingIOError:
                return
            seen.add(int(data.split()[1]))

    nxt = time.time()
    while not os.path.exists(stop):
        s.sendto(b"seq %d" % sent, (dst, dport))
        sent += 1
        nxt += 0.002
        while time.time() < nxt:
            drain()
            time.sleep(0.0002)
    end = time.time() + 1
    while time.time() < end and len(seen) < sent:
        drain()
        time.sleep(0.01)
    print("sent %d answered %d missing %d" % (sent, len(seen), sent - len(seen)), flush=True)
    sys.exit(0)

if a.mode == "echo":
    s = bound(a.args[0], a.args[1])
    print("ready", file=sys.stderr, flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        print("from %s:%d" % (peer[0], peer[1]), flush=True)
        s.sendto(data, peer)

s = bound(a.args[0], a.args[1])
dst, dport, count = a.args[2], int(a.args[3]), int(a.args[4])
s.settimeout(0.01)
answered = 0
for i in range(count):
    s.sendto(b"esptag bypass %d" % i, (dst, dport))
    t_end = time.time() + 0.01
    while time.time() < t_end:
        try:
            s.recvfrom(65536)
            answered += 1
        except socket.timeout:
            break
end = time.time() + 1
while time.time() < end and answered < count:
    try:
        s.recvfrom(65536)
        answered += 1
    except socket.timeout:
        pass
print("sent %d answered %d" % (count, answered), flush=True)
