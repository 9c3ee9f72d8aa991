#!/usr/bin/env bash
# murmur vs PyTorch, single-thread training and inference throughput, side by side in one run.
#
#   bench/run_nn_bench.sh BUILD_DIR [--rounds N] [--models lenet5,mnist-cnn,resnet20] [--quick]
#                                   [--out DIR]
#   bench/run_nn_bench.sh BUILD_DIR --profile MODEL
#
# Builds nothing: BUILD_DIR must already hold bench/nn_bench (cmake --build BUILD_DIR --target
# nn_bench). Each round runs murmur's nn_bench, then PyTorch with oneDNN (mkldnn) conv, then
# PyTorch with im2col+OpenBLAS conv, so load changes on a shared machine hit all three alike.
# The table shows medians over every timed repeat of every round; PyTorch's figure is the better
# of its two set-ups per model (a fair rival gets its best configuration).
# --profile runs one model's training step under ONEDNN_VERBOSE=1, murmur then PyTorch (which
# uses the same system oneDNN for conv), and prints where the time goes per oneDNN primitive:
# implementation (avoid "ref:"), memory formats, reorders; medians per call, sorted.
# Environment: PYTHON (default /usr/bin/python3: Debian's python3-torch), OPENBLAS_CORETYPE
# (default: OpenBLAS's own detection; the one it used is printed).
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

