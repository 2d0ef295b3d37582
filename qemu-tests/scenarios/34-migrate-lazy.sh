# ssi-nodes: 3
# ssi-timeout: 900
# Lazy live migration (issue 5): the process resumes at the destination
# with no anonymous memory and fetches each page when it first touches it,
# from the node that keeps them (docs/migration.md). The same tests as
# 30-migrate-eager (qemu-tests/lib/migrate.sh), where node 2's record of
# the memory-and-FPU workload must show its pages came only on demand
# (pushed 0, fetched > 0), the prepared hand-over's
# state (a read offset, written private file pages, a layout that changes
# while the image is on its way: handover_suite), then the failure that
# lazy (and post-copy) cannot survive: the node lending the memory dies
# after the resume. The process must end cleanly, killed, and its home
# shell must see that (SIGKILL: status 137); no node may log a kernel
# warning (checked by the harness on every console).
. "$1/lib/migrate.sh"
migrate_suite lazy

handover_suite lazy
lost_lender_test lazy
