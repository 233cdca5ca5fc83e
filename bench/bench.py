# SPDX-License-Identifier: GPL-2.0-only
"""make bench: run the eight esptag benchmarks, each against its baseline in
the same run, and write build/bench/results.json, docs/benchmarks.md (the
table) and docs/benchmarks-*.png (plots). Never fails because a number is
slow: a benchmark that cannot run is reported with its reason.

    scripts/bench [--quick] [--only N,N] [--no-docs] [--out FILE]

--quick: tiny runs (seconds) to check the harness itself (make test);
results go to build/bench/results-quick.json and docs are not touched.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
BB = os.path.join(BUILD, "bench")
BIN = os.path.join(BUILD, "bin")
LAB = os.path.join(ROOT, "scripts", "lab")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import etlib  # noqa: E402  (the wire library of the tests: frames)


def lab_plan():
    """The lab's address plan, scripts/lab.env (NAME=VALUE lines)."""
    plan = {}
    with open(os.path.join(ROOT, "scripts", "lab.env")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                plan[k] = v
    return plan


PLAN = lab_plan()
IP_A, IP_B = PLAN["LAB_IP4_A"], PLAN["LAB_IP4_B"]
MAC_A, MAC_B = PLAN["LAB_MAC_A"], PLAN["LAB_MAC_B"]
_key_n = [0]


def bench_key(spi):
    """A throwaway key+salt of its own for every SA added: esptagd refuses a
    key it has used before (and the same SA on both sites shares its key)."""
    _key_n[0] += 1
    return "0x%08x%016x%08x%08x" % (spi, _key_n[0], os.getpid() & 0xffffffff, 0x40414243)

children = []           # PIDs we started and must stop
namespaces = []         # namespaces we created
lab_env = None          # environment of our lab instance, while up


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(cmd, check=True, env=None, timeout=600, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=env, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                (r.stderr or r.stdout).strip()[-600:]))
    return r


def jlines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def by_what(recs):
    return {r["what"]: r for r in recs}


def med(s):
    return statistics.median(s) if s else None


def part(name, baseline, value_rec, base_rec, target, better, unit, note=None,
         ratio=None):
    """One comparison. better: 'lower' (ratio = value/baseline must be <=
    target) or 'higher' (>= target)."""
    v = med(value_rec["samples"]) if value_rec else None
    b = med(base_rec["samples"]) if base_rec else None
    if ratio is None and v is not None and b:
        ratio = v / b
    met = None
    if ratio is not None and target is not None:
        met = ratio <= target if better == "lower" else ratio >= target
    p = {"name": name, "baseline": baseline, "baseline_value": b, "value": v,
         "ratio": ratio, "target": target, "target_kind": "<=" if better == "lower" else ">=",
         "met": met, "unit": unit,
         "samples": value_rec["samples"] if value_rec else [],
         "baseline_samples": base_rec["samples"] if base_rec else []}
    if note:
        p["note"] = note
    return p


def entry(num, name, parts, extra=None, error=None):
    """A benchmark: its headline is its first part; met = every part met."""
    e = {"id": num, "name": name}
    if parts:
        h = parts[0]
        for k in ("baseline", "baseline_value", "value", "ratio", "target", "target_kind",
                  "unit", "samples", "baseline_samples"):
            e[k] = h[k]
        mets = [p["met"] for p in parts if p["met"] is not None]
        e["met"] = bool(mets) and all(mets)
    else:
        e.update({"baseline": None, "baseline_value": None, "value": None, "ratio": None,
                  "target": None, "met": False, "unit": None, "samples": [],
                  "baseline_samples": []})
    e["parts"] = parts
    if extra:
        e["extra"] = extra
    if error:
        e["error"] = error
    return e


# ---------------------------------------------------------------------------
# Namespaces and the lab

def ns_new(name):
    run(["ip", "netns", "add", name])
    namespaces.append(name)
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return name


def nsx(ns, cmd):
    return ["nsenter", "--net=/run/netns/" + ns] + cmd


def ifindex(ns, dev):
    r = run(["ip", "-n", ns, "-j", "link", "show", dev])
    return json.loads(r.stdout)[0]["ifindex"]


def lab(*args, check=True, timeout=300):
    return run([LAB] + list(args), env=lab_env, check=check, timeout=timeout)


def lab_up(name):
    global lab_env
    lab_env = dict(os.environ, LAB=name)
    lab("down", check=False)
    lab("up")


