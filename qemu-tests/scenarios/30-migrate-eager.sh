# ssi-nodes: 3
# ssi-timeout: 1200
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
