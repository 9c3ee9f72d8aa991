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

# seedtable NAME [--csv] DIR...: seeds.py (one row per method, the seeds side by side, means,
# goals) over the DIRs that exist, to $OUT/NAME.md (and .csv with --csv).
seedtable() {
  local name=$1; shift
  local csv=()
  if [ "${1:-}" = --csv ]; then csv=(--csv "$OUT/$name.csv"); shift; fi
  local dirs
  mapfile -t dirs < <(_existing "$@")
  [ ${#dirs[@]} -gt 0 ] || return 0
  $PY $E/seeds.py "${dirs[@]}" "${csv[@]}" > "$OUT/$name.md"
}
