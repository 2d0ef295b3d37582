# ssi-nodes: 3
# ssi-timeout: 1500
# Lazy live migration (issue 5): the process resumes at the destination
# with no anonymous memory and fetches each page when it first touches it,
# from the node that keeps them (docs/migration.md). The same tests as
# 30-migrate-eager (qemu-tests/lib/migrate.sh), then the failure that
# lazy (and post-copy) cannot survive: the node lending the memory dies
# after the resume. The process must end cleanly, killed, and its home
# shell must see that (SIGKILL: status 137); no node may log a kernel
# warning (checked by the harness on every console).
. "$1/lib/migrate.sh"
migrate_suite lazy

# --- The lending node dies. Home 1 -> 2 (eager) -> 3 (lazy): node 2 keeps
# the memory; it is killed while node 3 still fetches (128 MiB, touched
# again and again).
on 1 "(ssi-wl-memfpu 128 1000 100 < /dev/null > /cluster/lost.out 2>/dev/null; echo status=\$? > /tmp/lost.status) > /dev/null 2>&1 &"
wait_on 120 1 'grep -q "iter 1 " /cluster/lost.out'
home=$(on 1 pgrep -x ssi-wl-memfpu)
out=$(on_timeout 300 1 "ssi-ctl migrate --strategy eager $home 2 2>&1; echo rc=\$?")
expect_match "eager hop to node 2" "$out" "rc=0"
p2=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
out=$(on_timeout 300 2 "ssi-ctl migrate --strategy lazy $p2 3 2>&1; echo rc=\$?")
expect_match "lazy hop to node 3" "$out" "rc=0"
p3=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
node_kill 2
wait_on 90 3 '! pgrep -x ssi-wl-memfpu > /dev/null'
expect_match "node 3 says why the process ended" "$(on 3 "dmesg | grep 'holds the memory of pid $p3\|could not give the pages'")" "pid $p3"
wait_on 90 1 'test -s /tmp/lost.status'
expect_eq "the home shell sees it killed" "$(on 1 cat /tmp/lost.status)" "status=137"
expect_match "home logs how it ended" "$(on 1 "dmesg | grep 'pid $home: the migrated process was killed by signal 9'")" "signal 9"
expect_eq "no deputy left at home" "$(on 1 "sed -n 's/^deputies: //p' /proc/ssi/migrations")" 0
