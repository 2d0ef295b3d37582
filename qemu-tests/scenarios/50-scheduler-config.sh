# ssi-nodes: 3
# ssi-cluster: sched
# ssi-timeout: 600
# The scheduler's configuration is the cluster's (issue 21,
# docs/scheduler.md): a parameter and a scheduler set on node 1 with
# ssi-ctl are in force on nodes 2 and 3 (same generation, same
# `ssi-ctl scheduler --json`, same configfs files); a scheduler made with
# mkdir on node 2 is edited through its files and seen everywhere; node 3
# makes a directory for node 1's scheduler, edits it and removes it with
# rmdir. Invalid values (nodes 0, policy nope, a parameter out of range,
# a direct configfs write) are refused with a non-zero exit, a clear
# message and a `scheduler:` line in dmesg, and change nothing anywhere.
# (`/bin/echo`: dash's own echo reports any failed write as "I/O error".)
# Three pins typed at once on the three nodes are all kept: node 1, the
# coordinator, makes every change (nodes 2 and 3 make none themselves).
# A pinned process that ends is unpinned by its home node.
# `ssi-ctl balance on` shows balancing on on every node; `balance off`,
# typed on another node, removes it. Everything is put back at the end.
wait_view 90 "1 2 3" 1 2 3

S=/sys/kernel/config/ssi/scheduler
gen() { on "$1" cat $S/generation; }
# same_everywhere N WHAT: waits until the other nodes have node N's
# generation (N made the last change), then checks that the three show
# the same configuration.
same_everywhere() {
  local g want n show="ssi-ctl scheduler --json; grep '^generation:' /proc/ssi/scheduler"
  g=$(gen "$1")
  want=$(on "$1" "$show")
  expect_match "$2: node $1's /proc/ssi/scheduler" "$want" "^generation: $g \\(changed on node $1\\)$"
  for n in 1 2 3; do
    [ "$n" = "$1" ] && continue
    wait_on 20 $n "test \"\$(cat $S/generation)\" = $g"
    expect_eq "$2: node $n's configuration" "$(on $n "$show")" "$want"
  done
}

g0=$(gen 1)
log "generation before: $g0"
expect_eq "three policies" "$(on 2 cat $S/policies/available)" "balance round_robin least_loaded memory"
expect_match "cpu_load probe" "$(on 3 cat $S/probes/cpu_load)" "^upper [0-9]+\\.[0-9]{2} mean [0-9]+\\.[0-9]{2} cpus 2$"
expect_match "free_memory probe" "$(on 3 cat $S/probes/free_memory)" "^free [0-9]+ KiB of [0-9]+ KiB$"

# --- Node 1: a parameter and a scheduler, through ssi-ctl.
out=$(on 1 "ssi-ctl scheduler set balance.margin 300 2>&1; echo rc=\$?")
expect_match "set balance.margin" "$out" "^balance.margin = 300 on the whole cluster"
expect_match "set: exit 0" "$out" "rc=0"
out=$(on 1 "ssi-ctl scheduler add batch memory --processes 'uid 1000' --nodes 1-2 2>&1; echo rc=\$?")
expect_match "add batch" "$out" "^scheduler batch: memory, enabled, processes uid 1000, nodes 1,2 \\(configuration generation [0-9]+\\)"
expect_match "add: exit 0" "$out" "rc=0"
same_everywhere 1 "after node 1's changes"
expect_eq "node 3 reads the margin" "$(on 3 cat $S/policies/balance/margin)" 300
expect_eq "node 2 lists batch" "$(on 2 cat $S/list)" "batch: memory, enabled, processes uid 1000, nodes 1,2"
expect_match "ssi-ctl scheduler on node 3" "$(on 3 ssi-ctl scheduler)" "batch +memory +enabled +processes uid 1000, nodes 1,2"
expect_match "node 1 logs the change" "$(on 1 "dmesg | grep 'scheduler: '")" "scheduler: command 'add batch memory' \\(configuration generation"

