# ssi-nodes: 3
# ssi-cluster: sched
# ssi-timeout: 600
# A node short of memory sheds it before the OOM killer has to act
# (issue 21). A memory scheduler on nodes 1 and 2, its watermarks raised
# (under 40 % free a node sheds, to a node left with 50 %) so that the
# move comes well before the OOM killer whatever the emulation's speed.
# Node 1 gets two processes of 30 % of its available memory each: once
# the second has filled its memory, node 1 is under its low watermark
# and the memory policy
# moves one of them to node 2 (its log and /proc/ssi/scheduler); node 1
# is above the watermark again, both processes end with "done", and no
# node's log shows the OOM killer.
wait_view 90 "1 2 3" 1 2 3
for n in 1 2 3; do on $n "ssi-ctl pin \$(pgrep -x ssi-agent | head -1)" > /dev/null; done
S=/proc/ssi/scheduler
total=$(on 1 "awk '/^MemTotal/ {print \$2}' /proc/ssi/local_meminfo")
free0=$(on 1 "awk '/^MemAvailable/ {print \$2}' /proc/ssi/local_meminfo")
log "node 1: $free0 KiB available of $total KiB"
[ "$free0" -gt $((total * 80 / 100)) ] || fail "node 1 has only $free0 KiB of $total KiB available: too little for this scenario"
mib=$((free0 * 30 / 100 / 1024))

on 1 "ssi-ctl scheduler set memory.high_per_mille 500 > /dev/null && ssi-ctl scheduler set memory.low_per_mille 400 > /dev/null"
out=$(on 1 "ssi-ctl scheduler add shed memory --nodes 1-2 2>&1; echo rc=\$?")
expect_match "a memory scheduler" "$out" "rc=0"
wait_on 20 2 "grep -q '^scheduler: shed: memory, enabled' $S"
moved0=$(on 1 "sed -n 's/^migrations: //p' $S")

# Two processes of $mib MiB on node 1, one after the other.
on 1 "rm -f /cluster/mem-*; (ssi-wl-dirty $mib 0 1000 45 > /cluster/mem-1.out 2>&1 < /dev/null &)"
wait_on 120 1 "grep -q ready /cluster/mem-1.out"
on 1 "(ssi-wl-dirty $mib 0 1000 45 > /cluster/mem-2.out 2>&1 < /dev/null &)"
wait_on 120 1 "grep -q ready /cluster/mem-2.out"
moved_by_memory() { on 1 "dmesg | grep -E 'scheduler: moving pid [0-9]+ to node 2 \\(memory, '" > /dev/null 2>&1; }
wait_for 120 "node 1 to move a process away for memory" moved_by_memory
log "$(on 1 "dmesg | grep 'scheduler: moving pid'")"
pid=$(on 1 "dmesg | sed -n 's/.*scheduler: moving pid \\([0-9]*\\) to node 2 (memory, .*/\\1/p' | tail -1")
wait_on 120 1 "ssi-ctl where $pid | grep -q 'runs on node 2'"
expect_eq "it runs as ssi-wl-dirty on node 2" "$(on 2 "cat /proc/$pid/comm")" ssi-wl-dirty
wait_on 60 1 "awk -v t=$total '/^MemAvailable/ { exit !(\$2 > t * 40 / 100) }' /proc/ssi/local_meminfo"
log "node 1 after the move: $(on 1 "awk '/^MemAvailable/ {print \$2}' /proc/ssi/local_meminfo") KiB available"
expect_eq "the memory policy moved one process" "$(( $(on 1 "sed -n 's/^migrations: //p' $S") - moved0 ))" 1

wait_on 300 1 "grep -q done /cluster/mem-1.out && grep -q done /cluster/mem-2.out"
for i in 1 2; do
  expect_eq "process $i's output" "$(on 1 "cat /cluster/mem-$i.out")" "ready
done"
done
for n in 1 2 3; do
  expect_eq "node $n: no OOM kill" "$(on $n "dmesg | grep -c -E 'Out of memory|oom-kill'; true")" 0
done

# Back to the defaults.
on 1 "ssi-ctl scheduler remove shed > /dev/null"
on 1 "ssi-ctl scheduler set memory.low_per_mille 50 > /dev/null && ssi-ctl scheduler set memory.high_per_mille 150 > /dev/null"
for n in 1 2 3; do on $n "ssi-ctl unpin \$(pgrep -x ssi-agent | head -1) > /dev/null 2>&1; true"; done
