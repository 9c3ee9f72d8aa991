#!/usr/bin/python3
"""Table of results from murmur run directories (runs/<grid>/<dataset>-<topology>-<label>/).

For every run directory: final mean test accuracy over the nodes (each node's "final" record),
bytes on the wire (sum over nodes of everything written to sockets, metrics field bytes_sent),
messages (tensor-update frames sent, update_frames_sent), communication saved against the D-PSGD
run of the same dataset and topology in the same grid (its bytes / this run's bytes, same for
messages; also its steps, which must match), consensus distance (1/N) sum_i ||x_i - mean x||^2 of
the nodes' final parameters (read from node-<i>/checkpoint.bin), wall time (slowest node's
training loop, start of training to its final record), and optionally time to a target accuracy
(first eval step at which the mean test accuracy over the nodes reaches it).

    scripts/experiments/summarize.py runs/main [--md out.md] [--csv out.csv] [--target 0.8]
    scripts/experiments/summarize.py runs/main --plots docs/results/ --prefix main
"""

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np


def read_params(path):
    """The flat parameter vector of a murmur checkpoint (nn/checkpoint.hpp, version 1)."""
    data = path.read_bytes()
    if data[:8] != b"MURMCKPT":
        raise ValueError(f"{path}: not a murmur checkpoint")
    version, _, payload_len = struct.unpack_from("<IIQ", data, 8)
    if version != 1:
        raise ValueError(f"{path}: checkpoint version {version}, expected 1")
    off = 8 + 4 + 4 + 8 + 4 + 4
    (slen,) = struct.unpack_from("<I", data, off)
    off += 4 + slen + 8 + 8 + 8  # model name, fingerprint, step, epoch
    (count,) = struct.unpack_from("<Q", data, off)
    off += 8
    return np.frombuffer(data, dtype="<f4", count=count, offset=off).astype(np.float64)


def read_jsonl(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


def load_run(run_dir):
    run_dir = Path(run_dir)
    meta = {}
    if (run_dir / "grid.json").exists():
        meta = json.loads((run_dir / "grid.json").read_text())
    nodes = sorted(run_dir.glob("node-*"), key=lambda p: int(p.name.split("-")[1]))
    recs = {}
    for nd in nodes:
        m = nd / "metrics.jsonl"
        if m.exists():
            recs[int(nd.name.split("-")[1])] = read_jsonl(m)
    if not recs or not all(recs.values()):
        return None  # not started, or a node has not written its first record yet
    finals = {}
    for i, rs in recs.items():
        fin = [r for r in rs if r["event"] in ("final", "stopped")]
        finals[i] = fin[-1] if fin else rs[-1]
    r = {"dir": str(run_dir), "name": run_dir.name, "meta": meta, "nodes": len(recs)}
    r["finished"] = all(f["event"] == "final" for f in finals.values())
    accs = [f.get("test_accuracy") for f in finals.values()]
    accs = [a for a in accs if a is not None]
    r["acc"] = float(np.mean(accs)) if accs else math.nan
    r["acc_min"] = float(np.min(accs)) if accs else math.nan
    r["acc_max"] = float(np.max(accs)) if accs else math.nan
    r["bytes"] = sum(f["bytes_sent"] for f in finals.values())
    r["messages"] = sum(f["update_frames_sent"] for f in finals.values())
    r["keyframes"] = sum(f.get("keyframes_sent", 0) for f in finals.values())
    r["values"] = sum(f.get("values_sent", 0) for f in finals.values())
    r["steps"] = sum(f["step"] for f in finals.values())
    r["trigger_rate"] = float(np.mean([f["trigger_rate"] for f in finals.values()]))
    r["wall"] = max(f["time"] for f in finals.values())
    r["num_params"] = next(iter(finals.values())).get("num_params")
    # Consensus distance of the final models.
    xs = []
    for nd in nodes:
        ck = nd / "checkpoint.bin"
        if ck.exists():
            xs.append(read_params(ck))
    if len(xs) >= 2:
        X = np.stack(xs)
        r["consensus"] = float(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1)))
    else:
        r["consensus"] = math.nan
    # Accuracy curve: eval records at the same step on every node.
    by_step = {}
    for i, rs in recs.items():
        for rec in rs:
            if rec["event"] in ("eval", "final") and rec.get("test_accuracy") is not None:
                by_step.setdefault(rec["step"], {})[i] = rec
    curve = []
    for step in sorted(by_step):
        d = by_step[step]
        if len(d) < len(recs):
            continue
        curve.append({"step": step,
                      "acc": float(np.mean([x["test_accuracy"] for x in d.values()])),
                      "time": max(x["time"] for x in d.values()),
                      "bytes": sum(x["bytes_sent"] for x in d.values()),
                      "messages": sum(x["update_frames_sent"] for x in d.values())})
    r["curve"] = curve
    return r


def time_to(curve, target):
    for c in curve:
        if c["acc"] >= target:
            return c["time"], c["step"]
    return math.nan, None


def group_key(r):
    """Runs compare with the D-PSGD run of the same grid, dataset and topology."""
    m = r["meta"]
    if m:
        return (m.get("grid"), m.get("dataset"), m.get("topology"))
    return (Path(r["dir"]).parent.name, r["name"].rsplit("-", 1)[0], "")


