#!/usr/bin/python3
"""Run a method x topology x dataset grid through `murmur run`.

Each cell goes to runs/<grid>/<dataset>-<topology>-<label>/ (the murmur run directory: config.toml,
topology.txt, node-<i>/metrics.jsonl, node-<i>/checkpoint.bin, summary.json) plus grid.json (what
this script asked for) and run.log (murmur run's output). A cell whose summary.json already
exists is skipped, so a grid can be resumed; --force reruns it.

A method is a preset name, optionally with a label and parameters:
    eventgrad                               preset as is
    eventgrad-vote@rho05:topk=0.05          label "eventgrad-vote@rho05", --param topk=0.05
    aet-sgd@a20:aet_a=20,max_round_lead=5   several parameters, comma separated

Example (the 8-node ring on Fashion-MNIST of docs/RESULTS.md):
    scripts/experiments/run_grid.py --grid main --datasets fashion-mnist --topologies ring \
        --methods dpsgd,local-sgd,eventgrad --epochs 2
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"fashion-mnist": "lenet5", "mnist": "mnist-cnn", "cifar10": "resnet20"}
ALL_METHODS = "dpsgd,local-sgd,eventgrad,eventgrad-topk,eventgrad-vote,aet-sgd,ri-sgd"


def parse_method(spec):
    """'preset@tag:k=v,k=v' -> (label, preset, ['k=v', ...])."""
    head, _, params = spec.partition(":")
    preset = head.split("@", 1)[0]
    return head, preset, [p for p in params.split(",") if p]


def topology_args(topo, nodes, base_port, seed, run_dir, murmur):
    """Flags that give `murmur run` the topology; 'torus' is written as a rows x cols file."""
    if topo.startswith("torus"):
        # torus or torusRxC, e.g. torus2x4
        shape = topo[len("torus"):]
        rows, cols = (shape.split("x") if shape else ("0", "0"))
        path = run_dir / "torus.topo"
        cmd = [murmur, "topo", "gen", "torus", "-n", str(nodes), "--base-port", str(base_port),
               "-o", str(path)]
        if rows != "0":
            cmd += ["--rows", rows, "--cols", cols]
        subprocess.run(cmd, check=True)
        return ["--topology", str(path)]
    return ["--nodes", str(nodes), "--graph", topo, "--base-port", str(base_port)]


def shaped_topologies(topo_path, run_dir, nodes):
    """Per-node topology files for the shaper: node j listens on its real port (public + 50),
    every other node is dialled at its public port, where shaper_proxy.py listens."""
    lines = topo_path.read_text().splitlines()
    maps, paths = [], []
    for j in range(nodes):
        out = []
        for ln in lines:
            f = ln.split()
            if len(f) >= 3 and f[0] == "node":
                host, port = f[2].rsplit(":", 1)
                if int(f[1]) == j:
                    maps.append(f"{port}:{int(port) + 50}")
                    ln = f"node {f[1]} {host}:{int(port) + 50}" + (" " + " ".join(f[3:]) if len(f) > 3 else "")
            out.append(ln)
        p = run_dir / f"node-{j}" / "topology-shaped.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(out) + "\n")
        paths.append(p)
    return maps, paths


def run_with_nodes(murmur, run_cmd, run_dir, topo_flags, nodes, deadline, shape=None):
    """Fallback for builds without `murmur run`: one `murmur node` per topology node, same flags.

    Writes run_dir/topology.txt, starts the nodes (output in node-<i>/output.txt), waits up to
    `deadline` seconds, then SIGTERM (and SIGKILL 15 s later). Returns the worst exit code.
    """
    topo_path = run_dir / "topology.txt"
    if "--topology" in topo_flags:
        src = Path(topo_flags[topo_flags.index("--topology") + 1])
        topo_path.write_text(src.read_text())
    else:
        kind = topo_flags[topo_flags.index("--graph") + 1]
        port = topo_flags[topo_flags.index("--base-port") + 1]
        subprocess.run([murmur, "topo", "gen", kind, "-n", str(nodes), "--base-port", port,
                        "-o", str(topo_path)], check=True)
    # murmur run's own flags are dropped; the training/gossip flags are the same for node.
    flags, skip = [], 0
    drop_with_value = {"--out", "--deadline", "--nodes", "--graph", "--topology", "--base-port"}
    for i, a in enumerate(run_cmd[2:]):
        if skip:
            skip -= 1
            continue
        if a in drop_with_value:
            skip = 1
            continue
        if a == "--quiet":
            continue
        flags.append(a)
    (run_dir / "node_command.txt").write_text(
        " ".join([murmur, "node", "--topology", str(topo_path), "--id", "<i>", "--run-dir",
                  str(run_dir)] + flags) + "\n")
    topo_paths = [topo_path] * nodes
    proxy = None
    if shape:
        bw, delay = shape[0], shape[1]
        maps, topo_paths = shaped_topologies(topo_path, run_dir, nodes)
        cmd = [sys.executable, str(Path(__file__).with_name("shaper_proxy.py")), "--bw", str(bw),
               "--delay", str(delay)] + [a for m in maps for a in ("--map", m)]
        if len(shape) > 2:
            cmd += ["--sockbuf", str(int(shape[2]))]
        (run_dir / "shaper_command.txt").write_text(" ".join(cmd) + "\n")
        proxy = subprocess.Popen(cmd, stdout=open(run_dir / "shaper.log", "w"), stderr=subprocess.STDOUT)
        time.sleep(1.0)
    procs = []
    for i in range(nodes):
        (run_dir / f"node-{i}").mkdir(parents=True, exist_ok=True)
        out = open(run_dir / f"node-{i}" / "output.txt", "w")
        procs.append(subprocess.Popen([murmur, "node", "--topology", str(topo_paths[i]), "--id", str(i),
                                       "--run-dir", str(run_dir)] + flags,
                                      stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    t_end = time.monotonic() + deadline
    while any(p.poll() is None for p in procs) and time.monotonic() < t_end:
        time.sleep(0.5)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if proxy is not None:
        proxy.terminate()
        proxy.wait()
    return max(abs(p.returncode) for p in procs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", required=True, help="grid name: runs/<grid>/")
    ap.add_argument("--datasets", default="fashion-mnist", help="comma list; dataset[=model]")
    ap.add_argument("--topologies", default="ring", help="comma list: ring, torus, torus2x4, complete, ...")
    ap.add_argument("--methods", default=ALL_METHODS, help="comma-free list separated by ';' or ','"
                    " (use ';' when a method has several parameters)")
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=0)
    ap.add_argument("--deadline", type=float, default=900)
    ap.add_argument("--base-port", type=int, default=20000,
                    help="below 32768, the kernel's ephemeral range, where outgoing connections take ports")
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"))
    ap.add_argument("--murmur", default=str(ROOT / "build-results" / "murmur"))
    ap.add_argument("--extra", default="", help="extra flags for murmur run, space separated")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--shape", default="",
                    help="BYTES_PER_S:DELAY_S[:SOCKBUF]: every link through shaper_proxy.py (implies --launcher node)")
    ap.add_argument("--launcher", choices=["run", "node"], default="run",
                    help="'run': murmur run; 'node': this script starts one murmur node per node")
    args = ap.parse_args()

    sep = ";" if ";" in args.methods else ","
    methods = [m.strip() for m in args.methods.split(sep) if m.strip()]
    grid_dir = Path(args.runs_dir) / args.grid
    grid_dir.mkdir(parents=True, exist_ok=True)
    port = args.base_port
    failures = 0
    for ds_spec in args.datasets.split(","):
        ds, _, model = ds_spec.partition("=")
        model = model or MODELS[ds]
        for topo in args.topologies.split(","):
            for spec in methods:
                label, preset, params = parse_method(spec)
                run_dir = grid_dir / f"{ds}-{topo}-{label}"
                port += 100  # fresh ports per cell: no clash with a previous cell's TIME_WAIT
                if (run_dir / "summary.json").exists() and not args.force:
                    print(f"skip {run_dir} (done)", flush=True)
                    continue
                run_dir.mkdir(parents=True, exist_ok=True)
                cmd = [args.murmur, "run", "--quiet", "--out", str(run_dir),
                       "--model", model, "--data", ds, "--method", preset,
                       "--epochs", str(args.epochs), "--batch", str(args.batch),
                       "--seed", str(args.seed), "--test-limit", str(args.test_limit),
                       "--deadline", str(args.deadline), "--threads", "1"]
                cmd += topology_args(topo, args.nodes, port, args.seed, run_dir, args.murmur)
                if args.lr is not None:
                    cmd += ["--lr", str(args.lr)]
                if args.train_limit:
                    cmd += ["--train-limit", str(args.train_limit)]
                if args.eval_every:
                    cmd += ["--eval-every", str(args.eval_every)]
                for p in params:
                    cmd += ["--param", p]
                cmd += args.extra.split()
                meta = {"grid": args.grid, "dataset": ds, "model": model, "topology": topo,
                        "method": preset, "label": label, "params": params,
                        "nodes": args.nodes, "epochs": args.epochs, "batch": args.batch,
                        "seed": args.seed, "test_limit": args.test_limit,
                        "train_limit": args.train_limit, "command": cmd, "launcher": "node" if args.shape else args.launcher, "shape": args.shape,
                        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                print(f"run {run_dir}: {' '.join(cmd)}", flush=True)
                t0 = time.monotonic()
                if args.shape:
                    args.launcher = "node"
                if args.launcher == "run":
                    with open(run_dir / "run.log", "w") as log:
                        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
                else:
                    topo_flags = cmd[cmd.index("--threads") + 2:]
                    shape = tuple(float(x) for x in args.shape.split(":")) if args.shape else None
                    rc = run_with_nodes(args.murmur, cmd, run_dir, topo_flags, args.nodes, args.deadline,
                                        shape)
                    # summarize.py reads the node directories; summary.json marks the cell done.
                    (run_dir / "summary.json").write_text(json.dumps({"launcher": "node", "exit_code": rc}) + "\n")
                meta["wall_seconds"] = time.monotonic() - t0
                meta["exit_code"] = rc
                (run_dir / "grid.json").write_text(json.dumps(meta, indent=1) + "\n")
                print(f"  exit {rc} after {meta['wall_seconds']:.0f} s", flush=True)
                if rc != 0:
                    failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
