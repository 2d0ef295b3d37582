# make bench-proc: the cluster-wide process listing against a local one of
# the same size, in the same VMs and the same run (issue 20). Prints each
# pair and the ratio; asserts nothing about speed.
#   ps -e and top -b -n 1 on node 1: 200 processes on each of 4 nodes
#     (600 of them remote, in /proc through the module) vs 800 on node 1
#   ps -e when the view has expired (each ps waits for one ProcList round
#     to every other node) and within the default 1 s view
#   kill -0 of a process on node 2 from node 3 (the shell's builtin, 100
#     in a loop, less the loop's own time) vs a krpc round trip
# ssi-nodes: 4
# ssi-timeout: 1800
wait_view 90 "1 2 3 4" 1 2 3 4
per_node=${SSI_BENCH_PROCS:-200}
runs=${SSI_BENCH_RUNS:-10}

# start N NODE: N sleeping processes on NODE, named procbench.
start() { on "$2" "cp /bin/sleep /tmp/procbench; for i in \$(seq $1); do (/tmp/procbench 3600 < /dev/null > /dev/null 2>&1 &); done"; }
stop_all() { for n in 1 2 3 4; do on $n "pkill -x procbench; true"; done; }
# avg_ms NODE CMD: the average wall time of CMD over $runs runs, in ms.
avg_ms() {
  on "$1" "s=\$(date +%s%N); for i in \$(seq $runs); do $2 > /dev/null; done; e=\$(date +%s%N); echo \$(( (e - s) / $runs / 1000 ))" |
    awk '{printf "%.1f", $1 / 1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
count_on_1() { on 1 "ps -e -o comm= | grep -c '^procbench\$'"; }

for n in 1 2 3 4; do start "$per_node" $n; done
wait_on 120 1 "[ \$(ps -e -o comm= | grep -c '^procbench\$') -ge $((4 * per_node)) ]"
seen=$(count_on_1)
ps_spread=$(avg_ms 1 "ps -e")
top_spread=$(avg_ms 1 "top -b -n 1")
# Each run after the view expired: the sleep is outside the timing.
ps_fresh=$(on 1 "t=0; for i in \$(seq $runs); do sleep 1.2; s=\$(date +%s%N); ps -e > /dev/null; t=\$(( t + \$(date +%s%N) - s )); done; echo \$(( t / $runs / 1000 ))" |
  awk '{printf "%.1f", $1 / 1000}')
pid2=$(on 2 "pgrep -x procbench | head -1")
# kill -0 is the shell's builtin: 100 of them in one loop, less the same
# loop running `true`, is the time of one kill(2).
loop_us() { on "$1" "s=\$(date +%s%N); for i in \$(seq 100); do $2; done; e=\$(date +%s%N); echo \$(( (e - s) / 100000 ))"; }
empty_3=$(loop_us 3 true)
kill_remote=$(awk -v a="$(loop_us 3 "kill -0 $pid2")" -v b="$empty_3" 'BEGIN { printf "%.3f", (a - b) / 1000 }')
b=/sys/kernel/config/ssi/bench
rtt=$(on 3 "echo 'echo 2 64 200' > $b && sed -n 's/^avg_ns: //p' $b" | awk '{printf "%.3f", $1 / 1000000}')

stop_all
start $((4 * per_node)) 1
wait_on 120 1 "[ \$(ps -e -o comm= | grep -c '^procbench\$') -ge $((4 * per_node)) ]"
ps_local=$(avg_ms 1 "ps -e")
top_local=$(avg_ms 1 "top -b -n 1")
stop_all
{
  echo
  echo "process listing benchmark (4 nodes, qemu TCG, $(date +%F)): $seen of $((4 * per_node)) listed on node 1"
  printf '%-44s %12s %12s %8s\n' measure cluster local ratio
  printf '%-44s %12s %12s %8s\n' "ps -e, ${per_node}x4 vs $((4 * per_node)) local (ms)" "$ps_spread" "$ps_local" "$(ratio "$ps_spread" "$ps_local")"
  printf '%-44s %12s %12s %8s\n' "ps -e, view expired: fetched first (ms)" "$ps_fresh" "$ps_local" "$(ratio "$ps_fresh" "$ps_local")"
  printf '%-44s %12s %12s %8s\n' "top -b -n 1, ${per_node}x4 vs $((4 * per_node)) local (ms)" "$top_spread" "$top_local" "$(ratio "$top_spread" "$top_local")"
  printf '%-44s %12s %12s %8s\n' "kill -0 from node 3 vs krpc round trip (ms)" "$kill_remote" "$rtt" "$(ratio "$kill_remote" "$rtt")"
  echo "(lower is better; targets: listing ratio <= 1.5, kill <= 2 x the krpc round trip;"
  echo " listing times are whole commands, process start included, averaged over $runs runs;"
  echo " kill times are one kill(2) of the shell's builtin kill)"
} | tee "$SSI_RUN/bench-proc.txt" >&2
