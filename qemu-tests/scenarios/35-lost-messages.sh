# ssi-nodes: 3
# ssi-timeout: 600
# Lost control messages and leases (issue 19): frames dropped on purpose
# with configfs drop_next never hang or lose a migrated process.
# - A dropped MigrateExit (and then its dropped acknowledgement): the home
#   shell's wait still gets the real status, the deputy takes the end once.
# - A dropped MigrateSignal: kill -TERM at home still reaches the handler,
#   once.
# - Dropped MigrateIo and MigrateIoDone: every line through the home pipe
#   once, in order.
# - Leases: a deputy killed while every signal to its process is lost: the
#   node running it finds the deputy gone and kills it; a process whose
#   home node is cut off is killed there, and its deputy ends killed.
. "$1/lib/ssi.sh"
wait_view 90 "1 2 3" 1 2 3
drop() { on "$1" "echo '$2 $3' > /sys/kernel/config/ssi/drop_next"; }
migrate_to() { # PID NODE: migrates, prints the pid there
  local out
  out=$(on 1 "ssi-ctl migrate $1 $2 2>&1; echo rc=\$?")
  expect_match "migrate $1 to node $2" "$out" "rc=0"
  echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p'
}

# --- Bad requests are refused with a reason; only root may write.
expect_match "an unknown type is refused" "$(on 1 "echo 'Nothing 1' > /sys/kernel/config/ssi/drop_next 2>&1; echo rc=\$?")" "rc=[1-9]"
expect_match "and the log says why" "$(on 1 "dmesg | grep drop_next | tail -1")" "drop_next"
expect_match "non-root may not" \
  "$(on 1 "setpriv --reuid=1000 --regid=1000 --clear-groups sh -c 'echo MigrateExit 1 > /sys/kernel/config/ssi/drop_next' 2>&1; true")" \
  "Permission denied"
drop 1 MigrateExit 3
expect_eq "drop_next lists what is left" "$(on 1 cat /sys/kernel/config/ssi/drop_next)" "MigrateExit 3"
drop 1 MigrateExit 0
expect_eq "0 cancels" "$(on 1 cat /sys/kernel/config/ssi/drop_next)" ""

# --- MigrateExit lost, then its acknowledgement lost.
dup0=$(krpc_stat 1 reliable_duplicates)
drop 2 MigrateExit 1
drop 1 MigrateExit 1
on 1 "(ssi-wl-counter /cluster/count.txt 150 100 < /dev/null > /dev/null 2>&1; echo status=\$? > /tmp/count.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-counter)
migrate_to "$pid" 2 > /dev/null
wait_on 90 1 'test -s /tmp/count.status'
expect_eq "the home shell's wait sees exit status 0" "$(on 1 cat /tmp/count.status)" "status=0"
expect_eq "every number once" "$(on 1 "awk '\$1 != NR {print NR; exit} END {print NR}' /cluster/count.txt")" 150
expect_eq "node 2 lost its first MigrateExit" "$(on 2 cat /sys/kernel/config/ssi/drop_next)" ""
expect_eq "node 1 lost its first acknowledgement" "$(on 1 cat /sys/kernel/config/ssi/drop_next)" ""
expect_match "node 2 sent it again" "$(krpc_stat 2 reliable_resent)" "^[1-9]"
# Node 2 sends it again until an acknowledgement comes: the one after the
# lost one answers a copy node 1 had taken already.
wait_on 30 2 "test \"\$(sed -n 's/^reliable_pending: //p' /proc/ssi/krpc)\" = 0"
expect_match "node 1 took the copy as a duplicate" "$(( $(krpc_stat 1 reliable_duplicates) - dup0 ))" "^[1-9]"
expect_eq "the deputy took the end once" "$(on 1 "dmesg | grep -c 'pid $pid: the migrated process ended on node 2'")" 1

# --- MigrateSignal lost: kill -TERM at home reaches the handler once.
on 1 "(ssi-wl-lines 100000 20 > /cluster/term.out; echo status=\$? > /tmp/term.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
migrate_to "$pid" 3 > /dev/null
drop 1 MigrateSignal 1
on 1 "kill -TERM $pid"
wait_on 60 1 'test -s /tmp/term.status'
expect_eq "SIGTERM's exit status reaches the home shell" "$(on 1 cat /tmp/term.status)" "status=143"
expect_eq "the handler ran once" "$(on 1 "grep -c '^got SIGTERM' /cluster/term.out")" 1
expect_eq "the signal frame was lost first" "$(on 1 cat /sys/kernel/config/ssi/drop_next)" ""

# --- MigrateIo and MigrateIoDone lost: every line through the pipe once.
drop 2 MigrateIo 2
drop 1 MigrateIoDone 2
on 1 "(ssi-wl-lines 500 20 | cat > /tmp/lines.out; echo done > /tmp/lines.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
sleep 1
pid=$(on 1 pgrep-here -x ssi-wl-lines)
migrate_to "$pid" 2 > /dev/null
wait_on 120 1 'test -s /tmp/lines.status'
expect_eq "lines through the pipe" "$(on 1 "wc -l < /tmp/lines.out")" 500
expect_eq "every line once, in order" "$(on 1 "awk '\$2 != NR {print NR; exit}' /tmp/lines.out")" ""
expect_eq "both sides lost frames" "$(on 1 cat /sys/kernel/config/ssi/drop_next)$(on 2 cat /sys/kernel/config/ssi/drop_next)" ""

# --- The deputy killed while every signal to its process is lost: node 3
# learns from the lease that the deputy is gone and kills the process.
on 1 "(sleep 600 < /dev/null > /dev/null 2>&1; echo status=\$? > /tmp/sleep.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -xf "sleep 600" > /dev/null'
pid=$(on 1 "pgrep-here -xf 'sleep 600'")
rpid=$(migrate_to "$pid" 3)
drop 1 MigrateSignal 1000
on 1 "kill -KILL $pid"
wait_on 30 1 'test -s /tmp/sleep.status'
expect_eq "the killed deputy's status" "$(on 1 cat /tmp/sleep.status)" "status=137"
wait_on 60 3 "! kill -0 $rpid 2> /dev/null"
expect_match "node 3 says why" "$(on 3 "dmesg | grep 'pid $rpid '")" "its deputy is gone: killed"
drop 1 MigrateSignal 0

# --- The home node cut off: node 2 kills the process it runs for it, the
# deputy ends killed (once the link is back, the home shell has status 137).
on 1 "(sleep 600 < /dev/null > /dev/null 2>&1; echo status=\$? > /tmp/cut.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -xf "sleep 600" > /dev/null'
pid=$(on 1 "pgrep-here -xf 'sleep 600'")
rpid=$(migrate_to "$pid" 2)
link_down 1
wait_on 60 2 "! kill -0 $rpid 2> /dev/null"
expect_match "node 2 says why" "$(on 2 "dmesg | grep 'pid $rpid '")" "no word from its home node for 15 s: killed"
wait_on 60 1 'test -s /tmp/cut.status'
expect_eq "the deputy ends killed" "$(on 1 cat /tmp/cut.status)" "status=137"
expect_match "node 1 says why" "$(on 1 "dmesg | grep 'pid $pid: no lease renewal'")" "the process .* is lost, the deputy ends killed"
link_up 1
wait_view 120 "1 2 3" 1 2 3
