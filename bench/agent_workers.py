# SPDX-License-Identifier: GPL-2.0-only
"""
Benchmark 9 (agent_workers) of bench.py: esptag-agent's throughput with one
and with two workers, and with AF_XDP against AF_PACKET rings.

Site A's agent is restarted in each configuration (the lab passes
AGENT_ARGS), the SAs installed afresh, B's agent stopped and a bare XDP_DROP
put on B's end of the wire (as benchmark 5 does). Frames esptag_tx made
for FLOWS different UDP flows (captured off the switch port toward the
agent) are replayed on that port in turn by pkt_send on CPU 0; frames
leaving the agent's wire side are counted.

  w1_packet  --cpus 1-1 --io packet  one worker on CPU 1, AF_PACKET rings
  w2_packet  --cpus 2 --io packet    two workers on CPUs 0 and 1, fan-out
  w1_auto    --cpus 1-1              one worker, AF_XDP on the wire side

On a 2-CPU machine the second worker shares CPU 0 with the sender: the
wall-clock scaling ratio is a lower bound of what two free CPUs give; the
per-CPU-second numbers count the agent's own CPU time (all its threads).
"""
import os
import re
import time

FLOWS = 8
CONFIGS = (("w1_packet", "--cpus 1-1 --io packet"), ("w2_packet", "--cpus 2 --io packet"),
           ("w1_auto", "--cpus 1-1"))


def _frames(B, nsA, size):
    frames = []
    for i in range(FLOWS):
        data = bytes((j * 7) & 255 for j in range(size))
        ip = B.etlib.ipv4(B.IP_A, B.IP_B, 17, B.etlib.udp(41000 + i, 4789, data), ident=1,
                          flags_frag=0x4000)
        plain = (B.etlib.mac_bytes(B.MAC_B) + B.etlib.mac_bytes(B.MAC_A) + b"\x08\x00" +
                 ip).hex()
        # Until the data path protects again after the agent's restart.
        r = _retry(lambda: B.run(B.nsx(nsA, ["/usr/bin/python3", "-c", B.CAPTURE, "sw-up",
                                             B.etlib.mac_bytes(B.MAC_B).hex(),
                                             os.path.join(B.BB, "pkt_send"), "pf0", "0.001",
                                             plain]), timeout=8), 60)
        frames.append(r.stdout.strip())
    return frames


def _stable_frames(B, nsA):
    """The frames of both sizes, taken while esptagd did not reinstall the
    SAs (a reinstall moves them to other SAD indices: frames taken before
    it would all be dropped)."""
    for _ in range(3):
        before = _daemon_view(B)[1]
        frames = {s: _frames(B, nsA, s) for s in (64, 1400)}
        if _daemon_view(B)[1] == before:
            return frames
    raise RuntimeError("esptagd kept reinstalling site A's SAs while frames were taken")


def _retry(fn, secs=30):
    """fn() until it stops failing (an agent just started: its daemon needs
    a few HELLO rounds to see it)."""
    deadline = time.monotonic() + secs
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _daemon_view(B):
    """What site A's esptagd knows of its agent: (epoch, reinstalls, up)."""
    out = B.esptag("A", "agent", "status", check=False).stdout
    epoch = re.search(r"^\s*epoch (0x[0-9a-f]+)", out, re.M)
    reinst = re.search(r"\breinstalls (\d+)", out)
    return (epoch and epoch.group(1), reinst and int(reinst.group(1)),
            "reachable yes" in out and "data-path up" in out)


