#!/usr/bin/env bash
# A murmur cluster in docker-compose on one machine: one container per topology node, reaching
# each other by compose service name (node-0, node-1, ...) on a private compose network, all
# writing into one shared run directory (bind-mounted from the host at /run/murmur).
# Images come from scripts/docker_build.sh (murmur:latest); nothing is pulled.
#
# Usage: scripts/docker_cluster.sh [--run-dir DIR] COMMAND [ARGS]
#   gen  [--nodes N] [--graph KIND] [--topology FILE] [--image IMG] [--cpus C] [-- NODE_FLAGS...]
#        write DIR/topology (generated with host pattern node-{i}:7000 unless --topology is given;
#        its hosts must then be service names) and DIR/compose.yml; NODE_FLAGS are appended to
#        every `murmur node` command (e.g. -- --epochs 1 --method eventgrad --train-limit 4000)
#   up   [gen options]   gen, then start every node detached
#   down                 stop and remove the containers and the network (the run dir stays)
#   ps                   the containers and their state
#   logs [I] [-f]        logs of every node, or of node I
#   wait [SECONDS]       wait until every node container has exited (default 600 s); print exit
#                        codes; exit non-zero if one failed (137 = killed) or the time ran out
#   kill I               SIGKILL node I's container (crash fault)
#   stop I               SIGTERM node I (the node says goodbye and saves)
#   pause I | unpause I  freeze / thaw node I's processes (straggler / hung peer)
#   partition I | heal I disconnect node I from / reconnect it to the cluster network
#   exec I CMD...        run CMD inside node I's container
#   id I                 print node I's container id (for docker commands of your own)
# Defaults: DIR = $MURMUR_DOCKER_RUN or <repo>/runs/docker; compose project = murmur-<basename DIR>.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run_dir="${MURMUR_DOCKER_RUN:-$repo_root/runs/docker}"
port=7000

die() { echo "docker_cluster: error: $*" >&2; exit 1; }
log() { echo "docker_cluster: $*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

if [[ "${1:-}" == "--run-dir" ]]; then
  [[ $# -ge 2 ]] || die "--run-dir needs a directory"
  run_dir="$2"
  shift 2
fi
[[ $# -ge 1 ]] || { usage >&2; exit 2; }
cmd="$1"
shift
case "$cmd" in -h|--help|help) usage; exit 0 ;; esac

mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
project="murmur-$(basename "$run_dir" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-')"
compose_file="$run_dir/compose.yml"
network="${project}_cluster"

command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
docker info >/dev/null 2>&1 || die "cannot reach the Docker engine (is dockerd running?)"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  die "neither 'docker compose' nor 'docker-compose' is installed"
fi
dc() { "${compose[@]}" -p "$project" -f "$compose_file" "$@"; }

need_compose() {
  [[ -f "$compose_file" ]] || die "no $compose_file; run '$0 --run-dir $run_dir up' first"
}

# A YAML double-quoted scalar (JSON string syntax, which YAML accepts).
yq() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# node ids and hosts from a murmur-format topology: "ID HOST PORT" per line.
topology_nodes() {
  awk '{ sub(/#.*/, "") } $1 == "node" {
         addr = $3; n = split(addr, parts, ":"); port = parts[n];
         host = substr(addr, 1, length(addr) - length(port) - 1);
         print $2, host, port }' "$1"
}

gen() {
  local nodes=4 graph=ring topo_in="" image="murmur:latest" cpus=""
  local node_flags=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --nodes|-n) nodes="${2:?--nodes needs a number}"; shift ;;
      --graph) graph="${2:?--graph needs a kind}"; shift ;;
      --topology) topo_in="${2:?--topology needs a file}"; shift ;;
      --image) image="${2:?--image needs an image}"; shift ;;
      --cpus) cpus="${2:?--cpus needs a number}"; shift ;;
      --) shift; node_flags=("$@"); break ;;
      *) die "gen: unknown option '$1' (node flags go after --)" ;;
    esac
    shift
  done
  docker image inspect "$image" >/dev/null 2>&1 \
    || die "image $image is missing; build it with scripts/docker_build.sh"

  local topo="$run_dir/topology"
  if [[ -n "$topo_in" ]]; then
    [[ -r "$topo_in" ]] || die "cannot read topology $topo_in"
    cp "$topo_in" "$topo.tmp"
  else
    # The image's own murmur generates it, so the host needs no build.
    docker run --rm "$image" topo gen "$graph" --nodes "$nodes" --host 'node-{i}' \
      --base-port "$port" --cluster-id "$project" >"$topo.tmp" \
      || { rm -f "$topo.tmp"; die "murmur topo gen $graph --nodes $nodes failed"; }
  fi
  # Validate with murmur itself before anything starts.
  docker run --rm -v "$topo.tmp:/run/topology:ro" "$image" topo info /run/topology >/dev/null \
    || { rm -f "$topo.tmp"; die "the topology does not load (see the message above)"; }
  mv "$topo.tmp" "$topo"

  local rows
  rows="$(topology_nodes "$topo")"
  [[ -n "$rows" ]] || die "$topo has no node lines"
  local id host p
  while read -r id host p; do
    [[ "$host" =~ ^[a-z0-9][a-z0-9_-]*$ ]] \
      || die "node $id's host '$host' is not a compose service name (use names like node-$id, not addresses)"
  done <<<"$rows"

  local tmp="$compose_file.tmp"
  {
    echo "# Generated by scripts/docker_cluster.sh gen; edit the generator, not this file."
    echo "# Project $project, topology $topo."
    echo "version: \"2.4\""
    echo "services:"
    while read -r id host p; do
      echo "  $host:"
      echo "    image: $(yq "$image")"
      echo "    hostname: $host"
      echo "    init: true"
      echo "    stop_grace_period: 30s"
      echo "    restart: \"no\""
      [[ -n "$cpus" ]] && echo "    cpus: $cpus"
      echo "    environment:"
      echo "      MURMUR_THREADS: \"1\""
      [[ -n "${MURMUR_SECRET:-}" ]] && echo "      MURMUR_SECRET: $(yq "$MURMUR_SECRET")"
      echo "    command:"
      for a in node --topology /run/topology --id "$id" --run-dir /run/murmur "${node_flags[@]}"; do
        echo "      - $(yq "$a")"
      done
      echo "    volumes:"
      echo "      - $(yq "$run_dir:/run/murmur")"
      echo "      - $(yq "$topo:/run/topology:ro")"
      echo "    networks:"
      echo "      cluster:"
      echo "        aliases: [$host]"
    done <<<"$rows"
    echo "networks:"
    echo "  cluster:"
    echo "    # Private: the nodes talk only to each other, never to the outside."
    echo "    internal: true"
  } >"$tmp"
  mv "$tmp" "$compose_file"
  log "wrote $topo and $compose_file ($(wc -l <<<"$rows") nodes, project $project)"
}

