#!/usr/bin/python3
"""Goal table across learning rates: every method at every learning rate, each against D-PSGD at
its better learning rate (docs/RESULTS.md, round 6).

Each LR=GRID_DIR names one seed's grid run at that learning rate (runs/s7f-lr0.08-seed3, ...).
For each dataset / topology cell, D-PSGD's learning rate is the one with the higher mean over
the seeds; every other row is paired by seed against D-PSGD at that learning rate: mean accuracy,
mean difference ± the standard error of the per-seed differences, bytes saved and fewer messages
(against D-PSGD's traffic, which does not depend on the learning rate), and the brief's goal.

    scripts/experiments/best_lr.py 0.05=runs/s7f-lr0.05-seed1 0.08=runs/s7f-lr0.08-seed1 ... \
        [--dataset fashion-mnist] [--csv F]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import seeds  # noqa: E402
import summarize as S  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("grids", nargs="+", help="LR=GRID_DIR")
    ap.add_argument("--dataset", default="")
    ap.add_argument("--csv", default="")
    args = ap.parse_args()

    runs = {}  # (dataset, topology, label, lr) -> {seed: run}
    for spec in args.grids:
        lr, sep, g = spec.partition("=")
        if not sep or not Path(g).is_dir():
            sys.exit(f"best_lr.py: '{spec}' is not LR=GRID_DIR with an existing directory")
        for r in S.build([g], 0):
            m = r["meta"]
            if not m or not r["finished"] or (args.dataset and m["dataset"] != args.dataset):
                continue
            runs.setdefault((m["dataset"], m["topology"], m["label"], lr), {})[m["seed"]] = r

    print("| dataset / topology | method | lr | seeds | mean % | Δ vs D-PSGD at its best lr "
          "| bytes saved | fewer msgs | goal met (on the means) |")
    print("|---|---|---|---|---|---|---|---|---|")
    csv = ["dataset,topology,label,lr,seeds,acc_mean,dacc_mean,dacc_se,saved_bytes_mean,"
           "fewer_msgs_mean,baseline_lr"]
    cells = sorted({(ds, topo) for ds, topo, _, _ in runs})
    for ds, topo in cells:
        base = {lr: v for (d, t, lab, lr), v in runs.items()
                if (d, t) == (ds, topo) and S.is_baseline({"meta": {"label": lab}, "name": lab})}
        if not base:
            continue
        best = max(base, key=lambda lr: statistics.fmean(r["acc"] for r in base[lr].values()))
        ref = base[best]
        for (d, t, lab, lr), by_seed in sorted(runs.items()):
            if (d, t) != (ds, topo):
                continue
            paired = sorted(s for s in by_seed if s in ref)
            if not paired:
                continue
            acc = statistics.fmean(100 * by_seed[s]["acc"] for s in paired)
            dacc, se = seeds.mean_se([100 * (by_seed[s]["acc"] - ref[s]["acc"]) for s in paired])
            saved = statistics.fmean(ref[s]["bytes"] / by_seed[s]["bytes"] for s in paired)
            fewer = statistics.fmean(100 * (1 - by_seed[s]["messages"] / ref[s]["messages"])
                                     for s in paired)
            mark = " (baseline)" if by_seed is ref else ""
            ok = seeds.verdict(seeds.goal_of(lab), dacc, saved, fewer)
            print(f"| {ds} / {topo} | {lab}{mark} | {lr} | {len(paired)} | {acc:.2f} | "
                  f"{dacc:+.2f} ± {se:.2f} | {saved:.1f}x | {fewer:.0f}% | {ok} |")
            csv.append(f"{ds},{topo},{lab},{lr},{len(paired)},{acc:.4f},{dacc:.4f},{se:.4f},"
                       f"{saved:.4f},{fewer:.4f},{best}")
    if args.csv:
        Path(args.csv).write_text("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