def lab_procs(name):
    """PIDs of processes started for lab instance name (they inherit LAB)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("LAB=" + name).encode() in env:
            out.append(int(d))
    return out


def lab_down():
    """scripts/lab down, then stop by PID whatever of our lab instance is
    still running (agents and daemons must not outlive the bench)."""
    global lab_env
    if not lab_env:
        return
    name = lab_env["LAB"]
    pids = [p for p in lab_procs(name) if p != os.getpid()]
    lab("down", check=False)
    left = [p for p in pids if os.path.exists("/proc/%d" % p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in left:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        for _ in range(50):
            left = [p for p in left if os.path.exists("/proc/%d" % p) and
                    open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0] != "Z"]
            if not left:
                break
            time.sleep(0.1)
    if left:
        log("processes of lab %s still running: %s" % (name, left))
    lab_env = None


def lab_state():
    return "/run/esptag-lab/" + lab_env["LAB"]


def esptag(site, *args, check=True, stdin=None):
    sock = os.path.join(lab_state(), site + ".sock")
    return run([os.path.join(BIN, "esptag"), "-s", sock] + list(args), check=check,
               input=stdin)


def sa_lines(site, keys, with_policies=True, window=128):
    """The working A<->B transport configuration (one out SA, one in SA and
    the two policies per site), as esptag batch lines. keys: the key+salt
    of the A->B and B->A SAs. window: replay window of the inbound SA (0:
    strictly increasing sequence numbers only, any reordering on the way is
    a drop)."""
    me, peer = (IP_A, IP_B) if site == "A" else (IP_B, IP_A)
    out_spi, in_spi = ("0x1001", "0x1002") if site == "A" else ("0x1002", "0x1001")
    k_out, k_in = (keys["0x1001"], keys["0x1002"]) if site == "A" else (keys["0x1002"], keys["0x1001"])
    sa = ["state add dev pf0 src %s dst %s proto esp spi %s mode transport "
          "aead 'rfc4106(gcm(aes))' %s 128 dir out" % (me, peer, out_spi, k_out),
          "state add dev pf0 src %s dst %s proto esp spi %s mode transport "
          "aead 'rfc4106(gcm(aes))' %s 128%s dir in"
          % (peer, me, in_spi, k_in, " replay-window %d" % window if window else "")]
    pol = ["policy add dev pf0 src %s/32 dst %s/32 dir out action protect spi %s"
           % (me, peer, out_spi),
           "policy add dev pf0 src %s/32 dst %s/32 dir in action protect spi %s"
           % (peer, me, in_spi)]
    return sa + (pol if with_policies else [])


def esp_on(window=128):
    keys = {"0x1001": bench_key(0x1001), "0x1002": bench_key(0x1002)}
    for s in ("A", "B"):
        esptag(s, "-b", "-", stdin="\n".join(sa_lines(s, keys, window=window)) + "\n")


def esp_off():
    for s in ("A", "B"):
        esptag(s, "policy", "flush")
        esptag(s, "state", "flush")


def pidfile(name):
    with open(os.path.join(lab_state(), name + ".pid")) as f:
        return int(f.read().strip())


def agent_pid(site):
    """PID of the esptag-agent process of a site: the lab's pidfile may
    name the shell or nsenter that started it."""
    top = pidfile(site + "-agent")
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append((int(d), comm))
    todo = [top]
    while todo:
        p = todo.pop()
        if open("/proc/%d/comm" % p).read().strip() == "esptag-agent":
            return p
        todo += [k for k, _ in kids.get(p, [])]
    raise RuntimeError("no esptag-agent process under PID %d" % top)


def netdev_tx(ns, dev):
    r = run(nsx(ns, ["cat", "/proc/net/dev"]))
    for line in r.stdout.splitlines():
        if line.strip().startswith(dev + ":"):
            f = line.split(":", 1)[1].split()
            return int(f[9])
    raise RuntimeError("no %s in %s" % (dev, ns))


def bg(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in children:
        children.remove(p)


def cleanup():
    for p in list(children):
        stop(p)
    lab_down()
    for n in namespaces:
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)
    namespaces.clear()


# ---------------------------------------------------------------------------
# The benchmarks

def b_prog(q):
    r = run(["taskset", "-c", "0", os.path.join(BB, "bench_bpf"), "prog",
             "-n", str(q["calls"]), "-s", str(q["samples"])])
    recs = jlines(r.stdout)
    rx = by_what([x for x in recs if x["bench"] == "rx"])
    tx = by_what([x for x in recs if x["bench"] == "tx"])
    hl = [x for x in recs if x["bench"] == "tx_helpers"][0]
    am_x = rx["bare_xdp_pass_amortised"]["samples"][0]
    am_t = tx["bare_tc_amortised"]["samples"][0]
    v_rx = med(rx["esptag_rx"]["samples"])
    v_tx = med(tx["esptag_tx"]["samples"])
    e1 = entry(1, "rx_program", [part(
        "esptag_rx vs bare XDP_PASS (BPF_PROG_TEST_RUN, repeat=1 each, IPv4 transport, hot SA)",
        "bare XDP_PASS", rx["esptag_rx"], rx["bare_xdp_pass"], 2.6, "lower", "ns/packet")],
        extra={"bare_xdp_pass_amortised_ns": am_x,
               "ratio_vs_amortised_bare": v_rx / am_x if am_x else None,
               "frame_len": rx["esptag_rx"].get("frame_len"),
               "calls_per_sample": rx["esptag_rx"].get("calls_per_sample")})
    helper = {"sites_adjust_room": hl.get("sites_adjust_room"),
              "sites_change_head": hl.get("sites_change_head")}
    if hl["samples"]:
        helper.update({"per_packet": hl["samples"][0], "adjust_room": hl["adjust_room"],
                       "change_head": hl["change_head"], "packets": hl["packets"]})
    else:
        helper["dynamic_count"] = "not measured: " + hl.get("error", "?")
    e2 = entry(2, "tx_program", [part(
        "esptag_tx vs bare TC (BPF_PROG_TEST_RUN, repeat=1 each, IPv4 transport, protect)",
        "bare TC_ACT_OK", tx["esptag_tx"], tx["bare_tc"], 2.7, "lower", "ns/packet")],
        extra={"bare_tc_amortised_ns": am_t,
               "ratio_vs_amortised_bare": v_tx / am_t if am_t else None,
               "helpers": helper, "frame_len": tx["esptag_tx"].get("frame_len")})
    return e1, e2


def b_scale(q):
    r = run(["taskset", "-c", "0", os.path.join(BB, "bench_bpf"), "scale",
             "-n", str(q["scale_calls"]), "-s", str(q["samples"]), "-N", str(q["big"])],
            timeout=900)
    recs = jlines(r.stdout)
    rx = by_what([x for x in recs if x["bench"] == "scale_rx"])
    tx = by_what([x for x in recs if x["bench"] == "scale_tx"])
    big = q["big"]
    lbl = "1M" if big == 1 << 20 else str(big)
    parts = [
        part("Rx, %s SAs vs 1k SAs, hot set of 1k" % lbl, "1k SAs", rx["big_hot"], rx["1k_hot"],
             1.2, "lower", "ns/packet"),
        part("Tx, %s SAs+policies vs 1k, hot set of 1k" % lbl, "1k SAs", tx["big_hot"],
             tx["1k_hot"], 1.5, "lower", "ns/packet"),
        part("Rx, uniform random over all SAs, %s vs 1k" % lbl, "1k SAs", rx["big_uniform"],
             rx["1k_uniform"], None, "lower", "ns/packet"),
        part("Tx, uniform random over all SAs, %s vs 1k" % lbl, "1k SAs", tx["big_uniform"],
             tx["1k_uniform"], None, "lower", "ns/packet"),
        part("Rx, %s SAs, hot set = the first 1k installed (diagnostic)" % lbl, "1k SAs",
             rx["big_hot_adjacent"], rx["1k_hot"], None, "lower", "ns/packet"),
        part("Tx, %s SAs, hot set = the first 1k installed (diagnostic)" % lbl, "1k SAs",
             tx["big_hot_adjacent"], tx["1k_hot"], None, "lower", "ns/packet"),
    ]
    return entry(3, "sa_scaling", parts, extra={
        "sas_big": big, "map_max_entries": big,
        "install_s": {"1k": rx["1k_hot"].get("install_s"), "big": rx["big_hot"].get("install_s")},
        "cost_ns": {k: {"rx": med(rx[k]["samples"]), "tx": med(tx[k]["samples"])} for k in rx}})


# Names of what the bench creates: BENCH_ID (tests/integration/test_bench.sh
# passes its harness id, so tests/run sees them as this run's) or the PID.
BENCH_ID = os.environ.get("BENCH_ID") or "bench%d" % os.getpid()


def live_ns():
    ns = ns_new("et-%s-live" % BENCH_ID)
    run(["ip", "-n", ns, "link", "add", "bl0", "type", "veth", "peer", "name", "bl1"])
    run(["ip", "-n", ns, "link", "set", "bl0", "address", "02:00:5e:00:00:01"])
    for d in ("bl0", "bl1"):
        run(["ip", "-n", ns, "link", "set", d, "up"])
    return ns, ifindex(ns, "bl0")


def b_live(q, ns, ifx):
    r = run(nsx(ns, [os.path.join(BB, "bench_bpf"), "live", "-i", str(ifx),
                     "-r", str(q["repeat"]), "-s", str(q["samples"])]))
    lv = by_what(jlines(r.stdout))
    rx = lv["front_esptag_rx"]
    # The target row first (the headline): against XDP_PASS behind the same
    # front end, which restores the frame for every run as esptag_rx needs.
    parts = [
        part("esptag_rx vs bare XDP_PASS behind the same frame-restoring front end",
             "front end + XDP_PASS", rx, lv["front_xdp_pass"], 0.8, "higher", "pps"),
        part("esptag_rx (live frames on a veth, XDP_PASS into the stack) vs bare XDP_DROP",
             "bare XDP_DROP", rx, lv["bare_xdp_drop"], None, "higher", "pps"),
        part("front end + XDP_DROP vs bare XDP_DROP (cost of the front end)",
             "bare XDP_DROP", lv["front_xdp_drop"], lv["bare_xdp_drop"], None, "higher", "pps"),
    ]
    return entry(4, "live_frames", parts, extra={
        "rx_ok": rx.get("rx_ok"), "frames": rx.get("frames"),
        "frames_per_sample": rx.get("frames_per_sample"), "frame_len": rx.get("frame_len")})


def b_churn(q, ns, ifx):
    r = run(nsx(ns, [os.path.join(BB, "bench_bpf"), "churn", "-i", str(ifx),
                     "-r", str(q["repeat"]), "-s", str(q["samples"]), "-c", "10000"]))
    c = by_what(jlines(r.stdout))
    return entry(8, "churn", [part(
        "Rx live-frames pps while 10k SA adds+removes/s run on the other CPU vs steady",
        "steady state", c["churn"], c["steady"], 0.95, "higher", "pps")],
        extra={"churn_ops_per_s": med(c["churn_ops_per_s"]["samples"]),
               "churn_ops_samples": c["churn_ops_per_s"]["samples"],
               "rx_ok": c["churn"].get("rx_ok"), "frames": c["churn"].get("frames")})


def b_ctl(q):
    sock = os.path.join(lab_state(), "A.sock")
    esp_off()
    r = run([os.path.join(BB, "ctl_bench"), sock, "pf0", str(q["ctl_n"]), "8192",
             str(q["samples"]), str(q["ctl_singles"])], timeout=600)
    c = by_what(jlines(r.stdout))
    m = run(["taskset", "-c", "0", os.path.join(BB, "bench_bpf"), "mapfill",
             "-N", str(q["ctl_n"]), "-s", str(q["samples"])])
    raw = jlines(m.stdout)[0]
    # The CLI's batch mode (-b), same SAs, end to end including parsing;
    # fresh keys for every pass (esptagd never takes a key twice).
    cli = []
    for _ in range(max(3, q["samples"] // 2)):
        # new keys for every round: the same SAs again would reuse them
        with tempfile.NamedTemporaryFile("w", prefix="et-bench-", suffix=".txt", delete=False) as f:
            for i in range(q["ctl_n"]):
                f.write("state add dev pf0 src %s dst %s proto esp spi 0x%x "
                        "mode transport aead 'rfc4106(gcm(aes))' %s 128 dir out\n"
                        % (IP_A, IP_B, 0x200000 + i, bench_key(0x200000 + i)))
            batch = f.name
        try:
            t0 = time.monotonic()
            esptag("A", "-b", batch)
            cli.append(q["ctl_n"] / (time.monotonic() - t0))
            esptag("A", "state", "flush")
        finally:
            os.unlink(batch)
    api = c["api_batched_add"]
    lat = c["single_add_latency"]
    fl = c["flush"]
    cli_rec = {"samples": cli}
    parts = [
        part("SA installs/s through the control socket (batched) -> esptagd -> agent -> maps",
             "absolute target 100k SAs/s", api, None, None, "higher", "SAs/s",
             ratio=med(api["samples"]) / 100000.0),
        part("same vs raw bpf_map_update_elem of the same entries",
             "raw bpf_map_update_elem", api, raw, 0.25, "higher", "SAs/s"),
        part("esptag -b FILE (CLI batch mode) SAs/s vs raw map updates", "raw bpf_map_update_elem",
             cli_rec, raw, None, "higher", "SAs/s"),
        part("flush of a %d-SA domain (state flush)" % q["ctl_n"], "absolute target 100 ms",
             fl, None, None, "lower", "ms", ratio=med(fl["samples"]) / 100.0),
    ]
    parts[0]["target"] = 1.0
    parts[0]["met"] = parts[0]["ratio"] >= 1.0
    parts[0]["note"] = "ratio = SAs/s / 100000"
    parts[3]["target"] = 1.0
    parts[3]["met"] = parts[3]["ratio"] <= 1.0
    parts[3]["note"] = "ratio = ms / 100"
    return entry(7, "control_plane", parts, extra={
        "sas": q["ctl_n"], "batch": 8192,
        "single_add_latency_us": {"p50": lat.get("p50_us"), "p99": lat.get("p99_us"),
                                  "max": lat.get("max_us"), "n": len(lat["samples"])},
        "single_add_latency_samples_us": lat["samples"]})


def iperf(client_ns, server_ns, dst, secs, bind=None):
    """Mbit/s received, or None when the transfer stalled (no result within
    secs + 20 s: both ends are killed)."""
    srv = bg(nsx(server_ns, ["iperf3", "-s", "-1", "-p", "5301"]))
    time.sleep(0.3)
    cmd = ["iperf3", "-c", dst, "-p", "5301", "-t", str(secs), "-J", "--connect-timeout", "3000"]
    if bind:
        cmd += ["-B", bind]
    cli = subprocess.Popen(nsx(client_ns, cmd), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    children.append(cli)
    try:
        out, _ = cli.communicate(timeout=secs + 20)
        j = json.loads(out)
        return j["end"]["sum_received"]["bits_per_second"] / 1e6
    except (subprocess.TimeoutExpired, ValueError, KeyError):
        return None
    finally:
        stop(cli)
        stop(srv)


def wg_setup():
    """wireguard-go on pf0 of both sites (agents in bypass). Returns the
    processes, or raises with the reason."""
    if not os.path.exists("/dev/net/tun"):
        raise RuntimeError("no /dev/net/tun")
    for t in ("wireguard-go", "wg"):
        if run(["sh", "-c", "command -v " + t], check=False).returncode:
            raise RuntimeError(t + " not installed (scripts/deps installs wireguard-go, wireguard-tools)")
    ns = {s: "et-%s-%s" % (lab_env["LAB"], s) for s in ("A", "B")}
    ip = {"A": PLAN["LAB_WG_A"], "B": PLAN["LAB_WG_B"]}
    under = {"A": IP_A, "B": IP_B}
    keys = {}
    for s in ("A", "B"):
        k = run(["wg", "genkey"]).stdout.strip()
        keys[s] = (k, run(["wg", "pubkey"], input=k).stdout.strip())
    # One name per site and run: wireguard-go's control socket
    # (/var/run/wireguard/NAME.sock) is not per network namespace.
    dev = {s: "wg%s%d" % (s, os.getpid() % 100000) for s in ("A", "B")}
    procs = []
    for s in ("A", "B"):
        p = bg(nsx(ns[s], ["env", "WG_PROCESS_FOREGROUND=1", "wireguard-go", "-f", dev[s]]))
        procs.append(p)
    for s in ("A", "B"):
        for _ in range(50):
            if run(["ip", "-n", ns[s], "link", "show", dev[s]], check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("wireguard-go did not create its interface")
    for s, o in (("A", "B"), ("B", "A")):
        with tempfile.NamedTemporaryFile("w", prefix="et-bench-wg", delete=False) as f:
            f.write(keys[s][0] + "\n")
            kf = f.name
        try:
            run(nsx(ns[s], ["wg", "set", dev[s], "listen-port", "51820", "private-key", kf,
                            "peer", keys[o][1], "allowed-ips", ip[o] + "/32",
                            "endpoint", under[o] + ":51820"]))
        finally:
            os.unlink(kf)
        run(["ip", "-n", ns[s], "addr", "add", ip[s] + "/32", "dev", dev[s]])
        run(["ip", "-n", ns[s], "link", "set", dev[s], "up"])
        run(["ip", "-n", ns[s], "route", "replace", ip[o] + "/32", "dev", dev[s]])
    return procs, ns, ip


KERNEL_ESPTAG = [os.path.join(BUILD, "libstrongswan-kernel-esptag.so"),
                 "/usr/lib/ipsec/plugins/libstrongswan-kernel-esptag.so"]


def have_kernel_esptag():
    return any(os.path.exists(f) for f in KERNEL_ESPTAG)


def ike_start(*opts):
    """charon on both sites of the bench's lab (scripts/lab ike start):
    IKE proposal aes128gcm16-prfsha256-x25519, ESP AES-GCM-16 (128 first).
    Returns once the CHILD_SA is up (start_action start)."""
    if not os.path.exists("/usr/sbin/charon-systemd"):
        raise RuntimeError("charon-systemd not installed (scripts/deps installs strongSwan)")
    lab("ike", "stop", check=False)
    lab("ike", "start", "--start", "start", *opts, timeout=120)


def ike_stop():
    lab("ike", "stop", check=False)


def b_e2e(q):
    """iperf3 A->B, samples interleaved: bypass (no SAs, the agents forward
    untagged frames), ESP with a replay window of 128, ESP with window 0.
    Then wireguard-go on the same namespaces and veths (agents in bypass),
    then, interleaved, strongSwan's own user-space ESP (charon with
    kernel-libipsec, its TUN device; agents in bypass) and, when the
    kernel-esptag plugin is built, esptag keyed by charon through it, both
    with the same IKE proposal."""
    ns = {s: "et-%s-%s" % (lab_env["LAB"], s) for s in ("A", "B")}
    series = {"bypass": [], "esp": [], "esp_w0": [], "wg": [], "libipsec": [], "esp_ike": []}
    stalled = {k: 0 for k in series}

    def take(k, v):
        if v is None:
            stalled[k] += 1
        else:
            series[k].append(v)
    for i in range(q["samples"]):
        esp_off()
        take("bypass", iperf(ns["A"], ns["B"], IP_B, q["iperf_s"]))
        esp_on(128)
        take("esp", iperf(ns["A"], ns["B"], IP_B, q["iperf_s"]))
        esp_off()
        esp_on(0)
        take("esp_w0", iperf(ns["A"], ns["B"], IP_B, q["iperf_s"]))
    # ESP really happened: Tx/Rx SA counters of the last ESP run.
    st = esptag("A", "-j", "state", "list").stdout
    esp_off()
    wg_err = None
    try:
        procs, wns, wip = wg_setup()
        try:
            for i in range(q["samples"]):
                take("wg", iperf(wns["A"], wns["B"], wip["B"], q["iperf_s"], bind=wip["A"]))
        finally:
            for p in procs:
                stop(p)
    except Exception as e:     # reported, not hidden
        wg_err = str(e)
    # strongSwan kernel-libipsec: ESP (in UDP, as libipsec always sends it)
    # in tunnel mode between the sites' inner addresses, through the TUN
    # device ipsec0; esptagd has no SA or policy, the agents forward. And
    # esptag keyed by IKE: charon drives each site's esptagd through the
    # kernel-esptag plugin (transport mode, as the hand-keyed runs above).
    # Samples interleaved (charon restarted with the other backend for
    # each), so that both see the same load on this shared machine.
    li_err = None
    ike_err = None if have_kernel_esptag() else \
        "the kernel-esptag plugin is not built: esptag keyed by hand (esptag CLI) instead"
    for i in range(q["samples"]):
        if li_err is None:
            try:
                ike_start("--backend", "libipsec", "--mode", "tunnel")
                take("libipsec", iperf(ns["A"], ns["B"], PLAN["LAB_IN4_B"], q["iperf_s"],
                                       bind=PLAN["LAB_IN4_A"]))
            except Exception as e:
                li_err = str(e)
            finally:
                ike_stop()
        if ike_err is None:
            try:
                ike_start("--backend", "esptag", "--mode", "transport")
                take("esp_ike", iperf(ns["A"], ns["B"], IP_B, q["iperf_s"]))
            except Exception as e:
                ike_err = str(e)
            finally:
                ike_stop()
                esp_off()      # whatever charon left: the next libipsec run needs none
    S = lambda k: {"samples": series[k]}
    parts = [part("iperf3 TCP A->B through both agents with ESP (replay window 128) vs the same "
                  "lab in bypass", "bypass", S("esp"), S("bypass"), 0.8, "higher", "Mbit/s")]
    if series["wg"]:
        parts.append(part("esptag ESP vs wireguard-go on the same namespaces and veths",
                          "wireguard-go", S("esp"), S("wg"), 1.0, "higher", "Mbit/s"))
    if series["libipsec"]:
        mine = "esp_ike" if series["esp_ike"] else "esp"
        parts.append(part("esptag ESP %s vs strongSwan kernel-libipsec (user-space ESP over TUN, "
                          "same sites, same IKE proposal)"
                          % ("keyed by charon through kernel-esptag" if mine == "esp_ike"
                             else "keyed by hand"),
                          "kernel-libipsec", S(mine), S("libipsec"), 2.0, "higher", "Mbit/s",
                          note=None if mine == "esp_ike" else ike_err))
    parts.append(part("ESP with replay window 0 (strictly increasing only) vs bypass",
                      "bypass", S("esp_w0"), S("bypass"), None, "higher", "Mbit/s"))
    return entry(6, "end_to_end", parts, extra={
        "iperf_seconds": q["iperf_s"], "wireguard_go": "measured" if series["wg"] else
        "not measured: " + (wg_err or "?"), "wireguard_samples": series["wg"],
        "kernel_libipsec": "measured" if series["libipsec"] else
        "not measured: " + (li_err or "?"), "kernel_libipsec_samples": series["libipsec"],
        "esptag_ike": "measured" if series["esp_ike"] else "not measured: " + (ike_err or "?"),
        "esptag_ike_samples": series["esp_ike"],
        "stalled_runs": stalled,
        "esptag_state_after_esp_runs": st[:2000]})


CAPTURE = r"""
import socket, subprocess, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL: sees outgoing frames
s.bind((sys.argv[1], 0))
# A few tries, a second each (other frames, HELLOs, keep arriving): right
# after the agent restarts the frame is dropped (fail closed) until esptagd
# has re-installed the SAs.
for attempt in range(10):
    subprocess.run(sys.argv[3:], check=True, stdout=subprocess.DEVNULL)
    end = time.monotonic() + 1
    try:
        while time.monotonic() < end:
            s.settimeout(max(end - time.monotonic(), 0.01))
            f = s.recv(65535)
            if f[12:14] == b"\x88\xb6" and f[0:6] == bytes.fromhex(sys.argv[2]):
                print(f.hex())
                sys.exit(0)
    except socket.timeout:
        pass
