# Sourced by the make_results*.sh scripts (set OUT first): turns run directories under runs/
# into the generated tables, CSVs and plots under docs/results/. A table whose run
# directories are all missing is skipped, so each script rebuilds what this machine has.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=/usr/bin/python3
E=scripts/experiments
mkdir -p "${OUT:?set OUT before sourcing results_lib.sh}"

_existing() {
  local d
  for d in "$@"; do [ -d "$d" ] && printf '%s\n' "$d"; done
  return 0
}

# summary NAME "SUMMARIZE_FLAGS" DIR...: summarize.py over the DIRs that exist, to
# $OUT/NAME.md and .csv (flags such as "--target 0.8 --plots $OUT --prefix NAME").
summary() {
  local name=$1 flags=$2; shift 2
  local dirs
  mapfile -t dirs < <(_existing "$@")
  [ ${#dirs[@]} -gt 0 ] || return 0
  # shellcheck disable=SC2086  # flags is a word list on purpose
  $PY $E/summarize.py "${dirs[@]}" $flags --md "$OUT/$name.md" --csv "$OUT/$name.csv" > /dev/null
}

# seedtable NAME [--csv] [--dataset D] DIR...: seeds.py (one row per method, the seeds side by
# side, means, goals) over the DIRs that exist, to $OUT/NAME.md (and .csv with --csv); with
# --dataset, only that dataset's cells.
seedtable() {
  local name=$1; shift
  local csv=0 only=()
  if [ "${1:-}" = --csv ]; then csv=1; shift; fi
  if [ "${1:-}" = --dataset ]; then only=(--dataset "$2"); shift 2; fi
  local dirs
  mapfile -t dirs < <(_existing "$@")
  [ ${#dirs[@]} -gt 0 ] || return 0
  local table tmp="$OUT/.$name.csv.tmp"
  table=$($PY $E/seeds.py "${dirs[@]}" --csv "$tmp" "${only[@]}")
  # No cell (of that dataset) here: keep the tables this machine cannot rebuild.
  if [ "$(printf '%s\n' "$table" | wc -l)" -le 2 ]; then
    rm -f "$tmp"
    return 0
  fi
  printf '%s\n' "$table" > "$OUT/$name.md"
  if [ "$csv" = 1 ]; then mv "$tmp" "$OUT/$name.csv"; else rm -f "$tmp"; fi
}
