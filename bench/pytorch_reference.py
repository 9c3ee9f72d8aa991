#!/usr/bin/env python3
"""PyTorch rival for bench/nn_bench.cpp: the same three models, one thread, batch 64.

One training step = forward, softmax cross-entropy (mean), backward, SGD-momentum update --
the same work murmur's Model::trainStep + Sgd::step do. Inference = eval-mode forward under
torch.inference_mode(). Inputs are synthetic (seeded normal noise, random labels): speed does
not depend on the pixel values.

Thread and BLAS settings must be in the environment BEFORE torch is imported (OpenBLAS and
OpenMP read them at load time), so this script sets safe defaults first thing and prints what
it actually ran with. Run it with Debian's interpreter (/usr/bin/python3): python3-torch lives
in /usr/lib/python3/dist-packages, which a pyenv/venv python does not see.

Output: one JSON object per line (--json) or a small table; the first line always describes the
set-up (torch version, BLAS library and core type, mkldnn use for conv).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

# One thread everywhere, unless the caller deliberately set something else.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402  (must come after the environment is set)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# --------------------------------------------------------------------------------------------
# Models: layer for layer what nn/model.cpp builds.


class LeNet5(nn.Module):
    input_shape = (1, 28, 28)

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MnistCnn(nn.Module):
    """EventGraD's MNIST CNN: 28 -> conv3 26 -> pool 13 -> conv3 11 -> pool 5; 20*5*5 = 500."""

    input_shape = (1, 28, 28)

    def __init__(self, dropout2d=True):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 3)
        self.conv2 = nn.Conv2d(10, 20, 3)
        # murmur's nn/model.cpp uses channel dropout (Dropout2d), as PyTorch's MNIST example.
        self.conv2_drop = nn.Dropout2d(0.5) if dropout2d else nn.Dropout(0.5)
        self.fc1 = nn.Linear(500, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, 0.5, training=self.training)
        return self.fc2(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, shortcut):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut_kind = shortcut
        self.downsample = None
        if stride != 1 or in_planes != planes:
            if shortcut == "B":  # 1x1 conv + BN projection
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes))
            else:  # option A: subsample, zero-pad the new channels (no parameters)
                pad = planes - in_planes
                self.downsample = lambda x: F.pad(
                    x[:, :, ::2, ::2], (0, 0, 0, 0, pad // 2, pad - pad // 2))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet20(nn.Module):
    input_shape = (3, 32, 32)

    def __init__(self, shortcut="B"):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(in_planes, planes, stride if b == 0 else 1, shortcut))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def make_model(name, args):
    if name == "lenet5":
        return LeNet5()
    if name == "mnist-cnn":
        return MnistCnn(dropout2d=not args.element_dropout)
    if name == "resnet20":
        return ResNet20(shortcut=args.shortcut)
    raise SystemExit(f"pytorch_reference.py: unknown model '{name}' "
                     "(known: lenet5, mnist-cnn, resnet20)")


# --------------------------------------------------------------------------------------------
# Environment report: which BLAS, which core type, whether conv went through mkldnn.


def loaded_libraries():
    """Shared objects mapped into this process (Linux), by file name."""
    libs = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and ".so" in parts[-1]:
                    libs.add(parts[-1])
    except OSError:
        pass
    return sorted(libs)


def blas_report():
    report = {"libblas.so.3": None, "openblas_corename": None, "openblas_config": None}
    try:
        report["libblas.so.3"] = os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    except OSError:
        pass
    blas_libs = [lib for lib in loaded_libraries() if "blas" in os.path.basename(lib)]
    report["loaded"] = blas_libs
    # Ask OpenBLAS itself which kernel set it picked (corename) -- the misdetection shows here.
    import ctypes
    for lib in blas_libs:
        try:
            handle = ctypes.CDLL(lib)
            handle.openblas_get_corename.restype = ctypes.c_char_p
            handle.openblas_get_config.restype = ctypes.c_char_p
            report["openblas_corename"] = handle.openblas_get_corename().decode()
            report["openblas_config"] = handle.openblas_get_config().decode()
            handle.openblas_get_num_threads.restype = ctypes.c_int
            report["openblas_num_threads"] = handle.openblas_get_num_threads()
            break
        except (OSError, AttributeError):
            continue
    return report


def conv_backend(model, x):
    """Name of the aten kernel that ran the first convolution (mkldnn or native/slow path)."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(x)
    names = {evt.name for evt in prof.events()}
    found = sorted(n for n in names if "conv" in n and n not in (
        "aten::conv2d", "aten::convolution", "aten::_convolution"))
    return found


# --------------------------------------------------------------------------------------------
# Timing


def time_loop(fn, iters):
    """(CPU seconds of this process, wall seconds) for `iters` calls of fn."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(iters):
        fn()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def median(values):
    return statistics.median(values) if values else float("nan")


def bench_model(name, args):
    torch.manual_seed(args.seed)
    model = make_model(name, args)
    params = sum(p.numel() for p in model.parameters())
    c, h, w = model.input_shape
    x = torch.randn(args.batch, c, h, w)
    y = torch.randint(0, 10, (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        model(x)

    def steps_for(fn):
        """--iters, or (when 0) as many steps as fill --min-time CPU seconds, from the warm-up."""
        cpu, _ = time_loop(fn, args.warmup)
        if args.iters > 0:
            return args.iters
        return max(1, math.ceil(args.min_time / max(cpu / max(args.warmup, 1), 1e-6)))

    model.train()
    train_iters = steps_for(train_step)
    train_times = [time_loop(train_step, train_iters) for _ in range(args.repeats)]

    model.eval()
    with torch.inference_mode():
        conv_kernels = conv_backend(model, x)
        infer_times = []
        infer_iters = 0
        if not args.train_only:
            infer_iters = steps_for(infer_step)
            infer_times = [time_loop(infer_step, infer_iters) for _ in range(args.repeats)]

    # Rates per CPU second (stable when other jobs share the cores; with one thread it equals
    # the wall-clock rate of an idle machine) and per wall second.
    imgs, infer_imgs = args.batch * train_iters, args.batch * infer_iters
    train_rates = [imgs / cpu for cpu, _ in train_times]
    infer_rates = [infer_imgs / cpu for cpu, _ in infer_times]
    train_wall_rates = [imgs / wall for _, wall in train_times]
    infer_wall_rates = [infer_imgs / wall for _, wall in infer_times]
    return {
        "model": name,
        "params": params,
        "batch": args.batch,
        "train_img_per_s": statistics.median(train_rates),
        "train_img_per_s_min": min(train_rates),
        "train_img_per_s_max": max(train_rates),
        "train_ms_per_step": 1e3 * statistics.median(t for t, _ in train_times) / train_iters,
        "infer_img_per_s": median(infer_rates),
        "infer_img_per_s_min": min(infer_rates, default=float("nan")),
        "infer_img_per_s_max": max(infer_rates, default=float("nan")),
        "train_rates": train_rates,
        "infer_rates": infer_rates,
        "train_wall_rates": train_wall_rates,
        "infer_wall_rates": infer_wall_rates,
        "conv_kernels": conv_kernels,
        "repeats": args.repeats,
        "train_iters": train_iters,
        "infer_iters": infer_iters,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet5,mnist-cnn,resnet20")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--iters", type=int, default=0,
                        help="steps per timed repeat (0: enough for --min-time)")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="CPU seconds per timed repeat when --iters is 0")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats; median reported")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mkldnn", action="store_true",
                        help="disable oneDNN (mkldnn) so conv runs im2col + BLAS")
    parser.add_argument("--element-dropout", action="store_true",
                        help="mnist-cnn: element dropout after conv2 instead of Dropout2d")
    parser.add_argument("--shortcut", choices=("A", "B"), default="B",
                        help="resnet20 down-sampling shortcut: A zero-pad, B 1x1 conv+BN")
    parser.add_argument("--train-only", action="store_true",
                        help="skip the inference timing (profiling the training step alone)")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.backends.mkldnn.enabled = not args.no_mkldnn

    setup = {
        "setup": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "env": {k: os.environ.get(k) for k in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_VERBOSE",
            "ONEDNN_VERBOSE", "DNNL_VERBOSE")},
    }
    # Torch loads libblas lazily on some builds: one tiny matmul makes sure it is mapped.
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    setup["blas"] = blas_report()

    results = []
    for name in args.models.split(","):
        results.append(bench_model(name.strip(), args))

    if args.json:
        print(json.dumps(setup))
        for r in results:
            print(json.dumps(r))
        return
    blas = setup["blas"]
    print(f"# torch {setup['torch']}, threads {setup['threads']}/{setup['interop_threads']}, "
          f"mkldnn available {setup['mkldnn_available']} enabled {setup['mkldnn_enabled']}")
    print(f"# BLAS {blas.get('loaded')} core {blas.get('openblas_corename')} "
          f"threads {blas.get('openblas_num_threads')} env {setup['env']}")
    print("# images per CPU second (medians); ms/step is CPU time")
    print(f"{'model':<10} {'params':>8} {'train img/s':>12} {'ms/step':>8} {'infer img/s':>12}"
          "  conv kernels")
    for r in results:
        print(f"{r['model']:<10} {r['params']:>8} {r['train_img_per_s']:>12.0f} "
              f"{r['train_ms_per_step']:>8.2f} {r['infer_img_per_s']:>12.0f}  "
              f"{','.join(r['conv_kernels'])}")


if __name__ == "__main__":
    sys.exit(main())
