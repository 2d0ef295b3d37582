# ssi-nodes: 3
# ssi-timeout: 900
# ssi-cluster: ha
# Incremental checkpoints (issue 22): a protected 32 MiB process that
# rewrites a sixteenth of its pages per iteration gets a full image, then
# increments about the size of what it dirtied (soft-dirty), each based on
# the one before (its Parent section names it, `ssi-ctl image` follows the
# chain), written where it runs (node 2). `ssi-ctl restart` of the newest
# image merges the chain too: that copy rewrites the same bytes. When the
# node running it dies, its home node restarts it from the whole chain,
# merged into one image: the output is the uninterrupted run's, byte for
# byte.
# Last of the `ha` group (after 54 and 55, which leave all three nodes
# up): it kills node 2 at its end.
wait_view 90 "1 2 3" 1 2 3

# A field of process PID's line in node 1's /proc/ssi/ha.
ha_field() { on 1 "sed -n 's/^process: pid=$1 .*\\b$2=\\([^ ]*\\).*/\\1/p' /proc/ssi/ha"; }

on 1 "rm -rf /cluster/ssi-ha"
expect_eq "a full image every 8 by default" "$(on 1 cat /sys/kernel/config/ssi/ha_full_every)" 8
host_reference memfpu55.ref ssi-wl-memfpu 32 25 0
on 1 "(ssi-wl-memfpu 32 25 1500 < /dev/null > /cluster/memfpu55.out 2>/dev/null; echo status=\$? > /tmp/m55.status) > /dev/null 2>&1 &"
wait_on 120 1 'grep -q "iter 1 " /cluster/memfpu55.out'
pid=$(on 1 pgrep-here -x ssi-wl-memfpu)
expect_match "migrated to node 2" "$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")" "rc=0"
on 1 "ssi-ctl ha on $pid --interval 3" > /dev/null
# Three images in one chain: a full one and two increments.
wait_on 120 1 "sed -n 's/^process: pid=$pid .*kept=\\([0-9,]*\\) .*/\\1/p' /proc/ssi/ha | grep -q '^[0-9]*,[0-9]*,[0-9]*'"
kept=$(ha_field "$pid" kept)
log "chain: $kept; $(on 1 "ls -l /cluster/ssi-ha/$pid")"
first=${kept%%,*}
rest=${kept#*,}
full=$(on 1 "stat -c %s /cluster/ssi-ha/$pid/$first.img")
expect_match "the first image holds the 32 MiB" "$full" '^[0-9]{8,}$'
[ "$full" -gt $((30 << 20)) ] || fail "the full image has only $full bytes"
for s in ${rest//,/ }; do
  size=$(on 1 "stat -c %s /cluster/ssi-ha/$pid/$s.img")
  [ "$size" -lt $((full / 2)) ] || fail "increment $s has $size bytes, the full image $full"
  expect_match "image $s names its parent" "$(on 1 "ssi-ctl image --json /cluster/ssi-ha/$pid/$s.img")" '"incremental": *true'
done
last=${kept##*,}
expect_match "ssi-ctl image follows the chain to its full image" \
  "$(on 1 "ssi-ctl image /cluster/ssi-ha/$pid/$last.img")" "chain: +/cluster/ssi-ha/$pid/$first.img: full image"
# ssi-ctl restart of the newest (incremental) image merges its chain: a
# second copy runs on node 1 from there, writing the same bytes into the
# same output file (its offset is the image's), and ends with status 0.
on 1 "(ssi-ctl restart /cluster/ssi-ha/$pid/$last.img < /dev/null > /dev/null 2> /tmp/m55r.err; echo status=\$? > /tmp/m55r.status) > /dev/null 2>&1 &"
wait_on 60 1 'grep -q "restarting from them merged" /tmp/m55r.err'
log "$(on 1 cat /tmp/m55r.err)"

expect_match "node 2 wrote them" "$(on 2 "grep checkpoints_for_others /proc/ssi/ha")" "checkpoints_for_others: [1-9]"
node_kill 2
wait_on 120 1 "[ \"\$(sed -n 's/^process: pid=$pid .*restarts=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" = 1 ]"
line=$(on 1 "dmesg | grep 'ha: process $pid restarted on node'")
log "$line"
expect_match "restarted on node 3 from a chain of images" "$line" "restarted on node 3 as pid $pid from .*\(([2-9]|1[0-6]) image\(s\) in its chain\)"
wait_on 400 1 'test -s /tmp/m55.status'
expect_eq "the home shell sees exit status 0" "$(on 1 cat /tmp/m55.status)" "status=0"
wait_on 300 1 'test -s /tmp/m55r.status'
expect_eq "the copy restarted by hand from the chain ends with status 0" "$(on 1 cat /tmp/m55r.status)" "status=0"
expect_eq "the output is the uninterrupted run's" "$(cmp "$(cluster_dir)/memfpu55.out" "$(cluster_dir)/memfpu55.ref" && echo same)" same
