# ssi-specific helpers for scenarios (sourced after cluster.sh).

# alive_ids N: the ids node N sees alive, space-separated, sorted.
alive_ids() { on "$1" "awk 'NR>1 && \$4==\"alive\" {print \$1}' /proc/ssi/nodes | sort -n | xargs"; }
# node_field N ID COLUMN: a column of node ID's line in node N's /proc/ssi/nodes
# (columns: 1 id, 2 address, 3 port, 4 state, 5 incarnation, 6 cpus, 7 mem, 8 free).
node_field() { on "$1" "awk 'NR>1 && \$1==$2 {print \$$3}' /proc/ssi/nodes"; }
# krpc_stat N KEY: a counter of node N's /proc/ssi/krpc.
krpc_stat() { on "$1" "sed -n 's/^$2: //p' /proc/ssi/krpc"; }
# wait_view SECS "IDS" N...: wait until each node N sees exactly IDS alive.
wait_view() {
  local secs=$1 want=$2 n; shift 2
  for n in "$@"; do
    wait_for "$secs" "node $n to see nodes '$want' alive (sees '$(alive_ids "$n" 2>/dev/null)')" \
      eval '[ "$(alive_ids '"$n"')" = "'"$want"'" ]'
  done
}
