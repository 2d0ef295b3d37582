# ssi-nodes: 3
# ssi-timeout: 900
# Migration under failure (issue 5): the destination killed in the middle
# of an eager migration, its link cut in the middle of a pre-copy one: the process goes on at the
# source, exactly once, and its output is intact; nothing of it runs on
# the destination afterwards. Refusals leave the process unharmed: a
# process the capture cannot handle (a socket), another user's process,
# an unknown node, an unknown strategy.
wait_view 90 "1 2 3" 1 2 3
user() { echo "setpriv --reuid=$1 --regid=$1 --clear-groups"; }

# --- Refusals.
on 1 "(ssi-wl-tcphold 60 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-tcphold > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-tcphold)
out=$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")
expect_match "a socket is refused with its reason" "$out" "socket"
expect_match "refusal status" "$out" "rc=[1-9]"
expect_eq "the refused process goes on" "$(on 1 "kill -0 $pid && echo alive")" alive
on 1 "kill $pid"
on 1 "(ssi-wl-lines 100000 50 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
expect_match "another user may not migrate it" "$(on 1 "$(user 1000) ssi-ctl migrate $pid 2 2>&1; true")" "only root or the owner"
expect_match "unknown node" "$(on 1 "ssi-ctl migrate $pid 9 2>&1; true")" "node 9 is not connected"
expect_match "an unknown strategy is refused" "$(on 1 "ssi-ctl migrate $pid 2 --strategy bogus > /tmp/bogus.out 2>&1; echo rc=\$? \$(head -1 /tmp/bogus.out)")" "^rc=2 error: invalid value 'bogus'"
expect_eq "still running here" "$(on 1 "kill -0 $pid && echo alive")" alive
on 1 "kill $pid"
# Refused by the destination: a file only node 1 has. The eager restore
# starts while the image still comes; the source learns why it failed.
on 1 "echo mine > /tmp/node1-only; (sleep 600 3< /tmp/node1-only < /dev/null > /dev/null 2>&1 & echo \$! > /tmp/sleeper.pid)"
wait_on 20 1 'test -s /tmp/sleeper.pid'
pid=$(on 1 cat /tmp/sleeper.pid)
out=$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")
log "$out"
expect_match "the destination's refusal names the file" "$out" "node 2: .*/tmp/node1-only"
expect_match "refused by the destination: status" "$out" "rc=[1-9]"
expect_eq "refused there, still running here" "$(on 1 "kill -0 $pid && echo alive")" alive
expect_eq "nothing of it on node 2" "$(on 2 "pgrep-here -xf 'sleep 600'; true")" ""
on 1 "kill $pid"

# --- The destination dies, then another's link goes down (eager, then
# pre-copy), mid-migration of the memory-and-FPU workload (128 MiB). What goes to the destination is
# limited to 160 Mbit/s meanwhile, so that the migration lasts several
# seconds however fast the machine is.
host_reference memfpu.ref ssi-wl-memfpu 128 60 0
on 1 "(ssi-wl-memfpu 128 60 1000 < /dev/null > /cluster/memfpu.out 2>/dev/null; echo status=\$? > /tmp/memfpu.status) > /dev/null 2>&1 &"
wait_on 120 1 'grep -q "iter 2 " /cluster/memfpu.out'
pid=$(on 1 pgrep-here -x ssi-wl-memfpu)

# attempt TO ACTION STRATEGY: migrate to TO in the background, do ACTION
# mid-way; the migration fails and the process is still here, no deputy.
attempt() {
  link_slow "$1" 160
  on 1 "(ssi-ctl migrate --strategy $3 $pid $1 > /tmp/m$1.out 2>&1; echo rc=\$? >> /tmp/m$1.out) > /dev/null 2>&1 &"
  wait_on 30 1 "grep -q 'sending\|capturing\|precopy ' /proc/ssi/migrations"
  sleep 3
  $2 "$1"
  link_fast "$1"
  wait_on 120 1 "grep -q rc= /tmp/m$1.out"
  log "$(on 1 cat /tmp/m$1.out)"
  expect_match "migration to node $1 failed" "$(on 1 cat /tmp/m$1.out)" "rc=[1-9]"
  expect_eq "the process is still on node 1 with its pid" "$(on 1 "pgrep-here -x ssi-wl-memfpu")" "$pid"
  expect_eq "and not a deputy" "$(on 1 "sed -n 's/^deputies: //p' /proc/ssi/migrations")" 0
}
attempt 2 node_kill eager
# An eager migration's destination rebuilds the process while its image
# comes: cut off in the middle, it must give that up (the process being
# rebuilt there has the workload's name) once the source is unreachable.
attempt 3 link_down eager
sleep 12
link_up 3
wait_view 90 "1 3" 1 3
wait_on 30 3 '! pgrep-here -x ssi-wl-memfpu > /dev/null'
expect_eq "nothing of it runs on node 3 after the eager attempt" "$(on 3 "pgrep-here -x ssi-wl-memfpu; true")" ""
# A pre-copy's destination rebuilt the process ahead and writes the rounds
# into it: cut off, it must give that up too.
attempt 3 link_down precopy
sleep 12
link_up 3
wait_view 90 "1 3" 1 3
wait_on 30 3 '! pgrep-here -x ssi-wl-memfpu > /dev/null'
expect_eq "nothing of it runs on node 3" "$(on 3 "pgrep-here -x ssi-wl-memfpu; true")" ""
wait_on 600 1 'test -s /tmp/memfpu.status'
expect_eq "memfpu exit status" "$(on 1 cat /tmp/memfpu.status)" "status=0"
expect_eq "memfpu output intact" "$(on 1 cat /cluster/memfpu.out)" "$(on 1 cat /cluster/memfpu.ref)"