# --- Node 2: a scheduler made with mkdir, edited through its files.
on 2 "mkdir $S/schedulers/viadir"
expect_eq "mkdir: a disabled balance scheduler" "$(on 2 "cat $S/schedulers/viadir/policy $S/schedulers/viadir/enabled")" "balance
0"
on 2 "echo 2-3 > $S/schedulers/viadir/nodes && echo round_robin > $S/schedulers/viadir/policy"
same_everywhere 2 "after node 2's mkdir"
expect_match "node 1 lists viadir" "$(on 1 cat $S/list)" "^viadir: round_robin, disabled, processes all, nodes 2,3$"
out=$(on 1 "ssi-ctl scheduler remove viadir 2>&1; echo rc=\$?")
expect_match "node 1 removes node 2's scheduler" "$out" "scheduler viadir removed from the cluster"
wait_on 20 2 "! grep -q viadir $S/list"
out=$(on 2 "cat $S/schedulers/viadir/nodes 2>&1; echo rc=\$?")
expect_match "node 2's stale directory: no such scheduler" "$out" "No such file or directory"
on 2 "rmdir $S/schedulers/viadir"

# --- Node 3: a directory for node 1's scheduler, disabled, then rmdir.
on 3 "mkdir $S/schedulers/batch"
expect_eq "node 3 reads batch's processes" "$(on 3 cat $S/schedulers/batch/processes)" "uid 1000"
on 3 "echo 0 > $S/schedulers/batch/enabled"
wait_on 20 1 "grep -q '^batch: memory, disabled' $S/list"
on 3 "rmdir $S/schedulers/batch"
same_everywhere 3 "after node 3's rmdir"
expect_eq "batch is gone" "$(on 1 cat $S/list)" ""

# --- Invalid values: refused, explained, logged; nothing changes.
on 1 "ssi-ctl scheduler add keep balance --disabled > /dev/null"
same_everywhere 1 "before the refusals"
g=$(gen 1)
want=$(on 1 ssi-ctl scheduler --json)
out=$(on 1 "ssi-ctl scheduler edit keep nodes 0 2>&1; echo rc=\$?")
expect_match "nodes 0: the reason" "$out" "nodes '0' for scheduler keep refused: value out of range"
expect_match "nodes 0: exit 2" "$out" "rc=2"
expect_match "nodes 0: logged" "$(on 1 "dmesg | grep 'scheduler: '")" "scheduler: command 'set keep nodes 0' refused: value out of range"
out=$(on 2 "ssi-ctl scheduler add bad nope 2>&1; echo rc=\$?")
expect_match "policy nope: the reason" "$out" "adding scheduler 'bad' \\(nope\\) refused: unknown word \\(policies: balance, round_robin, least_loaded, memory\\)"
expect_match "policy nope: exit 2" "$out" "rc=2"
expect_match "policy nope: logged" "$(on 2 "dmesg | grep 'scheduler: '")" "scheduler: command 'add bad nope' refused: unknown word"
out=$(on 3 "ssi-ctl scheduler set balance.margin 99999 2>&1; echo rc=\$?")
expect_match "margin 99999: the reason" "$out" "balance.margin = 99999 refused: out of its range"
expect_match "margin 99999: exit 2" "$out" "rc=2"
expect_match "margin 99999: logged" "$(on 3 "dmesg | grep 'scheduler: '")" "scheduler: policies/balance/margin = 99999 refused: parameter out of range"
out=$(on 3 "ssi-ctl scheduler set balance.min_residency_ms 30000 2>&1; echo rc=\$?")
expect_match "residency above return_after: the reason" "$out" "balance.return_after_ms would then be out of its range"
on 3 "mkdir $S/schedulers/keep"
out=$(on 3 "{ /bin/echo 0 > $S/schedulers/keep/nodes; } 2>&1; echo rc=\$?")
expect_match "configfs write of nodes 0: EINVAL" "$out" "Invalid argument"
expect_match "configfs write: logged" "$(on 3 "dmesg | grep 'scheduler: '")" "scheduler: schedulers/keep/nodes = 0 refused: value out of range"
out=$(on 2 "{ /bin/echo 'add keep balance' > $S/command; } 2>&1; echo rc=\$?")
expect_match "command: a second keep is refused" "$out" "Invalid argument"
expect_match "command: logged" "$(on 2 "dmesg | grep 'scheduler: '")" "scheduler: command 'add keep balance' refused: a scheduler of that name exists"
sleep 1
for n in 1 2 3; do
  expect_eq "node $n: the refusals changed nothing" "$(on $n ssi-ctl scheduler --json)" "$want"
  expect_eq "node $n: same generation" "$(gen $n)" "$g"
