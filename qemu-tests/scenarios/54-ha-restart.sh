# ssi-nodes: 3
# ssi-timeout: 900
# ssi-cluster: ha
# High availability (issue 22): a protected process is checkpointed every
# 2 s where it runs, into /cluster/ssi-ha/PID/SEQ.img (complete images
# only, mode 0600, the newest chain kept). Its node dies (node_kill): its
# home node restarts it from the newest image on another node, with the
# same pid, once the lease fence has passed; the home shell's pipe gets
# every line and the wait status 0. Then a link is cut (link_down) under
# a protected process: the cut-off node stops its copy, the home node
# restarts it elsewhere, and after the link is back exactly one copy
# runs. Work since the last checkpoint is redone: lines after it come
# again (docs/ha.md), so the output is every line, in order, with one
# rewind at most per restart.
wait_view 90 "1 2 3" 1 2 3

# A field of process PID's line in node N's /proc/ssi/ha ("" if none).
ha_field() { on "$1" "sed -n 's/^process: pid=$2 .*\\b$3=\\([^ ]*\\).*/\\1/p' /proc/ssi/ha"; }
# Checks that the lines of FILE on node 1 are "line 1".."line N", every one
# present, the last N, with at most MAX rewinds (a restart redoes the
# lines since its checkpoint).
check_lines() {
  local file=$1 n=$2 max=$3
  expect_eq "$file: the last line" "$(on 1 "tail -1 $file")" "line $n"
  expect_eq "$file: every line 1..$n is there" "$(on 1 "awk '{print \$2}' $file | sort -un | awk 'NR != \$1 {print NR; exit} END {print NR}'")" "$n"
  local rewinds
  rewinds=$(on 1 "awk '\$2 != prev + 1 {if (\$2 > prev + 1) {print \"gap at line \" NR; exit}; r++} {prev = \$2} END {print r + 0}' $file")
  expect_match "$file: the lines go up by one, rewinding at most $max times" "$rewinds" "^[0-$max]$"
  echo "$rewinds"
}

on 1 "rm -rf /cluster/ssi-ha"
expect_eq "default image directory" "$(on 1 cat /sys/kernel/config/ssi/ha_dir)" /cluster/ssi-ha
expect_match "a missing process is refused" "$(on 1 "ssi-ctl ha on 999999 2>&1; echo rc=\$?")" "no process 999999"
expect_match "nobody may not protect root's process" "$(on 1 "setpriv --reuid=65534 --regid=65534 --clear-groups ssi-ctl ha on 1 2>&1; echo rc=\$?")" "only root or the owner"

# --- Part 1: node 2 dies under a protected process.
on 1 "rm -f /tmp/ha1.*; ((ssi-wl-lines 400 100; echo status=\$? > /tmp/ha1.status) | cat > /tmp/ha1.out) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
expect_match "ha on" "$(on 1 "ssi-ctl ha on $pid --interval 2 2>&1")" "process $pid protected: a checkpoint every 2 s"
wait_on 30 1 "[ \"\$(sed -n 's/^process: pid=$pid .*written=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" -ge 1 ]"
log "checkpoints at home: $(on 1 "grep '^process: pid=$pid ' /proc/ssi/ha")"
expect_eq "the image is 0600" "$(on 1 "stat -c %a /cluster/ssi-ha/$pid/\$(ls /cluster/ssi-ha/$pid | head -1)")" 600
out=$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")
expect_match "migrated to node 2" "$out" "rc=0"
# Checkpoints now come from node 2, asked by node 1.
written=$(ha_field 1 "$pid" written)
wait_on 60 1 "[ \"\$(sed -n 's/^process: pid=$pid .*written=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" -ge $((written + 2)) ]"
expect_match "node 2 wrote checkpoints for node 1" "$(on 2 "grep checkpoints_for_others /proc/ssi/ha")" "checkpoints_for_others: [1-9]"
expect_eq "node 1 says it runs on node 2" "$(ha_field 1 "$pid" node)" 2
expect_match "ssi-ctl ha status lists it" "$(on 1 "ssi-ctl ha status")" "$pid"
before=$(on 1 "wc -l < /tmp/ha1.out")
node_kill 2
# Lost: no image is written until the restart. The complete images on
# disk are the chain kept (a write node 2 had under way stays a .part).
wait_on 30 1 "grep -q '^process: pid=$pid .*phase=lost' /proc/ssi/ha"
kept=$(ha_field 1 "$pid" kept)
expect_eq "the complete images on disk are the chain kept" \
  "$(on 1 "cd /cluster/ssi-ha/$pid && ls *.img | sed 's/\.img\$//' | sort -n | paste -sd,")" "$kept"
