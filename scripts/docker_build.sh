#!/usr/bin/env bash
# Builds the two local images murmur's docker cluster runs on, without pulling from any registry:
#   murmur-base:bookworm  a debootstrap'ed Debian bookworm (minbase) with murmur's runtime
#                         libraries and Fashion-MNIST; built once, reused while it exists.
#   murmur:latest         murmur-base + the host-built `murmur` binary (docker/Dockerfile).
# The host is bookworm too, so the host binary's shared libraries resolve inside the image.
#
# Usage: scripts/docker_build.sh [--base-only] [--rebuild-base] [--build-dir DIR] [--tag TAG]
#   --build-dir DIR   CMake build directory holding the `murmur` binary (default: $MURMUR_BUILD_DIR
#                     or <repo>/build)
#   --rebuild-base    drop and rebuild murmur-base even if it exists
#   --base-only       build only murmur-base
#   --tag TAG         tag of the app image (default: murmur:latest)
# Environment: MURMUR_APT_MIRROR overrides the Debian mirror (default: the one in
# /etc/apt/sources.list*).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base_tag="murmur-base:bookworm"
app_tag="murmur:latest"
build_dir="${MURMUR_BUILD_DIR:-$repo_root/build}"
base_only=0
rebuild_base=0

# Runtime packages behind the -dev packages murmur links against (see the root CMakeLists.txt),
# plus the data set the nodes train on. libdnnl2 pulls libgomp1; libcapnp pulls libssl3 + zlib1g;
# libtomlplusplus3 is there when CMake found toml++ (the TOML config files).
base_packages="libdnnl2,libgomp1,libcapnp-0.9.2,libspdlog1.10,libfmt9,libssl3,zlib1g,\
libstdc++6,libtomlplusplus3,dataset-fashion-mnist,iproute2,procps"

die() { echo "docker_build: error: $*" >&2; exit 1; }
log() { echo "docker_build: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --base-only) base_only=1 ;;
    --rebuild-base) rebuild_base=1 ;;
    --build-dir) [[ $# -ge 2 ]] || die "--build-dir needs a directory"; build_dir="$2"; shift ;;
    --tag) [[ $# -ge 2 ]] || die "--tag needs a value"; app_tag="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
docker info >/dev/null 2>&1 \
  || die "cannot reach the Docker engine (is dockerd running, and may $(id -un) use its socket?)"

# The first Debian (non-security) URI in the host's apt sources, deb822 or one-line format.
host_mirror() {
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  local f uri
  for f in "${files[@]}"; do
    [[ -r "$f" ]] || continue
    uri="$(grep -hE '^\s*URIs:' "$f" 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)"
    [[ -z "$uri" ]] && uri="$(grep -hE '^\s*deb\s' "$f" 2>/dev/null | grep -v security \
        | sed -E 's/^\s*deb\s+(\[[^]]*\]\s+)?//' | awk '{print $1}' | head -n1 || true)"
    if [[ -n "$uri" && "$uri" == *debian* ]]; then echo "$uri"; return 0; fi
  done
  return 1
}

build_base() {
  command -v debootstrap >/dev/null 2>&1 \
    || die "debootstrap is missing (install it on the host: apt-get install debootstrap)"
  [[ "$(id -u)" -eq 0 ]] || die "building $base_tag needs root (debootstrap chroots)"
  local mirror="${MURMUR_APT_MIRROR:-}"
  [[ -n "$mirror" ]] || mirror="$(host_mirror)" \
    || die "no Debian mirror found in /etc/apt/sources.list*; set MURMUR_APT_MIRROR"
  local rootfs
  rootfs="$(mktemp -d /tmp/murmur-base-rootfs.XXXXXX)"
  # The rootfs holds device nodes and root-owned files: always remove it, even on failure.
  trap 'rm -rf --one-file-system "$rootfs"' EXIT
  log "debootstrap bookworm (minbase) from $mirror into $rootfs ..."
  if ! debootstrap --variant=minbase --include="$base_packages" bookworm "$rootfs" "$mirror" \
      >"$rootfs.log" 2>&1; then
    tail -n 20 "$rootfs.log" >&2
    die "debootstrap failed (full log: $rootfs.log)"
  fi
  rm -f "$rootfs.log"
  # Shrink: package caches, lists, docs, man pages and locales are not needed at run time.
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
  log "importing $base_tag ..."
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "murmur runtime base: debootstrap minbase bookworm + $base_packages" \
    - "$base_tag" >/dev/null
  rm -rf --one-file-system "$rootfs"
  trap - EXIT
  log "built $base_tag ($(docker image inspect -f '{{.Size}}' "$base_tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

if [[ $rebuild_base -eq 1 ]] && docker image inspect "$base_tag" >/dev/null 2>&1; then
  docker image rm "$base_tag" >/dev/null || die "could not remove $base_tag (containers still use it?)"
fi
if docker image inspect "$base_tag" >/dev/null 2>&1; then
  log "$base_tag exists; reusing it (--rebuild-base to rebuild)"
else
  build_base
fi
[[ $base_only -eq 1 ]] && exit 0

binary="$build_dir/murmur"
[[ -x "$binary" ]] || die "no murmur binary at $binary; build it first:
  cmake -S $repo_root -B $build_dir -G Ninja && cmake --build $build_dir --target murmur"

# A tiny build context (binary + Dockerfile) so docker does not ship the repository to the engine.
ctx="$(mktemp -d /tmp/murmur-docker-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
cp "$binary" "$ctx/murmur"
cp "$repo_root/docker/Dockerfile" "$ctx/Dockerfile"
binary_sha="$(sha256sum "$binary" | awk '{print $1}')"
log "building $app_tag from $binary (sha256 ${binary_sha:0:12}) ..."
# No buildx on these machines: the classic builder is enough for FROM + COPY.
# Its stderr (a deprecation notice on success) is shown only when the build fails.
if ! DOCKER_BUILDKIT=0 docker build -q --label "murmur.binary.sha256=$binary_sha" -t "$app_tag" \
    "$ctx" >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  die "docker build of $app_tag failed"
fi

# The image is only useful if the host binary's libraries all resolve inside it.
missing="$(docker run --rm --entrypoint /bin/sh "$app_tag" -c 'ldd /usr/local/bin/murmur' \
  | grep 'not found' || true)"
[[ -z "$missing" ]] || die "libraries missing in $app_tag (add their packages to base_packages and
  rerun with --rebuild-base):
$missing"
docker run --rm "$app_tag" --help >/dev/null || die "'murmur --help' fails inside $app_tag"
# Rebuilding leaves the previous app image untagged; drop such leftovers (only dangling images
# carrying our label, never anything else).
docker image prune -f --filter "label=murmur.binary.sha256" >/dev/null || true
log "built $app_tag; 'murmur --help' runs inside it"
