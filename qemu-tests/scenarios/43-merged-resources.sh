# ssi-nodes: 3
# ssi-cluster: procs
# ssi-timeout: 300
# Merged resources (issue 20): on a node in the cluster, /proc/meminfo,
# /proc/stat, /proc/cpuinfo and /proc/loadavg describe the whole cluster,
# so unmodified free, top and vmstat show it; /proc/ssi/local_* keep each
# node's own; nproc and /proc/uptime stay local; configfs merged_proc
# turns the merged files off and on again.
wait_view 90 "1 2 3" 1 2 3
cfg=/sys/kernel/config/ssi

# Each node's own values.
declare -A mem cpus
total_mem=0
total_cpus=0
for n in 1 2 3; do
  mem[$n]=$(on $n "awk '/^MemTotal:/ {print \$2}' /proc/ssi/local_meminfo")
  cpus[$n]=$(on $n "nproc")
  expect_match "node $n: local MemTotal" "${mem[$n]}" '^[0-9]+$'
  expect_eq "node $n: local_stat has one cpuN line per CPU" \
    "$(on $n "grep -c '^cpu[0-9]' /proc/ssi/local_stat")" "${cpus[$n]}"
  expect_eq "node $n: local_cpuinfo has one processor per CPU" \
    "$(on $n "grep -c ^processor /proc/ssi/local_cpuinfo")" "${cpus[$n]}"
  expect_match "node $n: local_loadavg" "$(on $n "cat /proc/ssi/local_loadavg")" \
    '^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+/[0-9]+ [0-9]+$'
  total_mem=$(( total_mem + mem[$n] ))
  total_cpus=$(( total_cpus + cpus[$n] ))
done
log "cluster: $total_mem kB, $total_cpus CPUs"
expect_eq "merged_proc is on by default" "$(on 1 "cat $cfg/merged_proc")" 1

merged_checks() {
  expect_eq "node 1: MemTotal of /proc/meminfo is the cluster's" \
    "$(on 1 "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "$total_mem"
  expect_eq "node 1: free -k total is the cluster's" \
    "$(on 1 "free -k | awk '/^Mem:/ {print \$2}'")" "$total_mem"
  expect_eq "node 1: a cpuN line of /proc/stat per CPU of the cluster" \
    "$(on 1 "grep -c '^cpu[0-9]' /proc/stat")" "$total_cpus"
  expect_eq "node 1: a processor of /proc/cpuinfo per CPU of the cluster" \
    "$(on 1 "grep -c ^processor /proc/cpuinfo")" "$total_cpus"
  expect_match "node 1: /proc/loadavg" "$(on 1 "cat /proc/loadavg")" \
    '^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+/[0-9]+ [0-9]+$'
  # top shows MiB with one decimal: the cluster's total, to within rounding.
  local top_mib
  top_mib=$(on 1 "top -b -n 1 | head -5 | awk '/MiB Mem/ {print \$4}'")
  expect_match "node 1: top shows MiB Mem" "$top_mib" '^[0-9]+(\.[0-9])?$'
  expect_eq "node 1: top's MiB Mem total is the cluster's" \
    "$(awk -v t="$top_mib" -v k="$total_mem" 'BEGIN { d = t - k / 1024; print (d < 1 && d > -1) ? "yes" : "no" }')" yes
  on 1 "vmstat 1 2" > /dev/null || fail "node 1: vmstat 1 2 failed"
}
merged_checks
# The other nodes see the cluster too.
for n in 2 3; do
  expect_eq "node $n: MemTotal is the cluster's" \
    "$(on $n "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "$total_mem"
done

# What stays local: nproc (the CPUs this process may run on here) and the
# uptime (this node's boot clock).
expect_eq "node 1: nproc stays local" "$(on 1 nproc)" "${cpus[1]}"
up=$(on 1 "cut -d' ' -f1 /proc/uptime")
expect_match "node 1: /proc/uptime stays the kernel's" "$up" '^[0-9]+\.[0-9]{2}$'

# The switch: 0 gives the kernel's files back at the next read, 1 merges
# again.
on 1 "echo 0 > $cfg/merged_proc"
expect_eq "merged_proc off: MemTotal is node 1's" \
  "$(on 1 "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "${mem[1]}"
expect_eq "merged_proc off: free -k shows node 1's" \
  "$(on 1 "free -k | awk '/^Mem:/ {print \$2}'")" "${mem[1]}"
expect_eq "merged_proc off: node 1's CPUs in /proc/stat" \
  "$(on 1 "grep -c '^cpu[0-9]' /proc/stat")" "${cpus[1]}"
expect_eq "merged_proc off: node 1's CPUs in /proc/cpuinfo" \
  "$(on 1 "grep -c ^processor /proc/cpuinfo")" "${cpus[1]}"
on 1 "echo 1 > $cfg/merged_proc"
merged_checks

expect_match "node 1 answered NodeStats" "$(krpc_stat 1 nodestats_served)" '^[1-9][0-9]*$'
expect_eq "node 1: no node left out" "$(krpc_stat 1 nodestats_failed)" 0
log "merged resources: ok"