sys.exit("no tagged frame seen on " + sys.argv[1])
"""


def tagged_frame(nsA, size):
    """One frame exactly as esptag_tx on pf0 tags it (metadata tag, ESP
    header, offload=1), taken off the switch port toward the agent."""
    r = run(nsx(nsA, ["/usr/bin/python3", "-c", CAPTURE, "sw-up", etlib.mac_bytes(MAC_B).hex(),
                      os.path.join(BB, "pkt_send"), "pf0", "0.001", udp_frame(size)]),
            timeout=60)
    return r.stdout.strip()


def cpu_s(pid):
    """CPU seconds (user + system) a process has used."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def agent_rate(q, send_ns, dev, frame, nsAg, key, res, apid):
    """Offer frames for agent_s seconds; returns (pps leaving the agent's
    wire side, the same per CPU second the agent used)."""
    t0 = netdev_tx(nsAg, "wire0")
    c0 = cpu_s(apid)
    s0 = time.monotonic()
    r = run(["taskset", "-c", "0"] + nsx(send_ns, [os.path.join(BB, "pkt_send"), dev,
                                                   str(q["agent_s"]), frame]))
    el = time.monotonic() - s0
    time.sleep(0.05)
    t1 = netdev_tx(nsAg, "wire0")
    c1 = cpu_s(apid)
    res.setdefault("sent_" + key, []).append(int(r.stdout.strip()) / el)
    res.setdefault("busy_" + key, []).append((c1 - c0) / el)
    return (t1 - t0) / el, (t1 - t0) / (c1 - c0) if c1 > c0 else None


