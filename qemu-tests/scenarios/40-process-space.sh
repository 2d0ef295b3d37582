# ssi-nodes: 3
# ssi-cluster: procs
# ssi-timeout: 600
# The process space (issue 20): on every node, /proc/ssi/ps, `ssi-ctl ps`
# and unmodified procps (ps, pgrep, top, through the other nodes' entries
# the module adds to /proc) list the user processes of every alive node,
# each exactly once, under its pid, with its real user. A migrated process
# keeps its pid and is listed once, where it runs, with its home (its
# deputy at home is not listed again); its exe and command line are its
# own. 49 (last of the procs group) shows a node's death.
wait_view 90 "1 2 3" 1 2 3

# ps_json N: `ssi-ctl ps --json` on node N (fails the scenario if it fails).
ps_json() { on "$1" "ssi-ctl ps --json"; }
# count_comm JSON COMM: how many entries of that name.
count_comm() { jq --arg c "$2" '[.[] | select(.comm == $c)] | length' <<<"$1"; }
# field_of JSON COMM FILTER: FILTER of the one entry of that name.
field_of() { jq -c --arg c "$2" ".[] | select(.comm == \$c) | $3" <<<"$1"; }

# A uniquely named process on each node (a copy of sleep: its name is the
# file's); node 3's runs as nobody.
for n in 1 2 3; do
  as=""
  [ $n = 3 ] && as="setpriv --reuid=65534 --regid=65534 --clear-groups"
  on $n "cp /bin/sleep /tmp/psmark$n && ($as /tmp/psmark$n 600 < /dev/null > /dev/null 2>&1 &)"
  wait_on 20 $n "pgrep -x psmark$n > /dev/null"
done
declare -A mark_pid
for n in 1 2 3; do mark_pid[$n]=$(on $n "pgrep -x psmark$n"); done

# Node pid ranges: node n allocates new pids only in [n*65536, (n+1)*65536)
# (proto/src/pid_range.rs), so no pid is in use on two nodes.
for n in 1 2 3; do
  expect_eq "psmark$n's pid ${mark_pid[$n]} is in node $n's range" "$(( mark_pid[$n] / 65536 ))" "$n"
  expect_eq "node $n: /proc/ssi/node shows its pid range" \
    "$(on $n "sed -n 's/^pid_range: //p' /proc/ssi/node")" "$(( n * 65536 ))-$(( (n + 1) * 65536 ))"
done
pids=$(on 1 "for i in \$(seq 20); do sh -c 'echo \$\$'; done" | xargs)
expect_eq "node 1: 20 new processes" "$(wc -w <<<"$pids")" 20
expect_eq "node 1: every new pid is in node 1's range" \
  "$(for p in $pids; do echo $(( p / 65536 )); done | sort -u | xargs)" 1

for n in 1 2 3; do
  json=$(ps_json $n)
  for m in 1 2 3; do
    expect_eq "node $n lists psmark$m once" "$(count_comm "$json" psmark$m)" 1
    expect_eq "node $n: psmark$m runs on node $m" "$(field_of "$json" psmark$m .node)" "$m"
    expect_eq "node $n: psmark$m has its pid there" "$(field_of "$json" psmark$m .pid)" "${mark_pid[$m]}"
    expect_eq "node $n: psmark$m is not migrated" "$(field_of "$json" psmark$m .home)" null
  done
  expect_eq "node $n: psmark1's user" "$(field_of "$json" psmark1 .user)" '"root"'
  expect_eq "node $n: psmark3's user" "$(field_of "$json" psmark3 .user)" '"nobody"'
  expect_eq "node $n: psmark3's command line" "$(field_of "$json" psmark3 .cmd)" '"/tmp/psmark3 600"'
  # The text listing says the same, and ps's own pids are there: node 1's
  # init is listed as node 1's pid 1, once per node.
  expect_eq "node $n: /proc/ssi/ps has the three marks" \
    "$(on $n "awk 'NR > 1 && \$13 ~ /^psmark/ { print \$1 \":\" \$13 }' /proc/ssi/ps | sort | xargs")" \
    "1:psmark1 2:psmark2 3:psmark3"
  expect_eq "node $n: one pid 1 per node" "$(jq -c '[.[] | select(.pid == 1) | .node] | sort' <<<"$json")" "[1,2,3]"
  table=$(on $n "ssi-ctl ps")
  expect_match "node $n: the table has its header" "$(head -1 <<<"$table")" "^ *NODE +PID +PPID +USER +STAT +TIME +RSS +HOME +CMD"
  expect_match "node $n: the table lists psmark3 as nobody" "$table" "^ *3 +${mark_pid[3]} .* nobody .*/tmp/psmark3 600"