def is_baseline(r):
    """D-PSGD as the preset, or a labelled D-PSGD such as dpsgd@ls (lockstep, round 5)."""
    lab = r["meta"].get("label") or r["name"].rsplit("-", 1)[-1]
    return lab == "dpsgd" or lab.startswith("dpsgd@") or r["name"].endswith("-dpsgd")


def fmt_bytes(b):
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= div:
            return f"{b / div:.2f} {unit}"
    return f"{b} B"


def build(runs_dirs, target):
    runs = []
    for d in runs_dirs:
        d = Path(d)
        cands = [d] if (d / "node-0").exists() else sorted(p for p in d.iterdir() if p.is_dir())
        for c in cands:
            r = load_run(c)
            if r is not None:
                runs.append(r)
    base = {}
    for r in runs:
        if is_baseline(r):
            base[group_key(r)] = r
    for r in runs:
        b = base.get(group_key(r))
        r["saved_bytes"] = b["bytes"] / r["bytes"] if b and r["bytes"] else math.nan
        r["saved_msgs"] = b["messages"] / r["messages"] if b and r["messages"] else math.nan
        r["msgs_fewer_pct"] = 100 * (1 - r["messages"] / b["messages"]) if b and b["messages"] else math.nan
        r["dacc"] = 100 * (r["acc"] - b["acc"]) if b else math.nan
        r["same_steps"] = bool(b) and b["steps"] == r["steps"]
        r["tta"], r["tta_step"] = time_to(r["curve"], target) if target else (math.nan, None)
    return runs


def label(r):
    m = r["meta"]
    if m:
        return f"{m['grid']}: {m['dataset']} / {m['topology']} / {m['label']}"
    return r["name"]


def to_markdown(runs, target):
    cols = ["run", "final acc (mean, min..max)", "Δacc vs D-PSGD (points)", "bytes sent",
            "saved (bytes)", "messages", "fewer msgs", "saved (msgs)", "trigger rate",
            "consensus dist.", "wall (s)"]
    if target:
        cols.append(f"time to {100 * target:.0f}% (s)")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in runs:
        row = [label(r) + ("" if r["finished"] else " (NOT finished)"),
               f"{100 * r['acc']:.2f} ({100 * r['acc_min']:.1f}..{100 * r['acc_max']:.1f})",
               f"{r['dacc']:+.2f}", fmt_bytes(r["bytes"]), f"{r['saved_bytes']:.1f}x",
               f"{r['messages']}", f"{r['msgs_fewer_pct']:.1f}%", f"{r['saved_msgs']:.1f}x",
               f"{r['trigger_rate']:.3f}", f"{r['consensus']:.3g}", f"{r['wall']:.0f}"]
        if target:
            row.append("-" if math.isnan(r["tta"]) else f"{r['tta']:.0f} (step {r['tta_step']})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def to_csv(runs):
    keys = ["name", "acc", "acc_min", "acc_max", "dacc", "bytes", "saved_bytes", "messages",
            "msgs_fewer_pct", "saved_msgs", "keyframes", "values", "steps", "trigger_rate",
            "consensus", "wall", "tta", "tta_step", "finished"]
    out = [",".join(keys)]
    for r in runs:
        out.append(",".join(str(r[k]) for k in keys))
    return "\n".join(out) + "\n"


def plots(runs, out_dir, prefix):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = {}
    for r in runs:
        groups.setdefault(group_key(r), []).append(r)
    written = []
    for (grid, ds, topo), rs in groups.items():
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        cmap = plt.get_cmap("tab20")
        for idx, r in enumerate(sorted(rs, key=lambda r: r["name"])):
            c = r["curve"]
            if not c:
                continue
            lab = r["meta"].get("label", r["name"])
            style = dict(marker="os^v"[idx % 4], ms=3, color=cmap(idx % 20),
                         linestyle=["-", "--", ":"][(idx // 4) % 3], label=lab)
            axes[0].plot([x["step"] for x in c], [100 * x["acc"] for x in c], **style)
            axes[1].plot([max(x["bytes"], 1) / 1e6 for x in c], [100 * x["acc"] for x in c], **style)
            axes[2].plot([x["time"] for x in c], [100 * x["acc"] for x in c], **style)
        axes[0].set_xlabel("step")
        axes[1].set_xlabel("MB sent, all nodes (log)")
        axes[1].set_xscale("log")
        axes[2].set_xlabel("wall time (s)")
        for a in axes:
            a.set_ylabel("mean test accuracy (%)")
            a.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{grid}: {ds}, {topo}")
        fig.tight_layout()
        path = out_dir / f"{prefix}-{grid}-{ds}-{topo}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="grid directories or run directories")
    ap.add_argument("--target", type=float, default=0.0, help="accuracy for time-to-accuracy (0..1)")
    ap.add_argument("--md", help="write the markdown table here")
    ap.add_argument("--csv", help="write a CSV here")
    ap.add_argument("--plots", help="directory for PNG plots")
    ap.add_argument("--prefix", default="grid")
    args = ap.parse_args()
    runs = build(args.runs, args.target)
    md = to_markdown(runs, args.target)
    print(md)
    if args.md:
        Path(args.md).write_text(md)
    if args.csv:
        Path(args.csv).write_text(to_csv(runs))
    if args.plots:
        for p in plots(runs, args.plots, args.prefix):
            print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
