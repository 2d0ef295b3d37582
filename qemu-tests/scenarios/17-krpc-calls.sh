# krpc request/reply: round trips and one-way streams to a peer work; a call
# to a node with no connection fails at once; a peer that dies fails its
# outstanding calls promptly; no waiter is left behind.
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
