#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A stand-in for systemd's notification socket (sd_notify(3)).

    notify_listen.py SOCKET CHECK TIMEOUT

Binds an AF_UNIX datagram socket at SOCKET (the path a service gets in
$NOTIFY_SOCKET), prints "ready" on stderr once bound, then prints one line
per notification on stdout: "msg PID FIELD=VALUE ...". On READY=1 it runs
the shell command CHECK at once (while the sender goes on) and prints
"check RC"; so the test learns what was true when readiness was announced.
Exits after STOPPING=1, or after TIMEOUT seconds.
"""
import os
import socket
import struct
import subprocess
import sys
import time

path, check, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print("ready", file=sys.stderr, flush=True)
end = time.monotonic() + timeout
while time.monotonic() < end:
    s.settimeout(max(0.05, end - time.monotonic()))
    try:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = 0
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    fields = data.decode(errors="replace").split("\n")
    print("msg", pid, " ".join(f.replace(" ", "_") for f in fields if f), flush=True)
    if "READY=1" in fields:
        rc = subprocess.run(["sh", "-c", check], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        print("check", rc, flush=True)
    if "STOPPING=1" in fields:
        break
os.unlink(path)
