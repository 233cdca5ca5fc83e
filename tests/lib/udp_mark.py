#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Receive UDP datagrams and print the skb mark of each (SO_RCVMARK).
"ready" goes to stderr once the socket is bound (tests/lib/harness.sh).
  udp_mark.py recv ADDR PORT COUNT TIMEOUT   -> one "0x%08x" line per datagram
  udp_mark.py send ADDR PORT COUNT [SRC]
"""
import socket
import sys

SO_RCVMARK = 75
SO_MARK = 36


def main():
    mode, addr, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if mode == "recv":
        s.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
        s.bind((addr, port))
        s.settimeout(float(sys.argv[5]))
        print("ready", file=sys.stderr, flush=True)
        for _ in range(count):
            try:
                data, anc, _, _ = s.recvmsg(2048, socket.CMSG_SPACE(4))
            except socket.timeout:
                break
            mark = 0
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_MARK:
                    mark = int.from_bytes(val[:4], sys.byteorder)
            print("0x%08x" % mark, flush=True)
    else:
        if len(sys.argv) > 5:
            s.bind((sys.argv[5], 0))
        for i in range(count):
            s.sendto(b"esptag-mark-%d" % i, (addr, port))


if __name__ == "__main__":
    main()
