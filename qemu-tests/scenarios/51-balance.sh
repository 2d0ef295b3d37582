# ssi-nodes: 3
# ssi-cluster: sched
# ssi-timeout: 900
# The cluster balances itself (issue 21). With balancing off, CPU-bound
# jobs started on node 1 stay there. `ssi-ctl balance on` (dynamic
# balancing and exec-time placement on every node): six jobs started on
# node 1 by one shell spread to nodes 2 and 3, read from what the
# schedulers did (their logs and /proc/ssi/scheduler); every job prints
# what it prints alone, the shell's wait gets every status, no job moves
# more than twice; every move was offered to and taken by its
# destination (its own counters). Pinned jobs and one whose output file exists only on
# node 1 stay, the latter with the reason. The harness's agents are
# pinned, so its own commands run where they are typed.
wait_view 90 "1 2 3" 1 2 3
for n in 1 2 3; do on $n "ssi-ctl pin \$(pgrep -x ssi-agent | head -1)" > /dev/null; done

# Work of about 6 s alone on node 1 (qemu TCG speeds differ).
t0=$(on 1 "s=\$(date +%s%N); ssi-wl-spin 1000 > /dev/null; e=\$(date +%s%N); echo \$(( (e - s) / 1000000 ))")
units=$(( 6000 * 1000 / (t0 > 0 ? t0 : 1) ))
host_reference spin.ref ssi-wl-spin "$units"
log "ssi-wl-spin 1000 took $t0 ms: jobs of $units units"
# where_jobs: the nodes the running ssi-wl-spin jobs are on, sorted.
where_jobs() { on 1 "ssi-ctl ps --json" | jq -r '[.[] | select(.cmd | startswith("ssi-wl-spin")) | .node] | sort | join(" ")'; }

# --- Balancing off: four jobs stay on node 1.
on 1 "ssi-ctl balance off > /dev/null 2>&1; true"
moved_before=$(on 1 "sed -n 's/^migrations: //p' /proc/ssi/scheduler")
on 1 "rm -f /cluster/off-*; (sh -c 'for i in 1 2 3 4; do ssi-wl-spin $units > /cluster/off-\$i.out & done; wait; echo done > /cluster/off-done' < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 "[ \$(pgrep -cx ssi-wl-spin) -ge 4 ]"
sleep 6
expect_eq "balancing off: the jobs stay on node 1" "$(where_jobs)" "1 1 1 1"
wait_on 300 1 "test -s /cluster/off-done"
expect_eq "balancing off: node 1 moved nothing" "$(on 1 "sed -n 's/^migrations: //p' /proc/ssi/scheduler")" "$moved_before"

# --- Balancing on, everywhere.
out=$(on 2 "ssi-ctl balance on 2>&1; echo rc=\$?")
expect_match "balance on from node 2" "$out" "rc=0"
for n in 1 2 3; do
  wait_on 10 $n "grep -q '^balancing: on' /proc/ssi/scheduler"
done
# Two pinned jobs and one whose output exists on node 1 only: node 1 is
# busy and the third is the only one that may go; it is tried, refused,
# and stays, with the reason. The pinned jobs are children of a pinned
# launcher (a pin holds a process's descendants on its node too),
# started while node 1 is idle and pinned before it starts them.
on 1 "rm -f /cluster/launch; (sh -c 'while [ ! -e /cluster/launch ]; do sleep 0.2; done; ssi-wl-spin $units > /cluster/pinned-1.out & ssi-wl-spin $units > /cluster/pinned-2.out & wait' < /dev/null > /dev/null 2>&1 &)"
launcher=$(on 1 "pgrep -f 'while \\[ ! -e /cluster/launc[h]' | head -1")
expect_match "the launcher runs" "$launcher" '^[0-9]+$'
on 1 "ssi-ctl pin $launcher" > /dev/null
on 1 "touch /cluster/launch"
wait_on 20 1 "[ \$(pgrep -c -P $launcher -x ssi-wl-spin) -ge 2 ]"
pinned=($(on 1 "pgrep -P $launcher -x ssi-wl-spin"))
on 1 "(ssi-wl-spin $units > /tmp/local.out 2>&1 < /dev/null &)"
local_job=$(on 1 "pgrep -nx ssi-wl-spin")
wait_on 60 1 "grep -q 'pid $local_job: .*cannot open file /tmp/local.out' /proc/ssi/scheduler"
# Six jobs from one shell, which waits for each and writes its status.
on 1 "rm -f /cluster/on-*; (sh -c 'for i in 1 2 3 4 5 6; do ssi-wl-spin $units > /cluster/on-\$i.out & eval p\$i=\$!; done; for i in 1 2 3 4 5 6; do eval wait \\\$p\$i; echo \$? >> /cluster/on-status; done; echo done > /cluster/on-done' < /dev/null > /dev/null 2>&1 &)"
spread() { w=$(where_jobs); [[ " $w " == *" 2 "* && " $w " == *" 3 "* ]]; }
wait_for 120 "the jobs to spread to nodes 2 and 3 (now on: $(where_jobs))" spread
log "jobs on: $(where_jobs)"
for p in "${pinned[@]}"; do
  expect_eq "pinned job $p stays on node 1" "$(on 1 "ssi-ctl where $p" | sed -n 's/.* runs on node \([0-9]*\).*/\1/p')" 1
