# ssi-nodes: 2
# ssi-cluster: pair
# Checkpoint (capture side): a running process is saved to an image on the
# shared file system and goes on unharmed;
# --kill ends it after the image is written; images are 0600 and valid when
# read on another node; another user is refused (EPERM); a process holding
# a TCP socket is refused with a message naming it, and keeps running; a
# 5-thread process is checkpointed (every thread) and goes on to a correct
# end; damaged images are rejected by the reader.
# ssi-timeout: 600
wait_view 60 "1 2" 1 2
user() { echo "setpriv --reuid=$1 --regid=$1 --clear-groups"; }

# A counter appending to a file on /cluster, checkpointed three times.
on 1 "(ssi-wl-counter /cluster/count20.txt 100000 100 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-counter > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-counter)
for i in 1 2 3; do
  out=$(on 1 "ssi-ctl checkpoint $pid -o /cluster/counter-$i.img")
  expect_match "checkpoint $i" "$out" "checkpointed process $pid to /cluster/counter-$i.img"
done
expect_eq "image mode" "$(on 1 stat -c %a /cluster/counter-1.img)" 600
before=$(on 1 "wc -l < /cluster/count20.txt")
sleep 2
after=$(on 1 "wc -l < /cluster/count20.txt")
[ "$after" -gt "$before" ] || fail "the counter stopped after its checkpoints ($before -> $after lines)"
expect_eq "counter lines are 1..n in order" "$(on 1 "awk '\$1 != NR {print NR; exit}' /cluster/count20.txt")" ""
json=$(on 2 ssi-ctl image /cluster/counter-3.img --json)
expect_match "image read on node 2" "$json" "\"pid\":$pid,\"uid\":0,\"comm\":\"ssi-wl-counter\""
expect_match "image holds the counter file" "$json" '"fds":\[0,1,2,3\]'

# Another user may not checkpoint it.
out=$(on 1 "cd /tmp && $(user 1000) ssi-ctl checkpoint $pid -o /tmp/x.img 2>&1; echo status=\$?")
expect_match "other user refused" "$out" "only root or the owner of process $pid"
expect_match "other user's exit status" "$out" 'status=4'
# A user checkpoints its own process, not someone else's.
on 1 "$(user 1000) sh -c 'ssi-wl-counter /tmp/u.txt 100000 100 < /dev/null > /dev/null 2>&1 & echo \$! > /tmp/upid'"
upid=$(on 1 cat /tmp/upid)
out=$(on 1 "cd /tmp && $(user 1000) ssi-ctl checkpoint $upid -o /tmp/u.img")
expect_match "owner checkpoints its process" "$out" "checkpointed process $upid"
expect_eq "owner's image belongs to it, 0600" "$(on 1 stat -c %u:%a /tmp/u.img)" "1000:600"
out=$(on 1 "cd /tmp && $(user 1001) ssi-ctl checkpoint $upid -o /tmp/y.img 2>&1; echo status=\$?")
expect_match "a third user is refused" "$out" 'status=4'

# --kill: the image is written, then the process ends; the file keeps
# every number once, in order.
out=$(on 1 "ssi-ctl checkpoint $pid --kill -o /cluster/counter-kill.img")
expect_match "checkpoint --kill" "$out" 'process killed'
wait_on 10 1 "! kill -0 $pid 2>/dev/null"
expect_eq "counter lines after --kill" "$(on 1 "awk '\$1 != NR {print NR; exit}' /cluster/count20.txt")" ""
on 2 ssi-ctl image /cluster/counter-kill.img > /dev/null

