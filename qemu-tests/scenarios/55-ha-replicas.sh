# ssi-nodes: 3
# ssi-timeout: 900
# ssi-cluster: ha
# Replicas (issue 22, silent data corruption): a process protected with
# --replicas N runs as N copies on distinct nodes, compared at each write
# to its standard output. A bit flipped in one copy's memory, through
# /proc/PID/mem or through the module without marking the page dirty, is
# found at the next write, logged with its page and bit: with 2 copies
# both roll back to the last good image; with 3 the odd one is replaced
# (the primary through its deputy, keeping its pid). The lines the world
# saw are never emitted twice and a wrong one never goes out: the output
# equals a run that was never replicated. Second of the `ha` group: it
# leaves all three nodes up.
wait_view 90 "1 2 3" 1 2 3

# Field KEY of process PID's line in node 1's /proc/ssi/ha.
field() { on 1 "sed -n 's/^process: pid=$1 .*\\b$2=\\([^ ]*\\).*/\\1/p' /proc/ssi/ha"; }
# Copy I of process PID: "node:pid" (or its state).
copy_of() { field "$1" copies | cut -d, -f$(($2 + 1)); }
# Waits until every one of process PID's N copies runs.
all_running() { wait_on "$3" 1 "sed -n 's/^process: pid=$1 .*copies=\\([^ ]*\\).*/\\1/p' /proc/ssi/ha | grep -Eq '^[0-9]+:[0-9]+(,[0-9]+:[0-9]+){$(($2 - 1))}\$'"; }
# Waits until field KEY of PID is at least N.
field_at_least() { wait_on "$4" 1 "[ \"\$(sed -n 's/^process: pid=$1 .*\\b$2=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" -ge $3 ]"; }
# Starts ssi-wl-sdc STEPS on node 1 into /tmp/NAME.out, migrates it to
# node 2 and replicates it N times; its pid in $pid.
start() {
  local name=$1 n=$2 steps=$3
  on 1 "rm -f /tmp/$name.*; ((ssi-wl-sdc $steps 150; echo status=\$? > /tmp/$name.status) | cat > /tmp/$name.out) > /dev/null 2>&1 &"
  wait_on 20 1 'pgrep-here -x ssi-wl-sdc > /dev/null'
  pid=$(on 1 pgrep-here -x ssi-wl-sdc)
  expect_match "$name: migrated to node 2" "$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")" "rc=0"
  expect_match "$name: $n copies" "$(on 1 "ssi-ctl ha on $pid --interval 2 --replicas $n 2>&1")" \
    "process $pid protected: a checkpoint every 2 s, $n copies compared"
}
# The page and the bit index in it of the byte at ADDR's bit BIT.
page_of() { printf '0x%x' $(($1 & ~0xfff)); }
bit_of() { echo $(((($1 & 0xfff) * 8) + $2)); }
# The output of NAME, as the reference: the lines after the buffer's.
check_output() {
  local name=$1
  wait_on 240 1 "test -s /tmp/$name.status"
  expect_eq "$name: exit status 0 at home" "$(on 1 cat /tmp/$name.status)" "status=0"
  log "$name: $(on 1 "wc -l < /tmp/$name.out") lines; differences from the reference: $(on 1 "tail -n +2 /tmp/$name.out > /tmp/$name.cmp; tail -n +2 /tmp/sdc.ref | diff - /tmp/$name.cmp | head -8")"
  expect_eq "$name: the output is the unreplicated run's, every line once" \
    "$(on 1 "tail -n +2 /tmp/$name.out | md5sum")" "$(on 1 "tail -n +2 /tmp/sdc.ref | md5sum")"
}

on 1 "ssi-wl-sdc 60 0 > /tmp/sdc.ref"
expect_eq "the reference run has every line" "$(on 1 "wc -l < /tmp/sdc.ref")" 61
expect_match "replicas of a process at its home are refused" \
  "$(on 1 "ssi-wl-sdc 5 1000 > /dev/null & p=\$!; ssi-ctl ha on \$p --replicas 2 2>&1; kill \$p")" "migrate it first"

