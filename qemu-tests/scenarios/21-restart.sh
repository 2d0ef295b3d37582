# ssi-nodes: 2
# ssi-cluster: pair
# ssi-timeout: 900
# Restart (issue 4): processes (one with five threads) checkpointed with
# --kill on one node go on
# from where they stopped on the other, unmodified: a counter keeps every
# number once, in order; the memory-and-FPU workload (128 MiB) moved 1 -> 2
# with `restart --node 2` (krpc) and back from node 1's shell gives an
# uninterrupted run's output; a refusal on the remote node comes back with
# its reason; terminal settings follow the process to a new terminal; a
# SIGALRM/setitimer/altstack/blocked-signal
# workload, a sequential reader and a private file mapping behave as if
# never stopped; the parent of the restart gets the exit status; another
# user may not restart root's image; 1000 damaged images are refused.
wait_view 60 "1 2" 1 2
user() { echo "setpriv --reuid=$1 --regid=$1 --clear-groups"; }

# restart_on NODE IMAGE OUT: `ssi-ctl restart IMAGE` in the background on
# NODE; its exit status lands in OUT.
restart_on() { on "$1" "cd /tmp && (ssi-ctl restart $2 < /dev/null > /dev/null 2>>$3; echo status=\$? >> $3) > /dev/null 2>&1 &"; }
# move NAME IMAGE FROM TO: checkpoint NAME on FROM with --kill, restart on TO.
move() {
  local name=$1 img=$2 from=$3 to=$4 pid
  pid=$(on "$from" pgrep-here -x "$name") || fail "$name is not running on node $from"
  on "$from" "ssi-ctl checkpoint $pid --kill -o $img" > /dev/null
  wait_on 10 "$from" "! kill -0 $pid 2>/dev/null"
  restart_on "$to" "$img" "/tmp/$name.status"
  wait_on 30 "$to" "pgrep-here -x $name > /dev/null || grep -q status= /tmp/$name.status"
}

# Counter: killed on node 1 at a random moment, finished on node 2.
on 1 "(ssi-wl-counter /cluster/count.txt 60 100 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
sleep $((1 + RANDOM % 3))
move ssi-wl-counter /cluster/counter.img 1 2
wait_on 60 2 'grep -q status= /tmp/ssi-wl-counter.status'
expect_eq "restarted counter's exit status seen by its parent" "$(on 2 cat /tmp/ssi-wl-counter.status)" "status=0"
expect_eq "counter lines" "$(on 1 "wc -l < /cluster/count.txt")" 60
expect_eq "every number once, in order" "$(on 1 "awk '\$1 != NR {print NR; exit}' /cluster/count.txt")" ""

# Memory and FPU, 128 MiB: node 1 -> node 2 through krpc (`restart --node
# 2`, asked on node 1), then back to node 1 from its shell.
host_reference memfpu.ref ssi-wl-memfpu 128 12 0
on 1 "(ssi-wl-memfpu 128 12 300 < /dev/null > /cluster/memfpu.out 2>&1 &)"
wait_on 120 1 'grep -q "iter 3 " /cluster/memfpu.out'
pid=$(on 1 pgrep-here -x ssi-wl-memfpu)
started=$(on 1 "date -d \"\$(ps -o lstart= -p $pid)\" +%s")
on_timeout 120 1 "ssi-ctl checkpoint $pid --kill -o /cluster/memfpu-a.img" > /dev/null
wait_on 10 1 "! kill -0 $pid 2>/dev/null"
out=$(on_timeout 120 1 "ssi-ctl restart --node 2 /cluster/memfpu-a.img 2>&1; echo status=\$?")
expect_match "restart --node 2 says where it runs" "$out" "on node 2 as pid [0-9]+"
expect_match "restart --node 2 status" "$out" "status=0"
rpid=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
expect_eq "the process named runs on node 2" "$(on 2 "cat /proc/$rpid/comm")" ssi-wl-memfpu
expect_eq "it is not on node 1" "$(on 1 'pgrep-here -x ssi-wl-memfpu; true')" ""
wait_on 120 2 'grep -q "iter 7 " /cluster/memfpu.out'
# Restored (it runs on): its identity is its own, not the restart program's.
expect_eq "its /proc/PID/exe is its own program, not ssi-ctl" "$(on 2 "readlink /proc/$rpid/exe")" "$(on 1 "command -v ssi-wl-memfpu")"
expect_eq "its command line is its own" "$(on 2 "tr '\\0' ' ' < /proc/$rpid/cmdline")" "ssi-wl-memfpu 128 12 300 "
# Its start time is its own (the image keeps it), not the restart's.
restarted=$(on 2 "date -d \"\$(ps -o lstart= -p $rpid)\" +%s")
log "started at $started on node 1, listed as started at $restarted on node 2 ($(on 2 'date +%s') now)"
expect_eq "its start time is its own, within 2 s" "$(( (restarted - started) * (restarted - started) <= 4 ))" 1
move ssi-wl-memfpu /cluster/memfpu-b.img 2 1
wait_on 240 1 'grep -q status= /tmp/ssi-wl-memfpu.status'
expect_eq "memfpu exit status" "$(on 1 cat /tmp/ssi-wl-memfpu.status)" "status=0"
expect_eq "memfpu output after two moves" "$(on 1 cat /cluster/memfpu.out)" "$(on 1 cat /cluster/memfpu.ref)"