container_of() {
  local id="$1"
  [[ "$id" =~ ^[0-9]+$ ]] || die "'$id' is not a node id"
  need_compose
  local svc c
  svc="$(service_of "$id")"
  c="$(dc ps -a -q "$svc" 2>/dev/null || true)"
  [[ -n "$c" ]] || die "node $id ($svc) has no container in project $project"
  echo "$c"
}

# The compose service of node ID: its host in DIR/topology (node-ID for generated topologies).
service_of() {
  local svc
  svc="$(topology_nodes "$run_dir/topology" 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }')"
  [[ -n "$svc" ]] || die "node $1 is not in $run_dir/topology"
  echo "$svc"
}

case "$cmd" in
  gen) gen "$@" ;;
  up)
    gen "$@"
    # Leftovers of an earlier run in the same dir would be mixed into the new metrics.
    dc down --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$run_dir"/node-*
    dc up -d --no-build
    log "up; logs: $0 --run-dir $run_dir logs -f; metrics: $run_dir/node-*/metrics.jsonl"
    ;;
  down) need_compose; dc down --remove-orphans ;;
  ps) need_compose; dc ps ;;
  logs)
    need_compose
    args=(--no-color)
    svc=()
    for a in "$@"; do
      if [[ "$a" == "-f" ]]; then args+=(-f); elif [[ "$a" =~ ^[0-9]+$ ]]; then svc+=("$(service_of "$a")");
      else die "logs: unknown argument '$a'"; fi
    done
    dc logs "${args[@]}" "${svc[@]}"
    ;;
  wait)
    need_compose
    limit="${1:-600}"
    deadline=$(( $(date +%s) + limit ))
    ids="$(dc ps -a -q)"
    [[ -n "$ids" ]] || die "no containers in project $project"
    while :; do
      running="$(docker inspect -f '{{.State.Running}}' $ids | grep -c true || true)"
      [[ "$running" -eq 0 ]] && break
      if [[ $(date +%s) -ge $deadline ]]; then
        die "$running container(s) still running after ${limit}s"
      fi
      sleep 2
    done
    failed=0
    for c in $ids; do
      read -r name code < <(docker inspect -f '{{.Name}} {{.State.ExitCode}}' "$c")
      echo "${name#/} exit $code"
      [[ "$code" -eq 0 ]] || failed=1
    done
    exit "$failed"
    ;;
  kill) c="$(container_of "${1:?kill needs a node id}")"; docker kill "$c" >/dev/null; log "killed node $1" ;;
  stop) c="$(container_of "${1:?stop needs a node id}")"; docker stop "$c" >/dev/null; log "stopped node $1" ;;
  pause|unpause)
    c="$(container_of "${1:?$cmd needs a node id}")"
    # docker pause needs the cgroup freezer, which some engines lack or which fails now and then
    # (on the development machines: "OCI runtime pause failed: unable to freeze"); SIGSTOP/SIGCONT
    # of the murmur process inside has the same effect on the peers: its sockets stay open but
    # nothing is read or written.
    if docker "$cmd" "$c" >/dev/null 2>"$run_dir/.pause.err"; then
      log "${cmd}d node $1 (cgroup freezer)"
    else
      sig=STOP; [[ "$cmd" == unpause ]] && sig=CONT
      docker exec "$c" pkill "-$sig" -x murmur \
        || { cat "$run_dir/.pause.err" >&2; die "could not $cmd node $1"; }
      log "${cmd}d node $1 (SIGSTOP/SIGCONT: docker $cmd said: $(tr -d '\n' <"$run_dir/.pause.err"))"
    fi
    rm -f "$run_dir/.pause.err"
    ;;
  partition)
    c="$(container_of "${1:?partition needs a node id}")"
    docker network disconnect "$network" "$c"
    log "node $1 disconnected from $network"
    ;;
  heal)
    c="$(container_of "${1:?heal needs a node id}")"
    docker network connect --alias "$(service_of "$1")" "$network" "$c"
    log "node $1 reconnected to $network"
    ;;
  id) container_of "${1:?id needs a node id}" ;;
  exec)
    c="$(container_of "${1:?exec needs a node id}")"
    shift
    docker exec "$c" "$@"
    ;;
  *) usage >&2; die "unknown command '$cmd'" ;;
esac