# --- Two copies: a clean stretch, then a flip in the replica through
# /proc/PID/mem and one in the primary through the module.
start two 2 60
all_running "$pid" 2 90
field_at_least "$pid" compared 10 120
field_at_least "$pid" good 1 60
expect_eq "two: no disagreement in a clean stretch" "$(field "$pid" corruptions)" 0
log "two copies: $(on 1 "grep '^process: pid=$pid ' /proc/ssi/ha")"
buffer=$(on 1 "head -1 /tmp/two.out | cut -d' ' -f2")
replica=$(copy_of "$pid" 1)
addr=$((buffer + 0x1234))
out=$(on "${replica%%:*}" "ssi-ctl ha flip ${replica#*:} $addr 3 2>&1")
log "$out"
field_at_least "$pid" rollbacks 1 60
line=$(on 1 "dmesg | grep 'ha: process $pid: corruption' | tail -1")
log "$line"
expect_match "two: the flip is found at its page and bit" "$line" "page $(page_of $addr) bit $(bit_of $addr 3) "
expect_match "two: both copies roll back" "$line" "every copy rolls back"
all_running "$pid" 2 120
field_at_least "$pid" good 1 60
primary=$(copy_of "$pid" 0)
addr2=$((buffer + 0x2345 + 0x100000))
out=$(on "${primary%%:*}" "ssi-ctl ha flip ${primary#*:} $addr2 5 --clean 2>&1")
expect_match "two: the module flips without dirtying" "$out" "flipped bit"
field_at_least "$pid" rollbacks 2 60
line=$(on 1 "dmesg | grep 'ha: process $pid: corruption' | tail -1")
log "$line"
expect_match "two: the clean flip is found too" "$line" "page $(page_of $addr2) bit $(bit_of $addr2 5) "
check_output two
expect_eq "two: no other disagreement in the whole run (no false alarm)" \
  "$(on 1 "dmesg | grep -c 'ha: process $pid: corruption'")" 2
log "two copies at the end: $(on 1 "dmesg | grep 'ha: process $pid' | tail -3")"

# --- Three copies: a flip in a replica (the odd one is replaced), then in
# the primary (restarted through its deputy, with its pid).
start three 3 60
all_running "$pid" 3 120
field_at_least "$pid" good 1 60
buffer=$(on 1 "head -1 /tmp/three.out | cut -d' ' -f2")
replica=$(copy_of "$pid" 2)
addr=$((buffer + 0x3456))
on "${replica%%:*}" "ssi-ctl ha flip ${replica#*:} $addr 1 --clean" > /dev/null
field_at_least "$pid" replaced 1 60
line=$(on 1 "dmesg | grep 'ha: process $pid: corruption' | tail -1")
log "$line"
expect_match "three: the odd replica is named and replaced" "$line" "the odd copy is replaced \\(odd copy 2\\)"
expect_match "three: at its page and bit" "$line" "page $(page_of $addr) bit $(bit_of $addr 1) "
expect_eq "three: no rollback" "$(field "$pid" rollbacks)" 0
all_running "$pid" 3 120
primary=$(copy_of "$pid" 0)
compared=$(field "$pid" compared)
field_at_least "$pid" compared $((compared + 3)) 60
addr2=$((buffer + 0x2000 + 0x200000))
on "${primary%%:*}" "ssi-ctl ha flip ${primary#*:} $addr2 7" > /dev/null
field_at_least "$pid" replaced 2 60
line=$(on 1 "dmesg | grep 'ha: process $pid: corruption' | tail -1")
expect_match "three: the odd primary is named" "$line" "\\(odd copy 0\\)"
all_running "$pid" 3 120
now=$(copy_of "$pid" 0)
log "three: primary was $primary, now $now"
expect_eq "three: the primary keeps its pid" "${now#*:}" "$pid"
expect_match "three: on another node" "${now%%:*}" "^[^${primary%%:*}]\$"
expect_eq "three: still no rollback" "$(field "$pid" rollbacks)" 0
check_output three
expect_eq "three: no other disagreement in the whole run (no false alarm)" \
  "$(on 1 "dmesg | grep -c 'ha: process $pid: corruption'")" 2
wait_on 30 1 "! grep -q '^process: pid=$pid ' /proc/ssi/ha"
for n in 1 2 3; do
  log "node $n: $(on "$n" "grep '^copy: ' /proc/ssi/ha; ps -e -o pid=,comm= | grep ssi-wl")"
done
for n in 1 2 3; do
  wait_on 30 "$n" "! grep -q '^copy: ' /proc/ssi/ha"
done
expect_eq "no copy is left running" "$(on 1 "ps -e -o comm= | grep -c '^ssi-wl-sdc\$'")" 0
