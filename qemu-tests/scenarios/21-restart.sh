# ssi-nodes: 2
# Restart: a counter checkpointed with --kill on node 1 goes on from where
# it stopped on node 2 (every number once, in order, to the end); the
# memory-and-FPU workload restarted across nodes gives an uninterrupted
# run's output; the parent of the restart gets the exit status.
wait_view 60 "1 2" 1 2
on 1 "(ssi-wl-counter /cluster/count.txt 60 100 < /dev/null > /dev/null 2>&1 &)"
wait_on 20 1 'pgrep -x ssi-wl-counter > /dev/null'
sleep 2
pid=$(on 1 pgrep -x ssi-wl-counter)
on 1 "ssi-ctl checkpoint $pid --kill -o /cluster/counter.img"
wait_on 10 1 "! kill -0 $pid 2>/dev/null"
n=$(on 1 "wc -l < /cluster/count.txt")
on 2 "cd /tmp && (ssi-ctl restart /cluster/counter.img < /dev/null > /tmp/restart.out 2>&1; echo status=\$? >> /tmp/restart.out) &"
wait_on 60 2 'grep -q status= /tmp/restart.out'
on 2 cat /tmp/restart.out
expect_match "restarted counter exit status" "$(on 2 cat /tmp/restart.out)" 'status=0'
expect_eq "counter lines" "$(on 1 "wc -l < /cluster/count.txt")" 60
expect_eq "every number once, in order" "$(on 1 "awk '\$1 != NR {print NR; exit}' /cluster/count.txt")" ""
[ "$n" -lt 60 ] || fail "the counter had finished before its checkpoint ($n lines)"
