# ssi-nodes: 3
# ssi-timeout: 900
# Post-copy live migration (issue 5): the process resumes at the
# destination with no anonymous memory; a page server there fetches the
# pages it touches from the node that keeps them and pushes the rest in
# the background (docs/migration.md). The same tests as 30-migrate-eager
# (qemu-tests/lib/migrate.sh); the memory-and-FPU workload's output would
# change if a page came wrong, late or as zeros, and node 2's record of it
# must show pages pushed (pushed > 0, pushed + fetched >= its 128 MiB).
# Then the prepared
# hand-over's state (handover_suite: a read offset, written private file
# pages, a layout that changes while the image is on its way), and the
# node lending the memory dies during the push (lost_lender_test).
. "$1/lib/migrate.sh"
migrate_suite postcopy
# Every page came: the lenders let their memory go.
wait_on 30 1 "grep -qx 'lenders: 0' /proc/ssi/migrations"
wait_on 30 2 "grep -qx 'lenders: 0' /proc/ssi/migrations"
expect_match "node 2 logged that all pages came, pushed" "$(on 2 "dmesg | grep 'all pages of pid'")" \
  "all pages of pid [0-9]+ are here \\([1-9][0-9]* pushed, [0-9]+ fetched on demand\\)"
handover_suite postcopy
lost_lender_test postcopy
