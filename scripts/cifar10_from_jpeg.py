#!/usr/bin/python3
"""Convert the JPEG copy of CIFAR-10 into the CIFAR-10 binary format murmur's loader reads.

Input: a tarball (or an unpacked directory) laid out as train/<class>/NNNN.jpg and
test/<class>/NNNN.jpg, classes airplane .. truck (labels 0-9 in CIFAR-10's order).
Output: data_batch_1.bin .. data_batch_5.bin (10,000 records each), test_batch.bin and
batches.meta.txt; a record is 1 label byte + 1024 R + 1024 G + 1024 B bytes (row-major 32x32).

The order is deterministic: images are sorted by (class, file name) and then permuted with a
fixed seed, so every batch mixes the classes as the original release does. Files are written to
a temporary name and renamed, so a rerun (or an interrupted run) never leaves a half-written
batch; rerunning gives byte-identical output.

Usage: scripts/cifar10_from_jpeg.py INPUT(.tar.gz or directory) OUTPUT_DIR [--jobs N]
(the shebang is Debian's /usr/bin/python3, which sees python3-pil; a pyenv python3 may not)
"""

import argparse
import io
import multiprocessing
import os
import random
import sys
import tarfile

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]
SPLITS = {"train": 50000, "test": 10000}
BATCH = 10000
ORDER_SEED = 20260101
SIDE = 32


class ConversionError(Exception):
    pass


def parse_member(name):
    """'train/cat/0012.jpg' (optionally under one top folder) -> ('train', 3, '0012.jpg')."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) < 3 or not parts[-1].lower().endswith((".jpg", ".jpeg")):
        return None
    split, cls, fname = parts[-3], parts[-2], parts[-1]
    if split not in SPLITS:
        return None
    if cls not in CLASSES:
        raise ConversionError(f"{name}: unknown class folder '{cls}' (expected one of "
                              f"{', '.join(CLASSES)})")
    return split, CLASSES.index(cls), fname


def collect_from_tar(path):
    items = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key = parse_member(member.name)
                if key is None:
                    continue
                f = tar.extractfile(member)
                items.append((key, member.name, f.read()))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ConversionError(f"{path}: cannot read tarball: {e}") from e
    return items


def collect_from_dir(path):
    items = []
    for root, _dirs, files in os.walk(path):
        for fname in files:
            full = os.path.join(root, fname)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            key = parse_member(rel)
            if key is None:
                continue
            with open(full, "rb") as f:
                items.append((key, rel, f.read()))
    return items


def decode(args):
    name, data = args
    from PIL import Image  # imported in the worker: keeps the parent light
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            if img.size != (SIDE, SIDE):
                return name, None, f"is {img.size[0]}x{img.size[1]}, expected {SIDE}x{SIDE}"
            r, g, b = img.split()
            return name, r.tobytes() + g.tobytes() + b.tobytes(), None
    except Exception as e:  # PIL raises many types for corrupt files
        return name, None, f"cannot decode: {e}"


def write_atomic(path, data):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def convert(src, out_dir, jobs):
    if not os.path.exists(src):
        raise ConversionError(f"{src}: not found")
    items = collect_from_dir(src) if os.path.isdir(src) else collect_from_tar(src)
    by_split = {s: [] for s in SPLITS}
    for (split, label, fname), name, data in items:
        by_split[split].append((label, fname, name, data))
    for split, expected in SPLITS.items():
        got = len(by_split[split])
        if got != expected:
            raise ConversionError(f"{src}: found {got} {split} images, expected {expected}")
        per_class = [0] * len(CLASSES)
        for label, *_ in by_split[split]:
            per_class[label] += 1
        if len(set(per_class)) != 1:
            raise ConversionError(f"{src}: {split} images per class are uneven: {per_class}")

    os.makedirs(out_dir, exist_ok=True)
    with multiprocessing.Pool(jobs) as pool:
        for split in SPLITS:
            records = sorted(by_split[split], key=lambda r: (r[0], r[1]))
            random.Random(f"{ORDER_SEED}-{split}").shuffle(records)
            decoded = pool.map(decode, [(r[2], r[3]) for r in records], chunksize=500)
            blobs = []
            for (label, _fname, name, _data), (_n, pixels, err) in zip(records, decoded):
                if err is not None:
                    raise ConversionError(f"{src}: {name} {err}")
                blobs.append(bytes([label]) + pixels)
            if split == "train":
                for b in range(len(blobs) // BATCH):
                    write_atomic(os.path.join(out_dir, f"data_batch_{b + 1}.bin"),
                                 b"".join(blobs[b * BATCH:(b + 1) * BATCH]))
            else:
                write_atomic(os.path.join(out_dir, "test_batch.bin"), b"".join(blobs))
    write_atomic(os.path.join(out_dir, "batches.meta.txt"),
                 ("\n".join(CLASSES) + "\n").encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="cifar10-jpeg.tar.gz or its unpacked directory")
    parser.add_argument("output", help="directory for data_batch_*.bin and test_batch.bin")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="decoding processes (default: all cores)")
    args = parser.parse_args()
    try:
        import PIL  # noqa: F401
    except ImportError:
        print(f"cifar10_from_jpeg: PIL is not importable by {sys.executable}; install "
              "python3-pil and run the script with Debian's /usr/bin/python3", file=sys.stderr)
        return 1
    try:
        convert(args.input, args.output, max(1, args.jobs))
    except ConversionError as e:
        print(f"cifar10_from_jpeg: {e}", file=sys.stderr)
        return 1
    print(f"cifar10_from_jpeg: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
