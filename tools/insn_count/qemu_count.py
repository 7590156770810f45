#!/usr/bin/env python3
"""Instructions retired by one decode kernel call, counted under qemu-user (scripts/count-insn.sh).

Debian 12's qemu 7.2 has the -plugin option but ships neither the TCG plugins (libinsn.so) nor
the plugin header, so this counts from qemu's own logs instead:

  tb   (default) qemu -d in_asm,exec,nochain -dfilter <kernel code>: `in_asm` prints each
       translation block (TB) once with its instructions, `exec` (with chaining off, so every TB
       entry passes the logger) prints one line per TB executed. Instructions retired = the sum,
       over executed TBs, of the instruction count of the TB at that pc (the latest translation
       seen in the log, so a retranslated TB is counted with its new length). A TB runs to its
       end in user mode unless the guest faults, which these kernels do not.
  step qemu -singlestep -d exec,nochain: one instruction per TB, so one exec line per
       instruction retired. Slower, independent of TB sizes: the check on method `tb`.

The log is limited (-dfilter) to the kernel entry point and every function reachable from it
through direct branches and calls (from objdump), so the driver's set-up is never counted. An
indirect branch or call in that code is reported, since its target would not be counted. The
driver runs the kernel `reps` times; the count must be exactly linear in reps (checked with
reps 1 and 2) and the per-call figure is count(2) - count(1).

usage: qemu_count.py --qemu "qemu-aarch64 -cpu max" --objdump aarch64-linux-gnu-objdump
                     --nm aarch64-linux-gnu-nm [--method tb|step] DRIVER ARGS... (without reps)
Prints one line: key=value pairs (insns per call, weight bytes, insns per weight byte).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

INSN_RE = re.compile(r"^\s*([0-9a-f]+):\t")
BRANCH_RE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s+([0-9a-f]+)\s+<")


def functions(nm, binary):
    """(start, size, name) of every sized text symbol, sorted by start."""
    out = subprocess.run([nm, "-S", "--defined-only", binary], check=True, capture_output=True, text=True).stdout
    funcs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            funcs.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    funcs.sort()
    return funcs


def containing(funcs, addr):
    for start, size, name in funcs:
        if start <= addr < start + size:
            return (start, size, name)
    return None


def reachable(objdump, funcs, entry):
    """Functions reachable from `entry` by direct branches/calls; warnings for indirect ones."""
    todo, seen, warnings, starts = [containing(funcs, entry)], {}, [], set()
    while todo:
        f = todo.pop()
        if f is None or f[0] in seen:
            continue
        seen[f[0]] = f
        start, size, name = f
        dis = subprocess.run([objdump, "-d", "--no-show-raw-insn", "--start-address=%#x" % start,
                              "--stop-address=%#x" % (start + size), BINARY],
                             check=True, capture_output=True, text=True).stdout
        for line in dis.splitlines():
            a = INSN_RE.match(line)
            if a:
                starts.add(int(a.group(1), 16))
            m = BRANCH_RE.match(line)
            if m:
                target = int(m.group(3), 16)
                if not start <= target < start + size:
                    todo.append(containing(funcs, target))
            fields = line.split("\t")
            if len(fields) >= 2:
                op = fields[1].split()[0] if fields[1].split() else ""
                if op in ("blr", "br") or (op in ("call", "jmp") and "*" in line):
                    warnings.append("indirect branch in %s: %s" % (name, line.strip()))
    return sorted(seen.values()), warnings, starts


def count_log(path, method, starts):
    """Instructions retired in the log at `path` (read as qemu writes it: a FIFO)."""
    tb_len, total, cur_pc, cur_n, bad = {}, 0, None, 0, set()
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                cur_pc, cur_n = None, 0
            elif line.startswith("0x") and ":" in line[:20]:
                pc = int(line.split(":")[0], 16)
                if cur_pc is None:
                    cur_pc = pc
                cur_n += 1
                tb_len[cur_pc] = cur_n
            elif line.startswith("Trace "):
                pc = int(line.split("[")[1].split("/")[1], 16)
                if method == "step":
                    total += 1
                    if pc not in starts:
                        bad.add(pc)
                else:
                    if pc not in tb_len:
                        raise SystemExit("qemu_count: executed TB at %#x was never logged by in_asm" % pc)
                    total += tb_len[pc]
    if bad:
        raise SystemExit("qemu_count: executed pcs that objdump does not list as instruction starts: %s"
                         % ", ".join(hex(p) for p in sorted(bad)[:8]))
    return total


def run(qemu, driver_args, reps, ranges, method, starts):
    items = "in_asm,exec,nochain" if method == "tb" else "exec,nochain"
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "log")
        os.mkfifo(fifo)
        cmd = shlex.split(qemu) + (["-singlestep"] if method == "step" else []) + \
              ["-d", items, "-dfilter", ranges, "-D", fifo] + driver_args + [str(reps)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        total = count_log(fifo, method, starts)
        out = proc.communicate()[0]
        if proc.returncode != 0:
            raise SystemExit("qemu_count: %s failed (%d)" % (" ".join(cmd), proc.returncode))
        return total, out


def main():
    global BINARY
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--objdump", required=True)
    ap.add_argument("--nm", required=True)
    ap.add_argument("--method", default="tb", choices=["tb", "step"])
    ap.add_argument("driver", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    BINARY = args.driver[0]
    probe = subprocess.run(shlex.split(args.qemu) + args.driver + ["0"], check=True, capture_output=True,
                           text=True).stdout
    kv = dict(p.split("=", 1) for p in probe.split())
    entry = int(kv["fn"], 16)
    funcs, warnings, starts = reachable(args.objdump, functions(args.nm, BINARY), entry)
    for w in warnings:
        print("qemu_count: warning: " + w, file=sys.stderr)
    ranges = ",".join("%#x+%#x" % (s, n) for s, n, _ in funcs)
    c1, _ = run(args.qemu, args.driver, 1, ranges, args.method, starts)
    c2, _ = run(args.qemu, args.driver, 2, ranges, args.method, starts)
    per_call = c2 - c1
    linear = "yes" if c1 == per_call else "no(reps1=%d)" % c1
    wb = int(kv["weight_bytes"])
    print("isa=%s type=%s layout=%s rows=%s cols=%s method=%s insns=%d weight_bytes=%d insn_per_byte=%.4f "
          "linear=%s functions=%d" % (kv["isa"], kv["type"], kv["layout"], kv["rows"], kv["cols"], args.method,
                                      per_call, wb, per_call / wb, linear, len(funcs)))


if __name__ == "__main__":
    main()
