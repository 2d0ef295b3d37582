# ssi-nodes: 3
# ssi-cluster: procs
# ssi-timeout: 600
# Signals anywhere (issue 20): `kill -SIG PID`, `kill -0 PID` and
# `kill -SIG -PGID` typed on any node reach the process or group wherever it
# runs, through the pid's home node (the owner of its slot). Permission is
# the sender's: nobody may not signal root's process (EPERM); a pid that
# is gone is ESRCH, as is one of a node that is not in the cluster. A
# process group whose members run at home and, migrated, on another node
# ends as a whole, and its parent at home sees each member killed by the
# signal. The nodes count what they routed, served and refused.
wait_view 90 "1 2 3" 1 2 3

# kill_on N AS ARGS: `kill ARGS` (bash's builtin) on node N, as root or as
# nobody (AS = root|nobody); prints its messages and rc=STATUS.
kill_on() {
  local n=$1 as=$2; shift 2
  local pre=""
  [ "$as" = nobody ] && pre="setpriv --reuid=65534 --regid=65534 --clear-groups"
  on "$n" "$pre bash -c 'kill $*' 2>&1; echo rc=\$?"
}

# Two uniquely named processes on node 2, one of root and one of nobody.
on 2 "cp /bin/sleep /tmp/sigroot && cp /bin/sleep /tmp/signobody"
on 2 "(/tmp/sigroot 600 < /dev/null > /dev/null 2>&1 &)"
on 2 "(setpriv --reuid=65534 --regid=65534 --clear-groups /tmp/signobody 600 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 2 "pgrep -x sigroot > /dev/null && pgrep -x signobody > /dev/null"
root_pid=$(on 2 "pgrep -x sigroot")
nobody_pid=$(on 2 "pgrep -x signobody")
expect_eq "sigroot's pid $root_pid is in node 2's slot" "$(( root_pid / 65536 ))" 2
expect_eq "signobody's pid $nobody_pid is in node 2's slot" "$(( nobody_pid / 65536 ))" 2
for n in 1 2 3; do
  expect_match "node $n: kill hook armed" "$(on $n "dmesg | grep -c 'kill hook armed'")" "^[1-9]"
done

routed1=$(krpc_stat 1 signals_routed)
routed3=$(krpc_stat 3 signals_routed)
served2=$(krpc_stat 2 signals_served)
refused2=$(krpc_stat 2 signals_refused)

# kill -0 from the two other nodes finds both processes.
for n in 1 3; do
  expect_eq "node $n: kill -0 of root's process on node 2" "$(kill_on $n root -0 $root_pid)" "rc=0"
  expect_eq "node $n: kill -0 of nobody's process on node 2" "$(kill_on $n root -0 $nobody_pid)" "rc=0"
  expect_eq "node $n: nobody may check nobody's process" "$(kill_on $n nobody -0 $nobody_pid)" "rc=0"
done

# Nobody may not signal root's process: EPERM, and it still runs.
for n in 1 3; do
  out=$(kill_on $n nobody -TERM $root_pid)
  expect_match "node $n: nobody's kill -TERM of root's process fails" "$out" "Operation not permitted"
  expect_match "node $n: with status 1" "$out" "rc=1$"
  expect_match "node $n: nobody's kill -0 of root's process fails too" \
    "$(kill_on $n nobody -0 $root_pid)" "Operation not permitted"
done
expect_eq "sigroot survived" "$(on 2 "pgrep -x sigroot")" "$root_pid"

# A pid of node 2's slot that is gone, and one of a node not in the cluster.
dead=$(on 2 "sh -c 'echo \$\$'")
expect_eq "the dead pid $dead is in node 2's slot" "$(( dead / 65536 ))" 2
for n in 1 3; do
  out=$(kill_on $n root -0 $dead)
  expect_match "node $n: kill -0 of a dead pid of node 2" "$out" "No such process"
  expect_match "node $n: with status 1" "$out" "rc=1$"
  expect_match "node $n: kill -0 of a pid of node 9 (not in the cluster)" \
    "$(kill_on $n root -0 $(( 9 * 65536 + 5 )))" "No such process"
done
# Node-local pids stay node-local: pid 1 is each node's own init.
expect_eq "node 1: kill -0 1 is local" "$(kill_on 1 root -0 1)" "rc=0"

# kill -TERM from node 1 ends root's process, from node 3 (as nobody)
# nobody's.
expect_eq "node 1: kill -TERM of root's process on node 2" "$(kill_on 1 root -TERM $root_pid)" "rc=0"
wait_on 20 2 "! pgrep -x sigroot > /dev/null"
expect_eq "node 3: nobody's kill -TERM of nobody's process on node 2" \
  "$(kill_on 3 nobody -TERM $nobody_pid)" "rc=0"
wait_on 20 2 "! pgrep -x signobody > /dev/null"

