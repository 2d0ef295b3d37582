# ssi-nodes: 3
# ssi-cluster: procs
# ssi-timeout: 300
# The process space when a node dies (issue 20), last of the procs group
# (it kills node 3): node 1 runs ps in a loop while node 3 dies; every ps
# completes (a node that does not answer costs a refresh at most the call
# timeout, 2 s; 20 s would be a hang), and once node 3 is declared dead its
# processes are gone from the listings and from /proc.
wait_view 90 "1 2 3" 1 2 3

ps_json() { on "$1" "ssi-ctl ps --json"; }
count_comm() { jq --arg c "$2" '[.[] | select(.comm == $c)] | length' <<<"$1"; }
for n in 1 2 3; do
  on $n "cp /bin/sleep /tmp/deathmark$n && (/tmp/deathmark$n 600 < /dev/null > /dev/null 2>&1 &)"
done
wait_on 30 1 "[ \$(ps -e -o comm= | grep -c '^deathmark') -eq 3 ]"
# Many readers at once: two loops of ps aux and top -b -n 1 on every node
# for about 25 s; every run succeeds (the harness checks the consoles for
# warnings, and 16 runs kmemleak).
for n in 1 2 3; do
  on $n "rm -f /tmp/stress.*; for l in 1 2; do (end=\$((\$(date +%s) + 25)); ok=0; bad=0;
    while [ \$(date +%s) -lt \$end ]; do
      cat /proc/[0-9]*/stat > /dev/null 2>&1 # (processes come and go meanwhile)
      if ps aux > /dev/null && top -b -n 1 > /dev/null; then ok=\$((ok + 1)); else bad=\$((bad + 1)); fi
    done; echo \"\$ok \$bad\" > /tmp/stress.\$l) > /dev/null 2>&1 & done"
done
for n in 1 2 3; do
  wait_on 120 $n "[ -s /tmp/stress.1 ] && [ -s /tmp/stress.2 ]"
  expect_eq "node $n: no ps or top run failed under load" "$(on $n "cat /tmp/stress.1 /tmp/stress.2 | awk '{b += \$2} END {print b}'")" 0
  expect_match "node $n: the loops ran" "$(on $n "cat /tmp/stress.1 /tmp/stress.2 | awk '{o += \$1} END {print o}'")" '^[1-9][0-9]*$'
done

# A remote process's /proc file held open keeps the module: rmmod is
# refused (busy), and the file still reads.
mark2=$(on 2 "pgrep -x deathmark2")
out=$(on 1 "exec 3< /proc/$mark2/status; rmmod ssi 2>&1; echo rmmod=\$?; cat <&3 | grep '^Node:'")
expect_match "node 1: rmmod refused while a remote /proc file is open" "$out" "rmmod=1"
expect_match "node 1: the open file still reads" "$out" $'Node:\t2'
expect_eq "node 1: the module is still loaded" "$(on 1 "test -d /sys/module/ssi && echo loaded")" loaded

on 1 "(for i in \$(seq 30); do s=\$(date +%s%N); ps -e > /dev/null; echo \$(( (\$(date +%s%N) - s) / 1000000 )); sleep 0.3; done > /tmp/ps-ms.txt 2>&1 &)"
node_kill 3
wait_view 60 "1 2" 1 2
wait_on 120 1 '[ $(wc -l < /tmp/ps-ms.txt) -ge 30 ]'
expect_eq "node 1: no ps hung while node 3 died" "$(on 1 "awk '\$1 > 20000' /tmp/ps-ms.txt")" ""
for n in 1 2; do
  json=$(ps_json $n)
  expect_eq "node $n: nothing of node 3 is listed" "$(jq '[.[] | select(.node == 3)] | length' <<<"$json")" 0
  expect_eq "node $n: deathmark1 and deathmark2 are still listed" \
    "$(count_comm "$json" deathmark1)$(count_comm "$json" deathmark2)" 11
  expect_eq "node $n: ps no longer lists deathmark3" "$(on $n "ps -e -o comm= | grep -c '^deathmark3\$'; true")" 0
  expect_eq "node $n: ps still lists deathmark1 and 2" "$(on $n "ps -e -o comm= | grep -c '^deathmark[12]\$'")" 2
done
for n in 1 2; do on $n "pkill -x deathmark$n; true"; done
