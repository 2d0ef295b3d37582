# ssi-nodes: 3
# ssi-timeout: 900
# Eager live migration (issue 5): running, unmodified processes move
# between nodes with `ssi-ctl migrate PID NODE` and go on there, while a
# deputy keeps their place at home: the home shell's `wait` gets the real
# exit status, `kill -TERM` on the home pid reaches the handler, a pipe on
# the home node gets every line once, in order; a counter on /cluster keeps
# every number once; the memory-and-FPU workload (128 MiB) moves over
# A -> B -> C and gives an uninterrupted run's output; a destination that
# dies or whose link goes down during the migration leaves the process
# running, once, on the source.
. "$1/lib/migrate.sh"
migrate_suite eager

# Five threads (each with its own TLS counter and signal mask) move 1 -> 2
# -> 3 and end there; every thread ends with its full count and its mask
# intact, as in an uninterrupted run, and the home shell sees status 0.
# Coming back home is refused for now, with a reason, and does no harm.
host_reference threads.ref ssi-wl-threads 4 1500 1
on 1 "(ssi-wl-threads 4 1500 10 < /dev/null > /cluster/threads.out 2>&1; echo status=\$? > /tmp/threads.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-threads > /dev/null'
sleep 1
tpid=$(on 1 pgrep-here -x ssi-wl-threads)
out=$(on 1 "ssi-ctl migrate $tpid 2 2>&1; echo rc=\$?")
expect_match "threads migrate 1 -> 2" "$out" "rc=0"
t2=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
# Node 2 rebuilt it while its image came, not after the hand-over.
expect_match "restored as the image arrived" "$(on 2 "dmesg | grep 'pid $t2: restored for a migration'")" \
  "rebuilt as its image came in [0-9]+ us, waited for the hand-over [0-9]+ us, resumed in [0-9]+ us"
expect_eq "five threads on node 2" "$(on 2 "ls /proc/$t2/task | wc -l")" 5
# One thread stays as the deputy (a leader that ended is a zombie thread).
wait_on 30 1 "[ \$(awk '/^State/ && \$2 != \"Z\"' /proc/$tpid/task/*/status | wc -l) = 1 ]"
expect_match "not back home yet" "$(on 2 "ssi-ctl migrate $t2 1 2>&1; true")" "cannot come back"
out=$(on 2 "ssi-ctl migrate $t2 3 2>&1; echo rc=\$?")
expect_match "threads migrate 2 -> 3" "$out" "rc=0"
wait_on 120 1 'test -s /tmp/threads.status'
expect_eq "threads exit status at home" "$(on 1 cat /tmp/threads.status)" "status=0"
expect_eq "threads output" "$(on 1 cat /cluster/threads.out)" "$(on 1 cat /cluster/threads.ref)"