def restart_agent(B, args):
    """Site A's agent again with AGENT_ARGS args, and fresh SAs.

    esptagd notices the new agent (a new epoch) only on its next HELLO round
    and then reinstalls every SA it has: SAs added before that are flushed
    and added again under other SAD indices, and a frame captured in between
    carries an index that is no longer its SA's (the agent drops it as
    tx_drop_no_sa). So the SAs go in only once esptagd has seen the new
    epoch and the agent is up."""
    _retry(B.esp_off)
    old = _daemon_view(B)[0]
    B.lab("agent", "stop", "A")
    env = dict(B.lab_env, AGENT_ARGS=args)
    B.run([B.LAB, "agent", "start", "A"], env=env)
    deadline = time.monotonic() + 30
    while True:
        epoch, _, up = _daemon_view(B)
        if epoch and epoch != old and up:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("esptagd did not see site A's restarted agent (epoch %s)" % epoch)
        time.sleep(0.2)
    _retry(B.esp_on)


def _rate(B, q, nsA, nsAg, frames, apid):
    t0 = B.netdev_tx(nsAg, "wire0")
    c0 = B.cpu_s(apid)
    s0 = time.monotonic()
    B.run(["taskset", "-c", "0"] + B.nsx(nsA, [os.path.join(B.BB, "pkt_send"), "sw-up",
                                               str(q["agent_s"])] + frames))
    el = time.monotonic() - s0
    time.sleep(0.05)
    t1 = B.netdev_tx(nsAg, "wire0")
    c1 = B.cpu_s(apid)
    return (t1 - t0) / el, ((t1 - t0) / (c1 - c0) if c1 > c0 else None), (c1 - c0) / el


def b_agent_workers(q, B):
    nsA = "et-%s-A" % B.lab_env["LAB"]
    nsAg = "et-%s-A-agent" % B.lab_env["LAB"]
    nsBg = "et-%s-B-agent" % B.lab_env["LAB"]
    sink = os.path.join(B.BB, "progs", "bench_sink.bpf.o")
    res = {}
    try:
        for name, args in CONFIGS:
            restart_agent(B, args)
            apid = B.agent_pid("A")
            frames = _stable_frames(B, nsA)
            B.lab("agent", "stop", "B")
            B.run(["ip", "-n", nsBg, "link", "set", "dev", "wire0", "xdp", "obj", sink, "sec",
                   "xdp.frags"])
            try:
                for _ in range(q["samples"]):
                    for size in (64, 1400):
                        wall, per_cpu, busy = _rate(B, q, nsA, nsAg, frames[size], apid)
                        k = "%s_%d" % (name, size)
                        res.setdefault("wall_" + k, []).append(wall)
                        res.setdefault("busy_" + k, []).append(busy)
                        if per_cpu:
                            res.setdefault(k, []).append(per_cpu)
            finally:
                B.run(["ip", "-n", nsBg, "link", "set", "dev", "wire0", "xdp", "off"],
                      check=False)
                B.lab("agent", "start", "B", check=False)
    finally:
        # Back to the lab's default agent for whatever runs next.
        restart_agent(B, os.environ.get("AGENT_ARGS", ""))
    S = lambda k: {"samples": res.get(k, [])}
    parts = []
    for s in (64, 1400):
        parts.append(B.part("2 workers vs 1 (AF_PACKET, fan-out), %d B, %d flows, wall-clock pps "
                            "leaving the agent" % (s, FLOWS), "1 worker",
                            S("wall_w2_packet_%d" % s), S("wall_w1_packet_%d" % s), 1.7, "higher",
                            "pps"))
    for s in (64, 1400):
        parts.append(B.part("same, packets per agent CPU second (%d B)" % s, "1 worker",
                            S("w2_packet_%d" % s), S("w1_packet_%d" % s), None, "higher",
                            "pps/CPU-s"))
    for s in (64, 1400):
        parts.append(B.part("1 worker, AF_XDP on the wire side vs AF_PACKET rings, %d B, per "
                            "agent CPU second" % s, "AF_PACKET", S("w1_auto_%d" % s),
                            S("w1_packet_%d" % s), None, "higher", "pps/CPU-s"))
    busy = {k[5:]: B.med(v) for k, v in res.items() if k.startswith("busy_")}
    return B.entry(9, "agent_workers", parts, extra={
        "flows": FLOWS, "sender_cpu": 0, "configs": dict(CONFIGS),
        "agent_cpu_busy_fraction": busy})