done

# Unmodified procps on every node sees every node's processes in /proc:
# each mark once, under its pid, with its user; remote files say the node.
for n in 1 2 3; do
  expect_eq "node $n: ps -e lists the three marks once each, under their pids" \
    "$(on $n "ps -e -o pid=,comm= | awk '\$2 ~ /^psmark/ { print \$1 \":\" \$2 }' | sort -t: -k2 | xargs")" \
    "${mark_pid[1]}:psmark1 ${mark_pid[2]}:psmark2 ${mark_pid[3]}:psmark3"
  expect_match "node $n: ps aux shows psmark3 as nobody with its command line" \
    "$(on $n "ps aux | grep '[p]smark3'")" "^nobody +${mark_pid[3]} .*/tmp/psmark3 600$"
  expect_match "node $n: ps -ef shows psmark2" "$(on $n "ps -ef | grep '[p]smark2'")" "^root +${mark_pid[2]} "
  expect_eq "node $n: pgrep finds psmark1" "$(on $n "pgrep -x psmark1")" "${mark_pid[1]}"
  expect_eq "node $n: pgrep -u nobody finds psmark3" "$(on $n "pgrep -u nobody -x psmark3")" "${mark_pid[3]}"
  expect_match "node $n: top -b -n 1 lists psmark2" "$(on $n "top -b -n 1 -w 200 | grep psmark2")" "^ *${mark_pid[2]} +root "
  expect_match "node $n: ps -o lstart,args works on a remote pid" \
    "$(on $n "ps -o pid=,user=,stat=,lstart=,args= -p ${mark_pid[3]}")" "^ *${mark_pid[3]} nobody +S .*/tmp/psmark3 600$"
done
expect_match "node 1: a remote process's status names its node" "$(on 1 "cat /proc/${mark_pid[2]}/status")" $'Node:\t2'
expect_eq "node 1: its directory belongs to its user" "$(on 1 "stat -c %U /proc/${mark_pid[3]}")" nobody
expect_eq "node 1: its comm" "$(on 1 "cat /proc/${mark_pid[3]}/comm")" psmark3
expect_eq "node 1: it offers no environ" "$(on 1 "test -e /proc/${mark_pid[3]}/environ && echo yes || echo no")" no
expect_eq "node 2: its own process is local (no Node: line)" "$(on 2 "grep -c '^Node:' /proc/${mark_pid[2]}/status; true")" 0

# A process migrated 1 -> 2 is listed once, on node 2, with its home; its
# deputy on node 1 is not listed.
on 1 "(ssi-wl-lines 100000 50 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep -x ssi-wl-lines > /dev/null'
home=$(on 1 pgrep -x ssi-wl-lines)
hppid=$(on 1 "ps -o ppid= -p $home | tr -d ' '")
out=$(on 1 "ssi-ctl migrate $home 2 2>&1; echo rc=\$?")
expect_match "ssi-wl-lines migrates to node 2" "$out" "rc=0"
there=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
expect_eq "it keeps its pid on node 2" "$there" "$home"
expect_eq "node 2's /proc has it under that pid" "$(on 2 "cat /proc/$home/comm")" ssi-wl-lines
expect_eq "node 2: its /proc/PID/exe is its own program" "$(on 2 "readlink /proc/$home/exe")" "$(on 1 "readlink /proc/$home/exe")"
expect_match "node 2: it is ssi-wl-lines, not ssi-ctl" "$(on 2 "readlink /proc/$home/exe")" "/ssi-wl-lines$"
expect_eq "node 2: its command line" "$(on 2 "tr '\\0' ' ' < /proc/$home/cmdline")" "ssi-wl-lines 100000 50 "
sleep 2
e1=$(on 1 "ps -o etimes= -p $home | tr -d ' '")
e2=$(on 2 "ps -o etimes= -p $home | tr -d ' '")
e3=$(on 3 "ps -o etimes= -p $home | tr -d ' '")
log "elapsed since its start: node 1 (deputy) ${e1}s, node 2 ${e2}s, node 3 ${e3}s"
expect_eq "node 2: it keeps its start time (elapsed within 2 s of its deputy's)" "$(( (e2 - e1) * (e2 - e1) <= 4 ))" 1
expect_eq "node 3: so it is listed there" "$(( (e3 - e1) * (e3 - e1) <= 4 ))" 1
for n in 1 2 3; do
  json=$(ps_json $n)
  expect_eq "node $n lists the migrated process once" "$(count_comm "$json" ssi-wl-lines)" 1
  expect_eq "node $n: it runs on node 2 as pid $there" "$(field_of "$json" ssi-wl-lines '[.node, .pid]')" "[2,$there]"
  expect_eq "node $n: its home is node 1, pid $home" "$(field_of "$json" ssi-wl-lines .home)" "{\"node\":1,\"pid\":$home}"
