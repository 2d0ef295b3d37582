# make bench-balance: the scheduler against the best a 2-CPU cluster could
# do (issue 21). Two nodes of one vCPU each (no host overcommit on a
# 2-core host); a batch of 8 CPU-bound jobs of known, unequal work
# (ssi-wl-spin) started on node 1 by one shell that waits for them. The
# batch runs four times: balancing off, exec-time placement only
# (least_loaded), dynamic balancing only, and both. Prints each makespan
# next to the lower bound LB = max(total work / 2, longest job), with the
# migrations per job, the bounces (a job back on a node it left) and the
# freeze per migration. Asserts nothing about speed.
# ssi-nodes: 2
# ssi-timeout: 3000
wait_view 90 "1 2" 1 2
# Jobs in units of the smallest one; the smallest runs about $base_s s.
shape=(3 5 7 9 11 13 15 17)
base_s=${SSI_BENCH_BASE_S:-3}

# The harness's own commands stay where they are typed.
for n in 1 2; do on $n "ssi-ctl pin \$(pgrep -x ssi-agent | head -1)" > /dev/null; done

# Speed: units of ssi-wl-spin per second on node 1, alone.
cal=2000
t0=$(on 1 "s=\$(date +%s%N); ssi-wl-spin $cal > /dev/null; e=\$(date +%s%N); echo \$(( (e - s) / 1000000 ))")
per_s=$(( cal * 1000 / t0 ))
unit=$(( per_s * base_s / ${shape[0]} ))
log "ssi-wl-spin: $per_s units/s alone on node 1; a job unit is $unit units"
units=() total_ms=0 longest_ms=0
for k in "${shape[@]}"; do
  units+=($(( k * unit )))
  ms=$(( k * unit * 1000 / per_s ))
  total_ms=$(( total_ms + ms ))
  [ $ms -gt $longest_ms ] && longest_ms=$ms
done
lb_ms=$(( total_ms / 2 > longest_ms ? total_ms / 2 : longest_ms ))
# What the jobs print, computed on the host (the same binary).
expected=$(for u in "${units[@]}"; do "$SSI_NODE_DIR/bin/ssi-wl-spin" "$u"; done | sort | md5sum | cut -c1-12)

# run_batch NAME: the batch on node 1, timed by its shell; prints the
# makespan in ms. Checks every job's output.
run_batch() {
  local name=$1
  on 1 "rm -f /cluster/bb-*; dmesg -C" > /dev/null
  on 2 "dmesg -C" > /dev/null
  on 1 "(sh -c 's=\$(date +%s%N); i=0; for u in ${units[*]}; do i=\$((i + 1)); ssi-wl-spin \$u > /cluster/bb-\$i.out & done; wait; e=\$(date +%s%N); echo \$(( (e - s) / 1000000 )) > /cluster/bb-makespan' < /dev/null > /dev/null 2>&1 &)"
  wait_on $(( lb_ms * 4 / 1000 + 120 )) 1 "test -s /cluster/bb-makespan"
  local got
  got=$(on 1 "cat /cluster/bb-*.out | sort | md5sum" | cut -c1-12)
  [ "$got" = "$expected" ] || fail "$name: the jobs' output differs from a run without the scheduler"
  on 1 "cat /cluster/bb-makespan"
}

# moves: "migrations per job, bounces, average freeze ms" of the last run,
# from both nodes' logs.
moves() {
  local log
  log=$( { on 1 "dmesg"; on 2 "dmesg"; } | grep -E 'scheduler: (moving|placing) pid|: migrated to node .*frozen' )
  awk '
    /scheduler: (moving|placing) pid/ {
      for (i = 1; i <= NF; i++) if ($i == "pid") pid = $(i + 1)
      for (i = 1; i <= NF; i++) if ($i == "node") to = $(i + 1) + 0
      n[pid]++; moves++
      if ((pid, to) in left) bounces++
    }
    /: migrated to node .*frozen/ {
      for (i = 1; i <= NF; i++) if ($i == "frozen") { frozen += $(i + 1); f++ }
    }
    END {
      printf "%.2f %d %.0f", moves / 8, bounces + 0, f ? frozen / f / 1000 : 0
    }' <<<"$log"
}

declare -A span per_job bounces freeze
variant() { # NAME SCHEDULERS...
  local name=$1; shift
  on 1 "ssi-ctl scheduler remove balance 2>/dev/null; ssi-ctl scheduler remove place 2>/dev/null; true" > /dev/null
  local s
  for s in "$@"; do
    case $s in
      place) on 1 "ssi-ctl scheduler add place least_loaded" > /dev/null ;;
      balance) on 1 "ssi-ctl scheduler add balance balance" > /dev/null ;;
    esac
  done
  sleep 3
  span[$name]=$(run_batch "$name")
  read -r per_job[$name] bounces[$name] freeze[$name] <<<"$(moves)"
  log "$name: makespan ${span[$name]} ms, LB $lb_ms ms"
}
variant off
variant place place
variant dynamic balance
variant both place balance

{
  echo
  echo "scheduler benchmark (2 nodes x 1 vCPU, qemu TCG, $(date +%F)): 8 jobs of ${shape[*]} x $unit units started on node 1"
  printf '%-28s %12s %10s %8s %12s %8s %12s\n' variant makespan_ms LB_ms ratio moves/job bounces freeze_ms
  for v in off place dynamic both; do
    printf '%-28s %12s %10s %8s %12s %8s %12s\n' "$v" "${span[$v]}" "$lb_ms" \
      "$(awk -v a="${span[$v]}" -v b="$lb_ms" 'BEGIN { printf "%.2f", a / b }')" "${per_job[$v]}" "${bounces[$v]}" "${freeze[$v]}"
  done
  echo "(LB = max(total work / 2 CPUs, longest job), from each job's units at node 1's speed alone;"
  echo " target: both <= 1.15 x LB, no bounce)"
} | tee "$SSI_RUN/bench-balance.txt" >&2