# Signals and timers: SIGALRM every 50 ms on an altstack, SIGUSR1 pending
# and blocked throughout.
on 1 "ssi-wl-sigtimer 60 < /dev/null > /cluster/sig.ref"
on 1 "(ssi-wl-sigtimer 60 < /dev/null > /cluster/sig.out 2>&1 &)"
wait_on 30 1 'grep -q "tick 10" /cluster/sig.out'
move ssi-wl-sigtimer /cluster/sig.img 1 2
wait_on 60 2 'grep -q status= /tmp/ssi-wl-sigtimer.status'
expect_eq "sigtimer exit status" "$(on 2 cat /tmp/ssi-wl-sigtimer.status)" "status=0"
expect_eq "sigtimer output" "$(on 2 cat /cluster/sig.out)" "$(on 2 cat /cluster/sig.ref)"

# Five threads, each with its own TLS counter and signal mask, killed on
# node 1 and restarted on node 2: every thread ends with its full count and
# its mask intact, as in an uninterrupted run.
on 1 "ssi-wl-threads 4 300 10 < /dev/null > /cluster/threads.ref"
on 1 "(ssi-wl-threads 4 300 10 < /dev/null > /cluster/threads.out 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-threads > /dev/null'
sleep 1
move ssi-wl-threads /cluster/threads.img 1 2
expect_match "the image holds 5 threads" "$(on 2 ssi-ctl image /cluster/threads.img --json)" '"threads":5'
wait_on 120 2 'grep -q status= /tmp/ssi-wl-threads.status'
expect_eq "threads exit status" "$(on 2 cat /tmp/ssi-wl-threads.status)" "status=0"
expect_eq "threads output" "$(on 2 cat /cluster/threads.out)" "$(on 2 cat /cluster/threads.ref)"

# A sequential reader resumes at its offset; a private mapping keeps its
# modifications (and the file stays unmodified).
on 1 "ssi-wl-mkfile /cluster/input.bin 1 7 > /dev/null"
on 1 "ssi-wl-reader /cluster/input.bin 20 < /dev/null > /cluster/reader.ref"
on 1 "(ssi-wl-reader /cluster/input.bin 20 < /dev/null > /cluster/reader.out 2>&1 &)"
wait_on 30 1 'grep -q "chunk 40 " /cluster/reader.out'
move ssi-wl-reader /cluster/reader.img 1 2
wait_on 120 2 'grep -q status= /tmp/ssi-wl-reader.status'
expect_eq "reader output" "$(on 2 cat /cluster/reader.out)" "$(on 2 cat /cluster/reader.ref)"
on 1 "ssi-wl-mkfile /cluster/map.bin 1 9 > /dev/null"
on 1 "ssi-wl-privmap /cluster/map.bin 30 100 < /dev/null > /cluster/privmap.ref"
on 1 "(ssi-wl-privmap /cluster/map.bin 30 100 < /dev/null > /cluster/privmap.out 2>&1 &)"
wait_on 30 1 'grep -q "round 10 " /cluster/privmap.out'
move ssi-wl-privmap /cluster/privmap.img 1 2
wait_on 60 2 'grep -q status= /tmp/ssi-wl-privmap.status'
expect_eq "privmap output" "$(on 2 cat /cluster/privmap.out)" "$(on 2 cat /cluster/privmap.ref)"
expect_match "privmap kept its changes, file untouched" "$(on 2 cat /cluster/privmap.out)" 'privmap ok file_unchanged=1'

# A restart refuses an image whose mapped file or executable changed since
# the checkpoint (size or mtime), naming it; nothing runs.
on 1 "touch /cluster/map.bin"
out=$(on 2 "ssi-ctl restart --check /cluster/privmap.img 2>&1; echo status=\$?")
expect_match "changed mapped file refused" "$out" "/cluster/map.bin changed since the checkpoint"
expect_match "changed mapped file exit status" "$out" "status=1"
on 1 "mkdir -p /cluster/wl && cp /opt/ssi/bin/ssi-wl-counter /cluster/wl/"
on 1 "(/cluster/wl/ssi-wl-counter /cluster/exe.txt 100000 100 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
epid=$(on 1 pgrep-here -x ssi-wl-counter)
on 1 "ssi-ctl checkpoint $epid --kill -o /cluster/exe.img" > /dev/null
wait_on 10 1 "! kill -0 $epid 2>/dev/null"
on 1 "sleep 1; cp /opt/ssi/bin/ssi-wl-counter /cluster/wl/new && mv /cluster/wl/new /cluster/wl/ssi-wl-counter"
out=$(on 2 "cd /tmp && ssi-ctl restart /cluster/exe.img 2>&1; echo status=\$?")
expect_match "changed executable refused" "$out" "/cluster/wl/ssi-wl-counter changed since the checkpoint"
expect_match "changed executable exit status" "$out" "status=1"
expect_eq "nothing runs after the refusal" "$(on 2 'pgrep-here -x ssi-wl-counter; true')" ""

