# Sourced by the session*_goals / session5_lockstep scripts: one seed of the goal grid, 8 nodes,
# 5 epochs, cosine schedule, one run_grid.py call per dataset / topology cell, each cell 1000
# ports above the last.
#   goal_grid SEED BASE_PORT MURMUR_BINARY GRID_PREFIX METHODS "DATASETS" "TOPOLOGIES"
goal_grid() {
  local seed=$1 port=$2 bin=$3 prefix=$4 methods=$5 datasets=$6 topologies=$7 ds topo
  for ds in $datasets; do
    for topo in $topologies; do
      nice -n 19 /usr/bin/python3 scripts/experiments/run_grid.py --grid "$prefix-seed$seed" \
        --seed "$seed" --epochs 5 --eval-every 117 --murmur "$bin" --deadline 900 \
        --extra=--schedule=cosine --datasets "$ds" --topologies "$topo" --base-port "$port" \
        --methods "$methods"
      port=$((port + 1000))
    done
  done
}
