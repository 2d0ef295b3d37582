# A node that dies is declared dead by every survivor within dead_after +
# 2 heartbeat intervals, and the totals drop; rebooted, it rejoins with a
# new incarnation.
# ssi-timeout: 300
# ssi-cluster: net3
wait_view 60 "1 2 3" 1 2 3
hb=$(on 1 cat /sys/kernel/config/ssi/heartbeat_ms)
dead=$(on 1 cat /sys/kernel/config/ssi/dead_after_ms)
bound=$(( (dead + 2 * hb + 999) / 1000 ))
cpus3=$(on 3 nproc)
total=$(on 1 "sed -n 's/^cpus: //p' /proc/ssi/resources")
inc3=$(node_field 1 3 5)
node_kill 3
t0=$SECONDS
# Each wait polls through the agent (a second or two under TCG): allow that on top.
wait_view $((bound + 5)) "1 2" 1 2
log "survivors saw node 3 dead after $((SECONDS - t0))s (bound ${bound}s + polling)"
for n in 1 2; do
  expect_eq "state of node 3 on node $n" "$(node_field $n 3 4)" dead
  expect_eq "cpus on node $n after the death" "$(on $n "sed -n 's/^cpus: //p' /proc/ssi/resources")" "$((total - cpus3))"
  on $n dmesg | grep -q 'ssi: node 3 declared dead' || fail "node $n did not log the death"
done
node_start 3
wait_view 60 "1 2 3" 1 2 3
[ "$(node_field 1 3 5)" != "$inc3" ] || fail "node 3 rejoined with its old incarnation"
expect_eq "node 3 entries on node 1" "$(on 1 "awk 'NR>1 && \$1==3' /proc/ssi/nodes | wc -l")" 1
on 1 dmesg | grep -q 'ssi: node 3 rejoined' || fail "rejoin not logged"
