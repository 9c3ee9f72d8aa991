#!/usr/bin/env python3
"""Tables and plots from murmur run directories (the plotting half of `murmur report`).

Reads only what `murmur run` / `murmur node` write: RUN/config.toml, RUN/summary.json and
RUN/node-*/metrics.jsonl. Writes OUT/report.md and PNG plots:
  accuracy_vs_steps.png, accuracy_vs_mb.png, traffic_per_edge.png, trigger_events.png
Exit codes: 0 ok, 1 runtime failure, 2 bad arguments or no usable run directory.
"""

import argparse
import glob
import json
import math
import os
import re
import sys


def read_jsonl(path):
    records = []
    try:
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a line still being written
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except OSError:
        pass
    return records


def read_method(run_dir):
    """The [gossip] method from config.toml (a tiny reader: no third-party TOML needed)."""
    section = None
    try:
        with open(os.path.join(run_dir, "config.toml"), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                m = re.match(r"^\[(\w+)\]$", line)
                if m:
                    section = m.group(1)
                    continue
                m = re.match(r'^method\s*=\s*"([^"]*)"', line)
                if m and section == "gossip":
                    return m.group(1)
    except OSError:
        pass
    return "?"


def load_run(run_dir):
    nodes = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "node-*", "metrics.jsonl"))):
        m = re.search(r"node-(\d+)", path)
        if not m:
            continue
        recs = read_jsonl(path)
        if recs:
            nodes[int(m.group(1))] = recs
    summary = None
    try:
        with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, json.JSONDecodeError):
        pass
    return {
        "dir": run_dir,
        "name": os.path.basename(os.path.normpath(run_dir)),
        "method": read_method(run_dir),
        "nodes": nodes,
        "summary": summary,
    }


def evals(records):
    return [r for r in records if r.get("test_accuracy") is not None]


def fmt(v, spec):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def run_row(run):
    finals = []
    mb = 0.0
    frames = 0
    steps = []
    for recs in run["nodes"].values():
        ev = evals(recs)
        if ev:
            finals.append(ev[-1]["test_accuracy"])
        last = recs[-1]
        mb += last.get("bytes_sent", 0) / 1e6
        frames += last.get("update_frames_sent", 0)
        steps.append(last.get("step", 0))
    s = run["summary"] or {}
    return {
        "run": run["name"],
        "method": run["method"],
        "nodes": len(run["nodes"]),
        "steps": max(steps) if steps else 0,
        "acc": sum(finals) / len(finals) if finals else None,
        "min_acc": min(finals) if finals else None,
        "mb": mb,
        "frames": frames,
        "saved": s.get("saved_ratio"),
        "consensus": s.get("consensus_distance"),
    }


def write_markdown(runs, out_dir, plots):
    lines = ["# murmur report", ""]
    lines.append("| run | method | nodes | steps | mean test acc | min test acc | MB sent | update frames | saved vs D-PSGD | consensus distance |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        r = run_row(run)
        lines.append(
            f"| {r['run']} | {r['method']} | {r['nodes']} | {r['steps']} | {fmt(r['acc'], '.4f')} | "
            f"{fmt(r['min_acc'], '.4f')} | {r['mb']:.2f} | {r['frames']} | "
            f"{fmt(r['saved'], '.2f')}{'x' if r['saved'] is not None else ''} | {fmt(r['consensus'], '.4g')} |"
        )
    lines.append("")
    lines.append("Saved vs D-PSGD: the dense tensor values D-PSGD would send for the same steps "
                 "(steps x degree x parameters x 4 bytes) over the bytes this run put on the wire.")
    lines.append("")
    for run in runs:
        lines.append(f"## {run['name']} per node")
        lines.append("")
        lines.append("| node | steps | test acc | MB sent | MB received | update frames | trigger rate | mean staleness |")
        lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for nid, recs in sorted(run["nodes"].items()):
            last = recs[-1]
            ev = evals(recs)
            acc = ev[-1]["test_accuracy"] if ev else None
            lines.append(
                f"| {nid} | {last.get('step', 0)} | {fmt(acc, '.4f')} | "
                f"{last.get('bytes_sent', 0) / 1e6:.2f} | {last.get('bytes_received', 0) / 1e6:.2f} | "
                f"{last.get('update_frames_sent', 0)} | {fmt(last.get('trigger_rate'), '.3f')} | "
                f"{fmt(last.get('mean_staleness'), '.2f')} |"
            )
        lines.append("")
    if plots:
        lines.append("## Plots")
        lines.append("")
        for p in plots:
            lines.append(f"![{p}]({p})")
            lines.append("")
    path = os.path.join(out_dir, "report.md")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)
    return "\n".join(lines)


