#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""UDP endpoints for test_bypass_socket (run inside a site's namespace).

  bypass_udp.py echo  ADDR PORT [--register SOCK]
      bind, register as a bypass socket if asked, print "ready" on stderr,
      then answer every datagram with the same bytes (until killed); each
      datagram received is logged on stdout as "from ADDR:PORT".
  bypass_udp.py send  ADDR PORT DST DPORT COUNT [--register SOCK]
      bind, register if asked, send COUNT datagrams (one every 10 ms) and
      print "sent N answered M" (answers within 1 s of the last one).
  bypass_udp.py register SOCK
      register a fresh socket, print the status and message (exit 0 always).
"""
import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import etlib  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["echo", "send", "register"])
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