# Remote refusals come back with their reason: a process holding a file in
# node 1's own /tmp cannot be restarted on node 2 (the restart is refused
# there, the process on node 1 goes on); an unknown node is named.
on 1 "(ssi-wl-counter /tmp/local.txt 100000 100 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
lpid=$(on 1 pgrep-here -x ssi-wl-counter)
on 1 "ssi-ctl checkpoint $lpid -o /cluster/local.img" > /dev/null
out=$(on 1 "ssi-ctl restart --node 2 /cluster/local.img 2>&1; echo status=\$?")
expect_match "node 2's reason comes back" "$out" "node 2: .*/tmp/local.txt"
expect_match "remote refusal exit status" "$out" "status=1"
expect_eq "nothing restarted on node 2" "$(on 2 'pgrep-here -x ssi-wl-counter; true')" ""
out=$(on 1 "ssi-ctl restart --node 9 /cluster/local.img 2>&1; echo status=\$?")
expect_match "unknown node" "$out" "node 9 is not connected"
out=$(on 1 "cd /tmp && $(user 1000) ssi-ctl restart --node 2 /cluster/local.img 2>&1; echo status=\$?")
expect_match "another user's restart --node refused" "$out" "status=4"
on 1 "kill $lpid"

# Terminal settings: a process on a terminal (script(1)'s pty) with
# -echo -icanon min 7 keeps them when restarted on another terminal.
on 1 "(sleep 600 | script -qfc 'stty -echo -icanon min 7; exec ssi-wl-counter /cluster/tty.txt 100000 100' /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
tpid=$(on 1 pgrep-here -x ssi-wl-counter)
expect_match "settings before" "$(on 1 "stty -a -F \$(readlink /proc/$tpid/fd/0)")" "min = 7"
on 1 "ssi-ctl checkpoint $tpid --kill -o /cluster/tty.img" > /dev/null
on 2 "(sleep 600 | script -qfc 'ssi-ctl restart /cluster/tty.img' /dev/null > /dev/null 2>&1 &)"
wait_on 30 2 'pgrep-here -x ssi-wl-counter > /dev/null'
tpid=$(on 2 pgrep-here -x ssi-wl-counter)
settings=$(on 2 "stty -a -F \$(readlink /proc/$tpid/fd/0)")
expect_match "restored on node 2's terminal: min" "$settings" "min = 7"
expect_match "restored: -icanon" "$settings" "-icanon"
expect_match "restored: -echo" "$settings" " -echo "
on 2 "pkill -x ssi-wl-counter; pkill -x sleep; true"
on 1 "pkill -x sleep; true"

# Another user may not restart root's image.
out=$(on 2 "cd /tmp && $(user 1000) ssi-ctl restart /cluster/counter.img 2>&1; echo status=\$?")
expect_match "another user cannot read a 0600 image" "$out" 'permission denied on /cluster/counter.img'
expect_match "its exit status" "$out" 'status=4'
on 2 "cp /cluster/counter.img /tmp/open.img && chmod 644 /tmp/open.img"
out=$(on 2 "cd /tmp && $(user 1000) ssi-ctl restart /tmp/open.img 2>&1; echo status=\$?")
expect_match "other user's restart refused" "$out" 'only root or the image.s owner'
expect_match "refusal exit status" "$out" 'status=4'
out=$(on 2 "cd /tmp && $(user 1000) ssi-ctl restart --check /tmp/open.img 2>&1; echo status=\$?")
expect_match "other user's check refused in the kernel" "$out" 'status=4'
expect_match "root may check it" "$(on 2 ssi-ctl restart --check /cluster/counter.img)" 'can restart it'

# 1000 damaged images: flips (mostly in the metadata) and truncations, all
# refused by the module's own reading of the image.
"$SSI_TOP/qemu-tests/tools/damage-images.py" "$(cluster_dir)/counter.img" "$(cluster_dir)/bad" 1000 21
on_timeout 600 2 'ssi-ctl restart --check /cluster/bad/*.img > /tmp/bad-checks.out; true'
expect_eq "damaged images accepted by the module" "$(on 2 'grep -c "can restart it" /tmp/bad-checks.out; true')" "0"
expect_eq "damaged images checked" "$(on 2 'wc -l < /tmp/bad-checks.out')" 1000