wait_on 90 1 "[ \"\$(sed -n 's/^process: pid=$pid .*restarts=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" = 1 ]"
line=$(on 1 "dmesg | grep 'ha: process $pid restarted on node'")
log "$line"
expect_match "restarted on node 3 with the same pid" "$line" "restarted on node 3 as pid $pid from /cluster/ssi-ha/$pid/[0-9]+\.img"
expect_eq "it runs on node 3 under its pid" "$(on 3 "pgrep-here -x ssi-wl-lines")" "$pid"
expect_eq "node 1's ps lists it once" "$(on 1 "ps -e -o pid=,comm= | grep -c ' ssi-wl-lines\$'")" 1
wait_on 240 1 'test -s /tmp/ha1.status'
expect_eq "the home shell sees exit status 0" "$(on 1 cat /tmp/ha1.status)" "status=0"
rewinds=$(check_lines /tmp/ha1.out 400 1 | tail -1)
log "lines before the node died: $before; rewinds: $rewinds"
wait_on 30 1 "! grep -q '^process: pid=$pid ' /proc/ssi/ha"
expect_eq "its images are removed when it ends" "$(on 1 "ls /cluster/ssi-ha/$pid 2>/dev/null | wc -l")" 0

# --- Part 2: node 3's link is cut under a protected process: exactly one
# copy runs afterwards.
node_start 2
wait_view 120 "1 2 3" 1 2 3
on 1 "rm -f /tmp/ha2.*; ((ssi-wl-lines 400 100; echo status=\$? > /tmp/ha2.status) | cat > /tmp/ha2.out) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
on 1 "ssi-ctl ha on $pid --interval 2" > /dev/null
expect_match "migrated to node 3" "$(on 1 "ssi-ctl migrate $pid 3 2>&1; echo rc=\$?")" "rc=0"
wait_on 60 1 "[ \"\$(sed -n 's/^process: pid=$pid .*written=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" -ge 2 ]"
wait_on 30 1 "[ \"\$(sed -n 's/^process: pid=$pid .*node=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" = 3 ]"
link_down 3
wait_on 90 1 "[ \"\$(sed -n 's/^process: pid=$pid .*restarts=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" = 1 ]"
expect_match "restarted on node 2" "$(on 1 "dmesg | grep 'ha: process $pid restarted on node'")" "restarted on node 2 as pid $pid"
# The cut-off node stopped its copy before: the lease kills it 15 s after
# its last renewal, unless it ended sooner (its forwarded write failed once
# node 1 was declared dead); either way node 3 says so.
expect_match "node 3's copy stopped, cut off from its home" \
  "$(on 3 "dmesg | grep -E 'pid $pid .*(no word from its home node|ended, but node 1 was not told)'")" "pid $pid"
expect_eq "no copy left on node 3" "$(on 3 "pgrep-here -x ssi-wl-lines; true")" ""
link_up 3
wait_view 120 "1 2 3" 1 2 3
expect_eq "exactly one copy in the cluster" "$(on 1 "ps -e -o pid=,comm= | grep -c ' ssi-wl-lines\$'")" 1
expect_eq "it runs on node 2" "$(on 2 "pgrep-here -x ssi-wl-lines")" "$pid"
expect_eq "none on node 3" "$(on 3 "pgrep-here -x ssi-wl-lines; true")" ""
wait_on 240 1 'test -s /tmp/ha2.status'
expect_eq "the home shell sees exit status 0" "$(on 1 cat /tmp/ha2.status)" "status=0"
check_lines /tmp/ha2.out 400 1 > /dev/null
