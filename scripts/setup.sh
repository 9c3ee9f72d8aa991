#!/usr/bin/env bash
# Installs everything murmur needs from Debian bookworm's packages. Idempotent: apt-get skips
# what is already there. Run as root (or with sudo available).
#   scripts/setup.sh           build, test and run dependencies + Fashion-MNIST
#   scripts/setup.sh --bench   also the PyTorch reference (python3-torch, OpenBLAS)
set -euo pipefail

want_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to run apt-get" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

packages=(
  build-essential cmake ninja-build pkg-config git
  libasio-dev capnproto libcapnp-dev libdnnl-dev libeigen3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev libssl-dev
  clang libclang-rt-14-dev
  python3 python3-matplotlib python3-pil python3-numpy
  dataset-fashion-mnist
  debootstrap   # builds the local docker base image (scripts/docker_build.sh)
)
if [ "$want_bench" -eq 1 ]; then
  packages+=(python3-torch libopenblas0-pthread hyperfine)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "setup.sh: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: done"
