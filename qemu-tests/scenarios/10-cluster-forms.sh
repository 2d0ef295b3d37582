# Three nodes boot and form one cluster by themselves: every node lists all
# three alive, with each node's real CPU count and memory, and the merged
# totals are the sums (each node's own memory is in /proc/ssi/local_meminfo:
# /proc/meminfo is the cluster's).
# ssi-timeout: 300
# ssi-cluster: net3
wait_view 60 "1 2 3" 1 2 3
for n in 1 2 3; do
  cpus=$(on $n nproc)
  mem=$(on $n "awk '/^MemTotal:/ {print \$2}' /proc/ssi/local_meminfo")
  for viewer in 1 2 3; do
    wait_for 20 "node $viewer to have node $n's resources" \
      eval '[ "$(node_field '$viewer' '$n' 6)" = "'"$cpus"'" ] && [ "$(node_field '$viewer' '$n' 7)" = "'"$mem"'" ]'
  done
done
# Totals equal the sum of the per-node values (as node 2 sees them).
sum=$(on 2 "awk 'NR>1 && \$4==\"alive\" {n++; c+=\$6; m+=\$7} END {print n, c, m}' /proc/ssi/nodes")
tot=$(on 2 "awk -F': ' '/^(nodes|cpus|mem_total_kib):/ {printf \"%s \", \$2}' /proc/ssi/resources" | xargs)
expect_eq "totals vs sum of nodes" "$tot" "$sum"
expect_match "ssi-ctl status" "$(on 3 ssi-ctl status)" 'merged: +3 node\(s\) alive'
json=$(on 1 ssi-ctl nodes --json)
expect_match "ssi-ctl nodes --json" "$json" '^\[\{"id":1,.*"state":"alive".*\{"id":3,'
expect_eq "ssi-ctl nodes rows" "$(on 1 'ssi-ctl nodes | tail -n +2 | wc -l')" 3
# Every connection is authenticated: nothing refused among good nodes.
for n in 1 2 3; do
  expect_eq "auth failures on node $n" "$(krpc_stat $n auth_failures)" 0
  expect_eq "bad MACs on node $n" "$(krpc_stat $n bad_macs)" 0
done
on 1 dmesg | grep -Eq 'ssi: node [23] joined' || fail "no join logged on node 1"
