#!/usr/bin/python3
"""Compact markdown rows for docs/RESULTS.md from run directories (see summarize.py).

Runs whose directory name starts with PREFIX ("" for all), each compared with the D-PSGD
run of its grid:
    rows.py full  TARGET PREFIX GRID_DIR...   method | acc | Δ | bytes | saved | msgs | fewer | rate | consensus | wall | tta
    rows.py knobs 0 PREFIX GRID_DIR...        setting | acc | Δ | saved bytes | fewer msgs | rate | consensus
    rows.py const 0 PREFIX GRID_DIR...        method | acc (min..max) | Δ | saved bytes | fewer msgs | consensus
"""
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import summarize as S  # noqa: E402


def lab(r):
    return r["meta"].get("label", r["name"])


def main():
    kind, target, prefix = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    runs = [r for r in S.build(sys.argv[4:], target) if r["name"].startswith(prefix)]
    for r in runs:
        if kind == "full":
            tta = "-" if math.isnan(r["tta"]) else f"{r['tta']:.0f}"
            print(f"| {lab(r)} | {100 * r['acc']:.2f} | {r['dacc']:+.2f} | {S.fmt_bytes(r['bytes'])} | "
                  f"{r['saved_bytes']:.1f}x | {r['messages']} | {r['msgs_fewer_pct']:.0f}% | "
                  f"{r['trigger_rate']:.3f} | {r['consensus']:.2g} | {r['wall']:.0f} | {tta} |")
        elif kind == "knobs":
            print(f"| {lab(r)} {' '.join(r['meta'].get('params', []))} | {100 * r['acc']:.2f} | {r['dacc']:+.2f} | "
                  f"{r['saved_bytes']:.1f}x | {r['msgs_fewer_pct']:.0f}% | {r['trigger_rate']:.3f} | "
                  f"{r['consensus']:.2g} |")
        else:
            print(f"| {lab(r)} | {100 * r['acc']:.2f} ({100 * r['acc_min']:.1f}..{100 * r['acc_max']:.1f}) | "
                  f"{r['dacc']:+.2f} | {r['saved_bytes']:.1f}x | {r['msgs_fewer_pct']:.0f}% | {r['consensus']:.2g} |")


if __name__ == "__main__":
    main()