done
on 3 "rmdir $S/schedulers/keep"
wait_on 20 1 "! grep -q keep $S/list"
out=$(on 1 "ssi-ctl scheduler add keep balance --nodes 0 2>&1; echo rc=\$?")
expect_match "add with nodes 0: refused" "$out" "nodes '0' for scheduler keep refused: value out of range"
expect_eq "add with nodes 0: nothing left" "$(on 1 cat $S/list)" ""
for n in 1 2 3; do
  expect_eq "node $n: margin unchanged" "$(on $n cat $S/policies/balance/margin)" 300
done

# --- Balancing on and off, from two nodes.
# The harness's agents are pinned first: with placement on, their
# commands would be placed on other nodes of a busy one.
# The three pins are typed at once: the coordinator (node 1) makes them
# one after the other, and none is lost.
g=$(gen 1)
pids=""
for n in 1 2 3; do on $n "ssi-ctl pin \$(pgrep -x ssi-agent | head -1)" > /dev/null & pids="$pids $!"; done
for p in $pids; do wait $p || fail "a pin typed at once with two others failed"; done
for n in 1 2 3; do
  wait_on 20 $n "test \"\$(cat $S/generation)\" = $((g + 3))"
  expect_eq "node $n: the three pins typed at once" "$(on $n ssi-ctl balance status --json | jq '.pins | length')" 3
done
expect_match "node 2's pin: made by the coordinator" "$(on 2 "dmesg | grep 'scheduler: command .pin'")" "made by node 1\\)$"
for n in 2 3; do
  expect_eq "node $n made no change itself" "$(on $n "grep '^changes_made:' /proc/ssi/scheduler")" "changes_made: 0"
done
out=$(on 1 "ssi-ctl balance on 2>&1; echo rc=\$?")
expect_match "balance on" "$out" "^balancing on: schedulers balance \\(balance\\) and place \\(least_loaded\\) on every node"
expect_match "balance on: exit 0" "$out" "rc=0"
g=$(gen 1)
for n in 1 2 3; do
  wait_on 20 $n "test \"\$(cat $S/generation)\" = $g"
  json=$(on $n ssi-ctl balance status --json)
  expect_eq "node $n: balancing on" "$(jq -r .balancing <<<"$json")" on
  expect_eq "node $n: the preset" "$(jq -c '[.schedulers[] | [.name, .policy, .enabled, .processes, .nodes]]' <<<"$json")" \
    '[["balance","balance",true,"all","all"],["place","least_loaded",true,"all","all"]]'
  expect_eq "node $n: its generation" "$(jq .generation <<<"$json")" "$g"
  expect_eq "node $n: counters are numbers" "$(jq -c '[.decisions, .migrations, .migrations_failed] | map(type)' <<<"$json")" \
    '["number","number","number"]'
  expect_eq "node $n: tables" "$(jq -c '[.nodes, .recent, .not_moved] | map(type)' <<<"$json")" '["array","array","array"]'
done
out=$(on 2 "ssi-ctl balance off 2>&1; echo rc=\$?")
expect_match "balance off from node 2" "$out" "^balancing off: removed balance and place"
g=$(gen 2)
for n in 1 2 3; do
  wait_on 20 $n "test \"\$(cat $S/generation)\" = $g"
  json=$(on $n ssi-ctl balance status --json)
  expect_eq "node $n: balancing off" "$(jq -r .balancing <<<"$json")" off
  expect_eq "node $n: no scheduler" "$(jq -c .schedulers <<<"$json")" "[]"
done

# --- A pin names a pid: when the process ends, its home node unpins it.
short=$(on 2 "sleep 4 < /dev/null > /dev/null 2>&1 & echo \$!")
on 2 "ssi-ctl pin $short > /dev/null"
wait_on 20 3 "grep -q '^pin: $short\$' /proc/ssi/scheduler"
wait_on 30 3 "! grep -q '^pin: $short\$' /proc/ssi/scheduler"
expect_match "node 2 unpins the process that ended" "$(on 2 "dmesg | grep 'scheduler: unpin $short'")" "unpin $short \\(the process ended\\)"

# --- Back to the defaults (the last change made on node 1).
for n in 1 2 3; do on $n "ssi-ctl unpin \$(pgrep -x ssi-agent | head -1)" > /dev/null; done
on 1 "ssi-ctl scheduler set balance.margin 256 > /dev/null"
same_everywhere 1 "at the end"
