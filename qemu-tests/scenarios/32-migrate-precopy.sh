# ssi-nodes: 3
# ssi-timeout: 900
# Pre-copy live migration (issue 5): the destination rebuilds the process
# from a description without memory, then the address space goes while the
# process runs, then rounds of the pages it dirtied (soft-dirty bits), all
# written into the process rebuilt ahead as they come; then the freeze for
# the rest. The same tests as 30-migrate-eager (qemu-tests/lib/migrate.sh);
# the memory-and-FPU workload keeps rewriting its 128 MiB between rounds, so
# a stale page would change its output; node 1 must log two rounds or more
# for it, each with bytes, the first 64 MiB or more, and its record count
# them. Then the prepared hand-over's
# cases (handover_suite): a process whose state moves on, whose layout
# changes, which drops pages, which renames itself.
. "$1/lib/migrate.sh"
migrate_suite precopy
handover_suite precopy