[[ $# -ge 1 ]] || usage
case "$1" in -h|--help) usage 0 ;; esac
build_dir=$1; shift
rounds=3
models=lenet5,mnist-cnn,resnet20
quick=0
out_dir=
profile=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out_dir=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "run_nn_bench.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
bench_bin=$build_dir/bench/nn_bench
python=${PYTHON:-/usr/bin/python3}
[[ -x $bench_bin ]] || { echo "run_nn_bench.sh: $bench_bin not found (build target nn_bench first)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || { echo "run_nn_bench.sh: $python cannot import torch (set PYTHON)" >&2; exit 1; }

# One thread for everybody; PyTorch's BLAS and OpenMP read these at load time.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 MURMUR_THREADS=1

summarise_verbose() {
  "$python" -c "$(cat <<'EOF'
import collections, statistics, sys

# Summarise ONEDNN_VERBOSE=1 exec lines: per primitive (kind, implementation, direction, memory
# formats, shape) the median time per call and calls per step; sorted by time per step.
execs = collections.defaultdict(list)
for line in sys.stdin:
    f = line.rstrip("\n").split(",")
    if len(f) < 11 or f[0] not in ("onednn_verbose", "dnnl_verbose") or f[1] != "exec":
        continue
    kind, impl, prop, mds, problem = f[3], f[4], f[5], f[6], f[9]
    execs[(kind, impl, prop, mds, problem)].append(float(f[-1]))
if not execs:
    sys.exit("no ONEDNN_VERBOSE exec lines")
steps = min(len(v) for v in execs.values())
rows = []
for key, times in execs.items():
    per_call = statistics.median(times)
    calls = len(times) / steps
    rows.append((per_call * calls, per_call, calls, key))
rows.sort(reverse=True)
total = sum(r[0] for r in rows)
by_kind = collections.Counter()
for r in rows:
    k = r[3][0] + (" " + r[3][2] if r[3][0] != "reorder" else "")
    by_kind[k] += r[0]
print(f"# {steps} steps seen; sum of per-call medians: {total:.3f} ms per step")
print(f"{'ms/step':>8} {'%':>5} {'calls':>5}  kind impl direction  shape  [formats]")
for per_step, per_call, calls, (kind, impl, prop, mds, problem) in rows:
    short = " ".join(m.split(":")[0].split("_")[0] + "=" + m.split(":")[-2] for m in mds.split())
    print(f"{per_step:8.3f} {100 * per_step / total:5.1f} {calls:5.1f}  {kind} {impl} {prop}  "
          f"{problem}  [{short}]")
print("# by primitive kind")
for k, v in by_kind.most_common():
    print(f"{v:8.3f} {100 * v / total:5.1f}  {k}")
EOF
)"
}

if [[ -n $profile ]]; then
  echo "### murmur: TrainStep/$profile (trainStep + Sgd::step), ONEDNN_VERBOSE=1"
  ONEDNN_VERBOSE=1 "$bench_bin" --benchmark_filter="^TrainStep/$profile\$" \
    --benchmark_min_time=0.3 2>&1 | summarise_verbose
  echo
  echo "### PyTorch: $profile training step (oneDNN primitives only: conv; the rest is ATen)"
  ONEDNN_VERBOSE=1 "$python" "$here/pytorch_reference.py" --models "$profile" --train-only \
    --warmup 3 --iters 30 --repeats 1 2>&1 | summarise_verbose
  exit 0
fi

if [[ -z $out_dir ]]; then out_dir=$(mktemp -d /tmp/murmur-nn-bench.XXXXXX); fi
mkdir -p "$out_dir"

# murmur: Google Benchmark repetitions within a round; PyTorch: repeats of `iters` steps.
if [[ $quick == 1 ]]; then
  cxx_args=(--benchmark_repetitions=3 --benchmark_min_time=0.2)
  py_args=(--warmup 3 --min-time 0.2 --repeats 3)
else
  cxx_args=(--benchmark_repetitions=5 --benchmark_min_time=0.5)
  py_args=(--warmup 5 --min-time 0.5 --repeats 5)
fi
filter="^(TrainStep|Infer)/($(echo "$models" | sed 's/,/|/g'))(/|\$)"

echo "# $(date -u +%FT%TZ)  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores;" \
     "load $(cut -d' ' -f1-3 /proc/loadavg); raw output in $out_dir"
for ((r = 1; r <= rounds; r++)); do
  echo "# round $r/$rounds: murmur" >&2
  "$bench_bin" --benchmark_filter="$filter" "${cxx_args[@]}" --benchmark_format=json \
    --benchmark_out_format=json --benchmark_out="$out_dir/murmur.$r.json" >/dev/null
  echo "# round $r/$rounds: pytorch (oneDNN conv)" >&2
  "$python" "$here/pytorch_reference.py" --json --models "$models" "${py_args[@]}" \
    >"$out_dir/pytorch-dnnl.$r.jsonl"
  echo "# round $r/$rounds: pytorch (im2col+BLAS conv)" >&2
  "$python" "$here/pytorch_reference.py" --json --no-mkldnn --models "$models" "${py_args[@]}" \
    >"$out_dir/pytorch-blas.$r.jsonl"
done

"$python" - "$out_dir" "$rounds" <<'EOF'
import glob, json, os, statistics, sys

out_dir, rounds = sys.argv[1], int(sys.argv[2])
UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
rates = {}  # (who, clock, kind, model) -> [images/s per repetition]; clock: cpu or wall


def add(key, values):
    rates.setdefault(key, []).extend(values)


models = []
for path in sorted(glob.glob(os.path.join(out_dir, "murmur.*.json"))):
    with open(path) as f:
        doc = json.load(f)
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        kind, model = b["run_name"].split("/")[:2]
        if model not in models:
            models.append(model)
        unit = UNIT[b["time_unit"]]
        add(("murmur", "cpu", kind, model), [b["batch"] / (b["cpu_time"] * unit)])
        add(("murmur", "wall", kind, model), [b["batch"] / (b["real_time"] * unit)])

setups = {}
for config in ("dnnl", "blas"):
    who = "torch-" + config
    for path in sorted(glob.glob(os.path.join(out_dir, f"pytorch-{config}.*.jsonl"))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if "setup" in rec:
                    setups[config] = rec
                    continue
                m = rec["model"]
                add((who, "cpu", "TrainStep", m), rec["train_rates"])
                add((who, "cpu", "Infer", m), rec["infer_rates"])
                add((who, "wall", "TrainStep", m), rec["train_wall_rates"])
                add((who, "wall", "Infer", m), rec["infer_wall_rates"])

s = setups.get("dnnl") or next(iter(setups.values()))
blas = s["blas"]
print(f"# PyTorch {s['torch']}, {s['threads']} thread (interop {s['interop_threads']}), "
      f"mkldnn available: {s['mkldnn_available']}")
print(f"# BLAS: {', '.join(os.path.basename(l) for l in blas.get('loaded', []))}; "
      f"OpenBLAS core {blas.get('openblas_corename')}, {blas.get('openblas_num_threads')} thread; "
      f"OPENBLAS_CORETYPE={s['env'].get('OPENBLAS_CORETYPE')}")
print(f"# images/s, batch 64, 1 thread; medians over all repeats of {rounds} interleaved round(s)")
print("# torch-dnnl: PyTorch conv through oneDNN (mkldnn); torch-blas: im2col + OpenBLAS")
print("# ratio = murmur / the better torch set-up; cpu = per CPU second (primary: robust to other")
print("# jobs on the cores), wall = per wall-clock second")
nan = float("nan")
print(f"{'model':<10} {'step':<6} {'murmur':>8} {'torch-dnnl':>10} {'torch-blas':>10} "
      f"{'ratio':>6} | {'wall: murmur':>12} {'torch best':>10} {'ratio':>6}")


def med(key):
    v = rates.get(key)
    return statistics.median(v) if v else nan


for model in models:
    for kind, label in (("TrainStep", "train"), ("Infer", "infer")):
        row = {}
        for clock in ("cpu", "wall"):
            mm = med(("murmur", clock, kind, model))
            td = med(("torch-dnnl", clock, kind, model))
            tb = med(("torch-blas", clock, kind, model))
            best = max((x for x in (td, tb) if x == x), default=nan)
            row[clock] = (mm, td, tb, best, mm / best)
        mm, td, tb, _, ratio = row["cpu"]
        wm, _, _, wbest, wratio = row["wall"]
        print(f"{model:<10} {label:<6} {mm:>8.0f} {td:>10.0f} {tb:>10.0f} {ratio:>5.2f}x | "
              f"{wm:>12.0f} {wbest:>10.0f} {wratio:>5.2f}x")
EOF
