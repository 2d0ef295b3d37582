# krpc request/reply: round trips and one-way streams to a peer work; senders
# sharing a connection queue behind each other (back-pressure, order kept);
# every node measures the RTT to each peer; configfs shows the node table; a
# call to a node with no connection fails at once; a peer that dies fails
# its outstanding calls promptly; no waiter is left behind.
# ssi-timeout: 300
# ssi-cluster: net3
wait_view 60 "1 2 3" 1 2 3
b=/sys/kernel/config/ssi/bench
on 1 "echo 'echo 2 64 200' > $b"
out=$(on 1 cat $b)
expect_match "echo run" "$out" 'completed: 200'
expect_match "echo run error" "$out" 'error: 0'
on 1 "echo 'stream 3 65536 40' > $b"
out=$(on 1 cat $b)
expect_match "stream run" "$out" 'completed: 40'
expect_match "stream run error" "$out" 'error: 0'
# Three senders of 1 MiB frames share node 1's connection to node 2: they
# wait for room in its send queue, every frame arrives, in order (a frame
# out of sequence would end the connection and fail the runs).
peer_col() { on "$1" "awk '\$1==$2 {print \$$3}' /proc/ssi/peers"; }
rx_before=$(peer_col 2 1 4)
on 1 "rm -f /tmp/streams.out; for i in 1 2 3; do (echo 'stream 2 1048576 30' > $b; echo done=\$?) >> /tmp/streams.out 2>&1 & done; wait"
expect_eq "concurrent streams that completed" "$(on 1 grep -c done=0 /tmp/streams.out)" 3
expect_match "senders waited for room in the send queue" "$(peer_col 1 2 9)" '^[1-9][0-9]*$'
rx_after=$(peer_col 2 1 4)
[ $((rx_after - rx_before)) -ge 90 ] || fail "node 2 got $((rx_after - rx_before)) frames from node 1, expected at least 90"
expect_eq "handler errors on node 2" "$(krpc_stat 2 handler_errors)" 0
# RTT probes: every node has a round-trip time to both peers.
for n in 1 2 3; do
  wait_on 30 "$n" "[ \$(awk 'NR>1 && \$11>0' /proc/ssi/peers | wc -l) -eq 2 ]"
done
out=$(on 3 ssi-ctl stats)
expect_match "ssi-ctl stats shows the peers' RTT" "$out" 'RTT us'
expect_match "ssi-ctl stats --json has peers" "$(on 3 ssi-ctl stats --json)" '"peers":\[\{"id":[12],.*"rtt_avg_us":[1-9]'
# The read-only node table in configfs.
out=$(on 2 cat /sys/kernel/config/ssi/nodes)
expect_eq "alive nodes in configfs" "$(printf '%s\n' "$out" | awk 'NR>1 && $4=="alive"' | wc -l)" 3
out=$(on 2 "(/bin/echo 1 > /sys/kernel/config/ssi/nodes) 2>&1; echo status=\$?")
expect_match "configfs node table is read-only" "$out" 'Permission denied'
out=$(on 1 "(/bin/echo 'echo 9 64 1' > $b) 2>&1; echo status=\$?")
expect_match "call to an unknown node" "$out" 'not connected'
# A long run towards node 3, which then dies.
on 1 "(/bin/echo 'echo 3 64 1000000' > $b; echo exit=\$?) > /tmp/bench.out 2>&1 &"
sleep 3
node_kill 3
dead=$(on 1 cat /sys/kernel/config/ssi/dead_after_ms)
wait_on $((dead / 1000 + 15)) 1 'grep -q exit= /tmp/bench.out'
out=$(on 1 "cat /tmp/bench.out $b")
expect_match "the caller's error" "$out" 'Connection reset|timed out'
expect_match "the run stopped early" "$out" 'error: -(104|110)'
expect_eq "calls left waiting" "$(krpc_stat 1 calls_in_flight)" 0
# The survivors still talk.
on 1 "echo 'echo 2 64 50' > $b"
expect_match "echo after the death" "$(on 1 cat $b)" 'completed: 50'