# Refusals name the resource and leave the process running.
on 1 "(ssi-wl-tcphold 600 < /dev/null > /tmp/tcp.out 2>&1 &)"
wait_on 20 1 'grep -q listening /tmp/tcp.out'
tpid=$(on 1 pgrep-here -x ssi-wl-tcphold)
out=$(on 1 "ssi-ctl checkpoint $tpid -o /tmp/t.img 2>&1; echo status=\$?")
expect_match "socket refused" "$out" "fd [0-9]+ is a socket \(socket:\[[0-9]+\]\)"
expect_match "socket refusal status" "$out" 'status=1'
expect_eq "no image left behind" "$(on 1 "ls /tmp/t.img 2>/dev/null")" ""
n1=$(on 1 "grep -c alive /tmp/tcp.out || true")
sleep 2
n2=$(on 1 "grep -c alive /tmp/tcp.out || true")
[ "$n2" -gt "$n1" ] || fail "the socket holder stopped after the refusal"
on 1 "(ssi-wl-threads 4 200 10 < /dev/null > /tmp/th.out 2>&1 &)"
wait_on 20 1 'pgrep-here -x ssi-wl-threads > /dev/null'
out=$(on 1 "ssi-ctl checkpoint \$(pgrep-here -x ssi-wl-threads) -o /tmp/th.img 2>&1; echo status=\$?")
expect_match "5 threads checkpointed" "$out" 'status=0'
expect_match "the image holds 5 threads" "$(on 1 ssi-ctl image /tmp/th.img --json)" '"threads":5'
wait_on 120 1 'grep -q "threads done" /tmp/th.out'
expect_eq "threads went on unharmed" "$(on 1 'grep -c "count 200 mask_ok=1" /tmp/th.out')" 4

out=$(on 1 "sh -c 'exec ssi-ctl checkpoint \$\$ -o /tmp/self.img' 2>&1; echo status=\$?")
expect_match "a process cannot checkpoint itself" "$out" 'cannot checkpoint or migrate itself'

# Memory and FPU: checkpoints taken while it runs do not change its result.
on 1 "ssi-wl-memfpu 16 20 300 < /dev/null > /tmp/ref.out"
on 1 "(ssi-wl-memfpu 16 20 300 < /dev/null > /tmp/run.out 2>&1 &)"
wait_on 60 1 'grep -q "iter 1 " /tmp/run.out'
mpid=$(on 1 pgrep-here -x ssi-wl-memfpu)
for i in 1 2 3; do
  on 1 "ssi-ctl checkpoint $mpid -o /cluster/memfpu-$i.img > /dev/null" || fail "memfpu checkpoint $i"
  sleep 0.3
done
wait_on 120 1 'grep -q final /tmp/run.out'
expect_eq "memfpu result unchanged by checkpoints" "$(on 1 cat /tmp/run.out)" "$(on 1 cat /tmp/ref.out)"
json=$(on 2 ssi-ctl image /cluster/memfpu-1.img --json)
expect_match "memfpu image holds its 16 MiB" "$json" '"pages":(4[0-9]{3}|[5-9][0-9]{3})'

# Damaged images: 300 random flips and truncations, all rejected by
# `ssi-ctl image`, which reads an image in userspace only: the node's own
# binary runs on the host, where 300 runs take a second instead of a minute
# of emulation (the module's reading of damaged images is 21-restart's).
"$SSI_TOP/qemu-tests/tools/damage-images.py" "$(cluster_dir)/counter-1.img" "$(cluster_dir)/bad20" 300 20
out=$(ok=0; for f in "$(cluster_dir)"/bad20/*.img; do "$SSI_NODE_DIR/bin/ssi-ctl" image "$f" > /dev/null 2>&1 && ok=$((ok+1)); done; echo accepted=$ok)
expect_eq "damaged images accepted" "$out" "accepted=0"

# Leave nothing running for the next scenario of the pair.
on 1 "pkill -x ssi-wl-counter; pkill -x ssi-wl-tcphold; pkill -x ssi-wl-threads; pkill -x ssi-wl-memfpu; true"
wait_on 30 1 "! pgrep -x ssi-wl-counter && ! pgrep -x ssi-wl-tcphold && ! pgrep -x ssi-wl-threads && ! pgrep -x ssi-wl-memfpu"
