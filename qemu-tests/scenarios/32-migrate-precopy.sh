# ssi-nodes: 3
# ssi-timeout: 1200
# Pre-copy live migration (issue 5): the address space goes while the
# process runs, then rounds of the pages it dirtied (soft-dirty bits),
# then the freeze for the rest. The same tests as 30-migrate-eager
# (qemu-tests/lib/migrate.sh); the memory-and-FPU workload keeps rewriting
# its 128 MiB between rounds, so a stale page would change its output.
. "$1/lib/migrate.sh"
migrate_suite precopy
