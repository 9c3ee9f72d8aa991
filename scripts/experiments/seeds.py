#!/usr/bin/python3
"""Seed-averaged goal table for docs/RESULTS.md from several grids of the same cells.

Each GRID_DIR is one seed of the same grid (runs/r2-seed1, runs/r2-seed2, ...). For every
dataset / topology / method label found, prints one markdown row: the final mean test accuracy
per seed and their mean, the mean difference to D-PSGD of the same seed (points, ± the standard
error of the per-seed differences), the mean bytes
saved and the mean share of fewer messages against that D-PSGD run, and whether the brief's goal
for that method holds on the means (see GOALS).

    scripts/experiments/seeds.py runs/r2-seed1 runs/r2-seed2 [--dataset fashion-mnist] [--csv F]
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import summarize as S  # noqa: E402

# label prefix -> (what is measured, threshold, max accuracy loss in points)
GOALS = {
    "eventgrad-vote": ("bytes", 100.0, 1.0),
    "eventgrad-topk": None,
    "eventgrad": ("msgs", 70.0, 0.5),
    "aet-sgd": ("bytes", 40.0, 1.0),
}


def goal_of(label):
    for prefix, goal in GOALS.items():
        if label == prefix or label.startswith(prefix + "@"):
            return goal
    return None


def mean_se(xs):
    """Mean of the paired per-seed differences and its standard error (nan where there are fewer
    than two); a seed without a baseline run has no difference (nan) and is left out."""
    paired = [x for x in xs if x == x]
    mean = statistics.fmean(xs) if xs else float("nan")
    se = statistics.stdev(paired) / len(paired) ** 0.5 if len(paired) > 1 else float("nan")
    return mean, se


def verdict(goal, dacc, saved, fewer):
    if goal is None:
        return ""
    kind, threshold, loss = goal
    amount = saved if kind == "bytes" else fewer
    ok_amount = amount >= threshold
    ok_acc = dacc >= -loss
    unit = "x" if kind == "bytes" else "% fewer msgs"
    need = f"(goal >= {threshold:g}{unit}, >= -{loss:g} pt)"
    if ok_amount and ok_acc:
        return f"**yes** {need}"
    return f"no {need}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("grids", nargs="+")
    ap.add_argument("--dataset", default="")
    ap.add_argument("--topology", default="")
    ap.add_argument("--csv", default="")
    args = ap.parse_args()

    cells = {}  # (dataset, topology, label) -> list of runs, one per grid
    for g in args.grids:
        for r in S.build([g], 0):
            m = r["meta"]
            if not m:
                continue
            if args.dataset and m["dataset"] != args.dataset:
                continue
            if args.topology and m["topology"] != args.topology:
                continue
            cells.setdefault((m["dataset"], m["topology"], m["label"]), []).append(r)

    print("| dataset / topology | method | acc per seed % | mean % | mean Δ vs D-PSGD | bytes saved "
          "| fewer msgs | consensus | goal met (on the means) |")
    print("|---|---|---|---|---|---|---|---|---|")
    csv = ["dataset,topology,label,seeds,acc_mean,dacc_mean,saved_bytes_mean,fewer_msgs_mean,dacc_se"]
    for (ds, topo, lab), runs in sorted(cells.items()):
        accs = [100 * r["acc"] for r in runs]
        # The seeds are paired with D-PSGD, so the spread that matters is that of the differences.
        dacc, se = mean_se([r["dacc"] for r in runs])
        saved = statistics.fmean(r["saved_bytes"] for r in runs)
        fewer = statistics.fmean(r["msgs_fewer_pct"] for r in runs)
        cons = statistics.median(r["consensus"] for r in runs)
        per = " / ".join(f"{a:.2f}" for a in accs)
        ok = verdict(goal_of(lab), dacc, saved, fewer)
        unfinished = "" if all(r["finished"] for r in runs) else " (NOT finished)"
        print(f"| {ds} / {topo} | {lab}{unfinished} | {per} | {statistics.fmean(accs):.2f} | "
              f"{dacc:+.2f} ± {se:.2f} | {saved:.1f}x | {fewer:.0f}% | {cons:.2g} | {ok} |")
        csv.append(f"{ds},{topo},{lab},{len(runs)},{statistics.fmean(accs):.4f},{dacc:.4f},"
                   f"{saved:.4f},{fewer:.4f},{se:.4f}")
    if args.csv:
        Path(args.csv).write_text("\n".join(csv) + "\n")


if __name__ == "__main__":
    main()