def mean_curve(run, x_key):
    """Mean test accuracy over nodes at each eval index (nodes evaluate at the same steps)."""
    series = [evals(recs) for recs in run["nodes"].values()]
    series = [s for s in series if s]
    if not series:
        return [], []
    n = min(len(s) for s in series)
    xs, ys = [], []
    for i in range(n):
        if x_key == "mb":
            xs.append(sum(s[i].get("bytes_sent", 0) for s in series) / 1e6)
        else:
            xs.append(sum(s[i].get(x_key, 0) for s in series) / len(series))
        ys.append(sum(s[i]["test_accuracy"] for s in series) / len(series))
    return xs, ys


def make_plots(runs, out_dir):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib not available; writing tables only", file=sys.stderr)
        return []
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, name), dpi=110)
        plt.close(fig)
        written.append(name)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        xs, ys = mean_curve(run, "step")
        if xs:
            ax.plot(xs, ys, marker="o", label=f"{run['name']} ({run['method']}) mean")
        if len(runs) == 1:
            for nid, recs in sorted(run["nodes"].items()):
                ev = evals(recs)
                ax.plot([r["step"] for r in ev], [r["test_accuracy"] for r in ev], alpha=0.4,
                        linewidth=1, label=f"node {nid}")
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "accuracy_vs_steps.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        xs, ys = mean_curve(run, "mb")
        if xs:
            ax.plot(xs, ys, marker="o", label=f"{run['name']} ({run['method']})")
    ax.set_xlabel("MB sent (all nodes)")
    ax.set_ylabel("mean test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, "accuracy_vs_mb.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels, values, colors = [], [], []
    cmap = plt.get_cmap("tab10")
    for ri, run in enumerate(runs):
        for nid, recs in sorted(run["nodes"].items()):
            for e in recs[-1].get("edges", []):
                prefix = f"{run['name']}: " if len(runs) > 1 else ""
                labels.append(f"{prefix}{nid}->{e['peer']}")
                values.append(e["sent"]["bytes"] / 1e6)
                colors.append(cmap(ri % 10))
    if values:
        ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("MB sent on the edge")
    ax.set_title("traffic per directed edge")
    save(fig, "traffic_per_edge.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        for nid, recs in sorted(run["nodes"].items()):
            pts = [(r["step"], r.get("events", 0)) for r in recs if "events" in r]
            if pts:
                label = f"{run['name']} node {nid}" if len(runs) > 1 else f"node {nid}"
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("trigger events (cumulative, all tensors)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, "trigger_events.png")
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run directories")
    ap.add_argument("--out", help="output directory (default: FIRST_RUN/report)")
    args = ap.parse_args()
    runs = []
    for d in args.runs:
        if not os.path.isdir(d):
            print(f"report.py: {d}: not a directory", file=sys.stderr)
            return 2
        run = load_run(d)
        if not run["nodes"]:
            print(f"report.py: {d}: no node-*/metrics.jsonl with records", file=sys.stderr)
            return 2
        runs.append(run)
    out_dir = args.out or os.path.join(args.runs[0], "report")
    os.makedirs(out_dir, exist_ok=True)
    plots = make_plots(runs, out_dir)
    text = write_markdown(runs, out_dir, plots)
    print(text.split("\n## ")[0])
    print(f"wrote {os.path.join(out_dir, 'report.md')} and {len(plots)} plots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print(f"report.py: {e}", file=sys.stderr)
        sys.exit(1)