done
expect_match "the table shows its home" "$(on 3 "ssi-ctl ps")" "^ *2 +$there .* 1/$home "
for n in 1 2 3; do
  expect_eq "node $n: ps -e lists it once, under its pid" "$(on $n "ps -e -o pid=,comm= | awk '\$2 == \"ssi-wl-lines\" {print \$1}' | xargs")" "$home"
done
expect_match "node 3: its status says it runs on node 2" "$(on 3 "cat /proc/$home/status")" $'Node:\t2'
# Its home's /proc/PID (the deputy, asleep with its memory unmapped) shows
# it as it runs on node 2 (the pid files hook), and node 2's shows its home
# parent, not the restart program's.
expect_eq "node 1: ps shows its command line, not the deputy's empty one" \
  "$(on 1 "ps -o args= -p $home")" "ssi-wl-lines 100000 50"
expect_match "node 1: its status says it runs on node 2" "$(on 1 "cat /proc/$home/status")" $'Node:\t2'
expect_match "node 1: its resident memory is the running copy's" "$(on 1 "ps -o rss= -p $home | tr -d ' '")" '^[1-9][0-9]{2,}$'
for n in 1 2 3; do
  expect_eq "node $n: its parent is its home parent ($hppid)" "$(on $n "ps -o ppid= -p $home | tr -d ' '")" "$hppid"
  expect_eq "node $n: status says the same" "$(on $n "sed -n 's/^PPid:\t//p' /proc/$home/status")" "$hppid"
done
on 1 "kill -TERM $home"
wait_on 30 2 "! pgrep -x ssi-wl-lines > /dev/null"

# A shell with a child is not migrated (it could not wait for the child
# from another node), with the reason. A migrated shell that forks: its
# new children run where it runs, and every node lists them with it as
# their parent. (It starts them once /cluster/forkgo exists, after it
# moved, and waits with a builtin loop.)
on 1 "cp /bin/sleep /cluster/forkkid && rm -f /cluster/forkgo && (sh -c 'while [ ! -e /cluster/forkgo ]; do :; done; while :; do /cluster/forkkid 3 & i=0; while [ \$i -lt 20000 ]; do i=\$((i + 1)); done; done' < /dev/null > /dev/null 2>&1 &)"
on 1 "(sh -c '/cluster/forkkid 30 & wait' < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 "pgrep -x forkkid > /dev/null"
parent=$(on 1 "ps -o ppid= -C forkkid | head -1 | tr -d ' '")
out=$(on 1 "ssi-ctl migrate $parent 2 2>&1; echo rc=\$?")
expect_match "a shell with a child is not migrated, with the reason" "$out" \
  "process $parent has 1 child process\\(es\\) here: it could not wait for them from another node"
expect_match "its migrate status" "$out" "rc=[1-9]"
on 1 "pkill -x forkkid; true"
shpid=$(on 1 "pgrep -f 'forkg[o] ]; do' | head -1")
expect_match "node 1: the forking shell runs" "$shpid" '^[0-9]+$'
out=$(on 1 "ssi-ctl migrate $shpid 2 2>&1; echo rc=\$?")
expect_match "the forking shell migrates to node 2, keeping its pid" "$out" "to node 2 as pid $shpid "
expect_match "its migrate status" "$out" "rc=0"
on 1 "touch /cluster/forkgo"
wait_on 30 2 "pgrep-here -P $shpid -x forkkid > /dev/null"
for n in 1 3; do
  wait_on 30 $n "pgrep -P $shpid -x forkkid > /dev/null"
  kid=$(on $n "pgrep -P $shpid -x forkkid | tail -1")
  expect_match "node $n: a child forked on node 2 is listed with the shell as parent" \
    "$(on $n "grep -E '^(PPid|Node):' /proc/$kid/status 2>/dev/null | xargs")" "PPid: $shpid( Node: 2)?$"
done
on 3 "kill -TERM $shpid"
wait_on 30 2 "! pgrep-here -x forkkid > /dev/null && ! kill -0 $shpid 2> /dev/null"
for n in 1 2 3; do on $n "pkill -x psmark$n; true"; done