def b_agent(q):
    """Site A's agent pinned to CPU 1; a sender pinned to CPU 0 offers
    frames; frames leaving the agent's wire side are counted. B's agent is
    stopped meanwhile and a bare XDP_DROP sits on its end of the wire, so
    that what the agent sends costs little on the agent's CPU (a veth
    delivers in the sender's context). Two ways in:
    - direct (the measurement): the frame esptag_tx makes, captured once,
      replayed by AF_PACKET on the switch port that faces the agent, so the
      sender's CPU only pays AF_PACKET + veth;
    - via pf0: plain frames through esptag_tx and the switch (full host
      path; the sender's CPU usually limits this one).
    The machine may be shared: the ratio compares packets per CPU second
    (the agent's CPU time from /proc, the loop's CLOCK_PROCESS_CPUTIME_ID);
    wall-clock pps are recorded too."""
    nsA = "et-%s-A" % lab_env["LAB"]
    nsAg = "et-%s-A-agent" % lab_env["LAB"]
    nsBg = "et-%s-B-agent" % lab_env["LAB"]
    sink = os.path.join(BB, "progs", "bench_sink.bpf.o")
    # One worker, on CPU 1 (the agent runs one per CPU by default).
    import agent_workers
    agent_workers.restart_agent(sys.modules[__name__], "--cpus 1-1")
    apid = agent_pid("A")
    run(["taskset", "-p", "-c", "1", str(apid)])
    res = {}
    try:
        tagged = {s: tagged_frame(nsA, s) for s in (64, 1400)}
        lab("agent", "stop", "B")
        run(["ip", "-n", nsBg, "link", "set", "dev", "wire0", "xdp", "obj", sink, "sec", "xdp.frags"])
        for size in (64, 1400):
            g = jlines(run(["taskset", "-c", "1", os.path.join(BB, "gcm_bench"), str(size),
                            str(q["agent_s"]), str(q["samples"])]).stdout)[0]
            res["base_%d" % size] = g["cpu_samples"]
            res["base_wall_%d" % size] = g["samples"]
            for i in range(q["samples"]):
                for way, dev, fr in (("direct", "sw-up", tagged[size]),
                                     ("pf0", "pf0", udp_frame(size))):
                    k = "%s_%d" % (way, size)
                    wall, per_cpu = agent_rate(q, nsA, dev, fr, nsAg, k, res, apid)
                    res.setdefault("wall_" + k, []).append(wall)
                    if per_cpu:
                        res.setdefault(k, []).append(per_cpu)
    finally:
        run(["ip", "-n", nsBg, "link", "set", "dev", "wire0", "xdp", "off"], check=False)
        lab("agent", "start", "B", check=False)
    parts = [part("esptag-agent, %d B UDP payload (tagged frames offered on its host link), "
                  "packets per CPU second vs a bare OpenSSL AES-GCM loop, both on CPU 1" % s,
                  "OpenSSL AES-128-GCM, reused context", {"samples": res.get("direct_%d" % s, [])},
                  {"samples": res["base_%d" % s]}, 0.6, "higher", "pps/CPU-s") for s in (64, 1400)]
    parts += [part("same, %d B, in wall-clock pps (CPU 1 shared with whatever else runs)" % s,
                   "OpenSSL loop, wall-clock pps", {"samples": res["wall_direct_%d" % s]},
                   {"samples": res["base_wall_%d" % s]}, None, "higher", "pps") for s in (64, 1400)]
    parts += [part("%d B, plain frames sent through pf0 (esptag_tx + switch on the sender's CPU), "
                   "per agent CPU second" % s, "OpenSSL AES-128-GCM, reused context",
                   {"samples": res.get("pf0_%d" % s, [])}, {"samples": res["base_%d" % s]},
                   None, "higher", "pps/CPU-s") for s in (64, 1400)]
    offered = {k[5:]: med(v) for k, v in res.items() if k.startswith("sent_")}
    busy = {k[5:]: med(v) for k, v in res.items() if k.startswith("busy_")}
    got = {k: med(res["wall_" + k]) for k in offered}
    return entry(5, "agent_crypto", parts, extra={
        "agent_cpu": 1, "sender_cpu": 0, "offered_pps": offered, "agent_wall_pps": got,
        "agent_cpu_busy_fraction": busy,
        # The agent forwarded (nearly) all that was offered: the wall-clock
        # number is a lower bound set by the sender, not the agent's limit.
        "sender_bound": {k: got[k] >= 0.9 * offered[k] for k in got}})


