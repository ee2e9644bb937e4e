"""Summarises one bench/run.sh run: the hyperfine medians of every command
(GB/s and packets/s), connreuse against tshark and cat, peak RSS and, when
given, connreuse's CPU time.

    summary.py OUT BASE BYTES PACKETS RSS_KB CONNREUSE TSHARK [CPU]

CONNREUSE and TSHARK name the hyperfine commands to compare; CPU is
"USER SYS" seconds of one connreuse run.
"""
import json
import os
import sys

out, base, nbytes, packets, rss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ours, theirs = sys.argv[6], sys.argv[7]
cpu = sys.argv[8] if len(sys.argv) > 8 else None
med = {}
for name in (f"hyperfine-{base}.json", f"hyperfine-tshark-{base}.json"):
    path = os.path.join(out, name)
    if os.path.exists(path):
        with open(path) as f:
            for r in json.load(f)["results"]:
                med[r["command"]] = r["median"]
print(f"file: {nbytes/1e6:.0f} MB, {packets} packets ({nbytes/packets:.0f} B/packet)")
for name, t in med.items():
    print(f"{name:18} {t:8.3f} s  {nbytes/t/1e9:6.2f} GB/s  {packets/t/1e6:6.2f} Mpkt/s (wall, median)")
if cpu:
    user, sys_ = (float(x) for x in cpu.split())
    print(f"{ours} CPU: {user:.2f} s user + {sys_:.2f} s sys = {nbytes/(user+sys_)/1e9:.2f} GB/s per CPU second")
if theirs in med and ours in med:
    print(f"{ours} is {med[theirs]/med[ours]:.0f}x {theirs}")
if "cat" in med and ours in med:
    print(f"{ours} takes {med[ours]/med['cat']:.1f}x cat")
print(f"{ours} peak RSS: {rss/1024:.1f} MiB")