# A process group on node 2 (a shell that traps TERM, a sleep and
# ssi-wl-lines), whose ssi-wl-lines migrates to node 3, gets kill -TERM
# -PGID from node 1. The shell records its children's statuses as wait
# reports them at home.
on 2 "cp /bin/sleep /tmp/pgsleep"
on 2 "rm -f /tmp/pg.status /tmp/pg.pids /tmp/pg.term; (setsid sh -c '
  trap \"echo term >> /tmp/pg.term\" TERM
  ssi-wl-lines 100000 50 < /dev/null > /dev/null 2>&1 & l=\$!
  /tmp/pgsleep 600 & s=\$!
  echo \$l \$s > /tmp/pg.pids
  wait \$l; r=\$?
  while kill -0 \$l 2> /dev/null; do wait \$l; r=\$?; done
  echo lines=\$r > /tmp/pg.status
  wait \$s; echo sleep=\$? >> /tmp/pg.status
' < /dev/null > /dev/null 2>&1 &)"
wait_on 20 2 "test -s /tmp/pg.pids && pgrep -x ssi-wl-lines > /dev/null && pgrep -x pgsleep > /dev/null"
read -r lines_pid sleep_pid <<<"$(on 2 "cat /tmp/pg.pids")"
pgid=$(on 2 "ps -o pgid= -p $lines_pid | tr -d ' '")
expect_eq "ssi-wl-lines and the sleep share a group" "$(on 2 "ps -o pgid= -p $sleep_pid | tr -d ' '")" "$pgid"
expect_eq "the group id $pgid is in node 2's slot" "$(( pgid / 65536 ))" 2
out=$(on 2 "ssi-ctl migrate $lines_pid 3 2>&1; echo rc=\$?")
expect_match "ssi-wl-lines migrates to node 3" "$out" "rc=0"
wait_on 20 3 "pgrep-here -x ssi-wl-lines > /dev/null"
expect_eq "node 1: kill -0 of the group" "$(kill_on 1 root -0 -- -$pgid)" "rc=0"
expect_match "node 1: nobody may not signal the group" "$(kill_on 1 nobody -TERM -- -$pgid)" "Operation not permitted"
expect_eq "node 1: kill -TERM of the group" "$(kill_on 1 root -TERM -- -$pgid)" "rc=0"
wait_on 30 3 "! pgrep -x ssi-wl-lines > /dev/null"
wait_on 30 2 "! pgrep -x pgsleep > /dev/null"
wait_on 30 2 "grep -q sleep= /tmp/pg.status"
expect_eq "at home, the parent saw both members killed by SIGTERM" \
  "$(on 2 "cat /tmp/pg.status | xargs")" "lines=143 sleep=143"
expect_eq "the group's shell got the TERM too" "$(on 2 "cat /tmp/pg.term")" "term"
out=$(kill_on 1 root -0 -- -$pgid)
expect_match "node 1: the empty group is gone" "$out" "No such process"

# Counters: every kill of a node-2 pid from nodes 1 and 3 above was routed
# (11 from node 1, 7 from node 3; node 9's pid was not: no such node) and
# served by node 2, which refused the 5 of nobody against root's.
expect_eq "node 1 counted its routed signals" "$(( $(krpc_stat 1 signals_routed) - routed1 ))" 11
expect_eq "node 3 counted its routed signals" "$(( $(krpc_stat 3 signals_routed) - routed3 ))" 7
expect_eq "node 2 served them" "$(( $(krpc_stat 2 signals_served) - served2 ))" 18
expect_eq "node 2 refused the EPERM ones" "$(( $(krpc_stat 2 signals_refused) - refused2 ))" 5
for n in 1 2 3; do
  expect_eq "node $n: no routed signal failed" "$(krpc_stat $n signals_failed)" 0
done

# rmmod while a routed kill waits: node 2 is cut off, node 1's kill -0 of
# a node-2 pid waits for its answer (2 s) while node 1 unloads the module;
# unloading waits for it (the kill gets ETIMEDOUT), then completes without
# a warning, and the reloaded module routes again.
on 2 "(/tmp/signobody 600 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 2 "pgrep -x signobody > /dev/null"
victim=$(on 2 "pgrep -x signobody")
link_down 2
out=$(on 1 "rm -f /tmp/k.out; (bash -c 'kill -0 $victim' > /tmp/k.out 2>&1; echo rc=\$? >> /tmp/k.out) &
  sleep 0.5; rmmod ssi; echo rmmod=\$?; wait; cat /tmp/k.out")
link_up 2
expect_match "node 1: rmmod succeeded while a kill was routed" "$out" "rmmod=0"
expect_match "node 1: the routed kill timed out" "$out" "Connection timed out"
expect_match "node 1: with status 1" "$out" "rc=1"
expect_match "node 1: the hook was disarmed" "$(on 1 "dmesg | grep -c 'kill hook disarmed'")" "^[1-9]"
secret=$(on 1 "sed -n 's/.*ssi.secret=\([^ ]*\).*/\1/p' /proc/cmdline")
on 1 "insmod /opt/ssi/ssi.ko && cd /sys/kernel/config/ssi &&
      echo 1 > node_id && echo 10.99.0.11 > address && echo '$secret' > secret &&
      echo 10.99.0.11,10.99.0.12,10.99.0.13 > seeds && echo /opt/ssi/bin/ssi-ctl > ctl_path &&
      echo 1 > enabled"
wait_view 120 "1 2 3" 1 2 3
expect_eq "node 1: routes again after reload" "$(kill_on 1 root -TERM $victim)" "rc=0"
wait_on 20 2 "! pgrep -x signobody > /dev/null"
