# ssi-nodes: 3
# ssi-cluster: procs
# ssi-timeout: 600
# Control from anywhere (issue 20): `ssi-ctl where PID` on any node says
# which node runs a process of the cluster; `ssi-ctl migrate PID NODE` works
# on any node: the node that runs the process migrates it (MigrateAsk),
# checking the asker's uid. A counter started on node 1 is migrated from
# node 3 to node 2, then from node 1 (its home, by the pid `where` reports)
# on to node 3; a migrate to where it runs is refused from there; nobody
# on node 2 may not migrate root's process (EPERM, with the reason); the
# counter keeps every number once and its home shell's wait gets 0.
wait_view 90 "1 2 3" 1 2 3

# where_json N PID: `ssi-ctl where --json PID` on node N.
where_json() { on "$1" "ssi-ctl where --json $2"; }
# as_pid OUT: the pid in a migrate's "... as pid P ..." line.
as_pid() { echo "$1" | sed -n 's/.* as pid \([0-9]*\).*/\1/p'; }

on 1 "(ssi-wl-counter /cluster/anywhere.txt 250 100 < /dev/null > /dev/null 2>&1; echo status=\$? > /tmp/anywhere.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
sleep 1
pid=$(on 1 pgrep-here -x ssi-wl-counter)

# --- where, from another node.
expect_eq "node 3: where says node 1" "$(on 3 "ssi-ctl where $pid")" "pid $pid runs on node 1 (home node 1)"
json=$(where_json 3 "$pid")
expect_eq "node 3: where --json" "$(jq -c '[.pid, .node, .node_pid, .home_node, .migrated, .comm]' <<<"$json")" \
  "[$pid,1,$pid,1,false,\"ssi-wl-counter\"]"
out=$(on 3 "ssi-ctl where 4000000 2>&1; echo rc=\$?")
expect_match "where: no such process" "$out" "no process 4000000 in the cluster"
expect_match "where: no such process is exit 1" "$out" "rc=1"

# --- Migrate from node 3 (the process runs on node 1) to node 2.
out=$(on_timeout 300 3 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")
log "$out"
expect_match "node 3 migrates it 1 -> 2" "$out" "rc=0"
expect_match "node 3 says where it went" "$out" "migrated $pid to node 2 as pid [0-9]+ \\(eager, from node 1\\)"
p2=$(as_pid "$out")
expect_eq "it runs on node 2" "$(on 2 "cat /proc/$p2/comm")" ssi-wl-counter
expect_match "node 1 migrated it as node 3 asked" "$(on 1 "dmesg | grep 'as node 3 asked'")" \
  "pid $pid: migrated to node 2 as pid $p2, as node 3 asked"
for n in 1 2 3; do
  expect_match "node $n: where says node 2" "$(on $n "ssi-ctl where $pid")" \
    "^pid $pid runs on node 2( as pid $p2)? \\(home node 1\\)$"
done
expect_eq "where by its pid on node 2" "$(jq -c '[.node, .node_pid, .home_node, .home_pid, .migrated]' <<<"$(where_json 3 "$p2")")" \
  "[2,$p2,1,$pid,true]"

# --- From node 1, its home (the deputy holds the pid), on to node 3, by
# the pid where reports.
hp=$(jq .home_pid <<<"$(where_json 1 "$pid")")
out=$(on_timeout 300 1 "ssi-ctl migrate $hp 3 2>&1; echo rc=\$?")
log "$out"
expect_match "node 1 migrates it 2 -> 3" "$out" "rc=0"
expect_match "node 1 says where it went" "$out" "migrated $hp to node 3 as pid [0-9]+ \\(eager, from node 2\\)"
p3=$(as_pid "$out")
expect_eq "it runs on node 3" "$(on 3 "cat /proc/$p3/comm")" ssi-wl-counter
wait_on 60 2 '! pgrep-here -x ssi-wl-counter > /dev/null'
expect_match "node 2: where says node 3" "$(on 2 "ssi-ctl where $pid")" "^pid $pid runs on node 3( as pid $p3)? \\(home node 1\\)$"

# --- To the node where it runs: refused there, with the reason.
out=$(on 2 "ssi-ctl migrate $pid 3 2>&1; echo rc=\$?")
expect_match "to where it runs: refused" "$out" "node 3: process $p3 is already on node 3"
expect_match "to where it runs: exit 1" "$out" "rc=1"

# --- nobody on node 2 may not migrate root's process on node 3.
out=$(on 2 "setpriv --reuid=65534 --regid=65534 --clear-groups ssi-ctl migrate $pid 1 2>&1; echo rc=\$?")
log "$out"
expect_match "nobody is refused, with the reason" "$out" \
  "only root or the owner \\(uid 0\\) of process $p3 may migrate it, not uid 65534 \\(Operation not permitted"
expect_match "nobody: exit 4 (EPERM)" "$out" "rc=4"
expect_match "node 3 logs the refusal" "$(on 3 "dmesg | grep 'asked by node 2'")" \
  "migration of pid $p3 to node 1 asked by node 2 \\(uid 65534, euid 65534\\) refused"
expect_match "still on node 3" "$(on 1 "ssi-ctl where $pid")" "^pid $pid runs on node 3"

# --- The counter ends on node 3; its home shell's wait gets 0.
wait_on 240 1 'test -s /tmp/anywhere.status'
expect_eq "the home shell's wait sees exit status 0" "$(on 1 cat /tmp/anywhere.status)" "status=0"
expect_eq "counter lines" "$(on 1 "wc -l < /cluster/anywhere.txt")" 250
expect_eq "every number once, in order" "$(on 1 "awk '\$1 != NR {print NR; exit}' /cluster/anywhere.txt")" ""
out=$(on 3 "ssi-ctl where $pid 2>&1; echo rc=\$?")
expect_match "gone from the cluster" "$out" "no process $pid in the cluster"