done
expect_eq "the job with a node-local file stays on node 1" "$(on 1 "ssi-ctl where $local_job" | sed -n 's/.* runs on node \([0-9]*\).*/\1/p')" 1
wait_on 600 1 "test -s /cluster/on-done"
expect_eq "the shell's wait got six statuses 0" "$(on 1 "sort /cluster/on-status | uniq -c | xargs")" "6 0"
for i in 1 2 3 4 5 6; do
  expect_eq "job $i's output" "$(on 1 "cat /cluster/on-$i.out")" "$(cat "$SSI_RUN/cluster/spin.ref")"
done
wait_on 300 1 "! kill -0 ${pinned[0]} 2>/dev/null && ! kill -0 ${pinned[1]} 2>/dev/null && ! kill -0 $local_job 2>/dev/null"
for k in 1 2; do
  expect_eq "pinned job $k's output" "$(on 1 "cat /cluster/pinned-$k.out")" "$(cat "$SSI_RUN/cluster/spin.ref")"
done

# What the schedulers did, from their own records.
status=$(on 1 "cat /proc/ssi/scheduler")
log "$status"
moved=$(( $(sed -n 's/^migrations: //p' <<<"$status") - moved_before ))
[ "$moved" -ge 2 ] || fail "node 1 moved $moved processes, expected at least 2"
# Every balancing move was offered to its destination first, which
# judged it on its own load and took it.
taken=$(sed -n 's/^offers_sent_taken: //p' <<<"$status")
[ "${taken:-0}" -ge "$moved" ] || fail "node 1 moved $moved processes but only $taken offers were taken"
judged=$(for n in 2 3; do on $n "sed -n 's/^offers_received_taken: //p' /proc/ssi/scheduler"; done | awk '{ s += $1 } END { print s + 0 }')
[ "$judged" -ge 2 ] || fail "nodes 2 and 3 took $judged offers, expected at least 2"
logs=$(for n in 1 2 3; do on $n "dmesg | grep -E 'scheduler: (moving|placing) pid'; true"; done)
log "$logs"
most=$(grep -o 'pid [0-9]*' <<<"$logs" | sort | uniq -c | sort -rn | head -1 | awk '{print $1}')
[ "${most:-0}" -le 2 ] || fail "a job moved $most times"
for p in "${pinned[@]}"; do
  if grep -q "pid $p " <<<"$logs"; then fail "the pinned job $p was moved"; fi
done

# --- Off again, everywhere.
out=$(on 3 "ssi-ctl balance off 2>&1; echo rc=\$?")
expect_match "balance off from node 3" "$out" "rc=0"
for n in 1 2 3; do
  wait_on 10 $n "grep -q '^balancing: off' /proc/ssi/scheduler"
done
for n in 1 2 3; do on $n "ssi-ctl unpin \$(pgrep -x ssi-agent | head -1) > /dev/null 2>&1; true"; done
on 1 "ssi-ctl unpin $launcher > /dev/null 2>&1; true"