def udp_frame(payload):
    """Plain IPv4/UDP frame A -> B as pf0 would send it (hex)."""
    data = bytes((i * 7) & 255 for i in range(payload))
    ip = etlib.ipv4(IP_A, IP_B, 17, etlib.udp(40000, 4789, data), ident=1, flags_frag=0x4000)
    return (etlib.mac_bytes(MAC_B) + etlib.mac_bytes(MAC_A) + b"\x08\x00" + ip).hex()


# ---------------------------------------------------------------------------

NAMES = {1: "rx_program", 2: "tx_program", 3: "sa_scaling", 4: "live_frames",
         5: "agent_crypto", 6: "end_to_end", 7: "control_plane", 8: "churn",
         9: "agent_workers"}


def failed(num, err):
    log("benchmark %d (%s) could not run: %s" % (num, NAMES[num], err))
    return entry(num, NAMES[num], [], error=str(err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--docs-from", metavar="RESULTS",
                    help="only regenerate the docs from a results.json of an earlier full run")
    a = ap.parse_args()
    if a.docs_from:
        import bench_docs
        with open(a.docs_from) as f:
            lst = json.load(f)
        with open(a.docs_from.replace(".json", "-meta.json")) as f:
            doc = json.load(f)
        doc["results"] = lst
        bench_docs.write(doc, ROOT)
        return 0
    if a.quick:
        q = dict(calls=200, samples=5, scale_calls=200, big=65536, repeat=20000, ctl_n=500,
                 ctl_singles=20, iperf_s=1, agent_s=0.5)
    else:
        q = dict(calls=2000, samples=7, scale_calls=2000, big=1 << 20, repeat=1000000,
                 ctl_n=10000, ctl_singles=200, iperf_s=3, agent_s=1.0)
    only = {int(x) for x in a.only.split(",") if x}
    want = lambda n: not only or n in only
    out = a.out or os.path.join(BB, "results-quick.json" if a.quick else "results.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.monotonic()
    results = {}
    try:
        if want(1) or want(2):
            log("1, 2: Rx/Tx programs vs bare programs")
            try:
                results[1], results[2] = b_prog(q)
            except Exception as e:
                results[1], results[2] = failed(1, e), failed(2, e)
        if want(3):
            log("3: SA-count scaling (%d SAs)" % q["big"])
            try:
                results[3] = b_scale(q)
            except Exception as e:
                results[3] = failed(3, e)
        if want(4) or want(8):
            ns, ifx = live_ns()
            for n, fn in ((4, b_live), (8, b_churn)):
                if want(n):
                    log("%d: %s" % (n, NAMES[n]))
                    try:
                        results[n] = fn(q, ns, ifx)
                    except Exception as e:
                        results[n] = failed(n, e)
        if want(5) or want(6) or want(7) or want(9):
            log("lab up")
            try:
                lab_up("t" + BENCH_ID)
                import agent_workers
                b_workers = lambda q: agent_workers.b_agent_workers(q, sys.modules[__name__])
                for n, fn in ((7, b_ctl), (6, b_e2e), (5, b_agent), (9, b_workers)):
                    if want(n):
                        log("%d: %s" % (n, NAMES[n]))
                        try:
                            results[n] = fn(q)
                        except Exception as e:
                            results[n] = failed(n, e)
            except Exception as e:
                for n in (5, 6, 7, 9):
                    if want(n) and n not in results:
                        results[n] = failed(n, "lab: %s" % e)
    finally:
        cleanup()
    lst = [results[n] for n in sorted(results)]
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "quick": a.quick, "duration_s": round(time.monotonic() - t_start, 1),
           "machine": machine(), "results": lst}
    with open(out, "w") as f:
        json.dump(lst, f, indent=1)
    with open(out.replace(".json", "-meta.json"), "w") as f:
        json.dump({k: v for k, v in doc.items() if k != "results"}, f, indent=1)
    log("wrote %s (%d benchmarks, %.0f s)" % (out, len(lst), doc["duration_s"]))
    for e in lst:
        r = e.get("ratio")
        log("  %d %-14s %s  ratio %s  target %s%s  %s" % (
            e["id"], e["name"], "%.4g %s" % (e["value"], e["unit"]) if e["value"] is not None else "-",
            "%.3f" % r if r is not None else "-", e.get("target_kind", ""), e.get("target"),
            "met" if e["met"] else ("NOT met" if not e.get("error") else "error: " + e["error"][:100])))
    if not a.quick and not a.no_docs and not only:
        import bench_docs
        bench_docs.write(doc, ROOT)
    return 0


def machine():
    m = {}
    try:
        m["kernel"] = os.uname().release
        m["cpus"] = os.cpu_count()
        with open("/proc/cpuinfo") as f:
            mm = re.search(r"model name\s*:\s*(.*)", f.read())
            m["cpu"] = mm.group(1) if mm else "?"
        m["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return m


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
