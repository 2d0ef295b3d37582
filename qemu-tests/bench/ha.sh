# make bench-ha: what protecting a process costs and how fast it comes
# back, next to criu in the same VMs, in the same run. Prints; asserts
# nothing about speed.
#   slowdown:  wall time of `ssi-wl-memfpu 256 ITER 0` (a 256 MiB process
#              that reads all of its memory and rewrites a sixteenth of
#              its pages per iteration) protected with checkpoints every
#              1, 5 and 30 s, over the same run unprotected
#   increment: a protected `ssi-wl-dirty 256 PERCENT 1000` (PERCENT % of
#              its pages written each second), checkpoints every 5 s: the
#              increment's size, freeze and write time, next to `criu
#              pre-dump --track-mem` of the same workload 5 s after a
#              first pre-dump (criu's increment), to the same file system
#   recovery:  a protected process on node 2, node 2 killed: the time from
#              the last lease renewal to the restart's start (detection
#              and fence), and the restart (merge, transfer, restore)
#   replicas:  `ssi-wl-sdc STEPS 20 MIB` (a computation that writes a line
#              per step, each depending on all of its MIB MiB) migrated to
#              node 2, its whole run: protected without replicas, and
#              with 2 and 3 copies compared at every line, over the same
#              run unprotected; the time the copies spent computing
#              digests and waiting for verdicts
# SSI_BENCH_PARTS (default all: "slowdown increment replicas recovery")
# runs only the parts named.
# ssi-nodes: 3
# ssi-timeout: 3600
parts=${SSI_BENCH_PARTS:-slowdown increment replicas recovery}
part() { [[ " $parts " == *" $1 "* ]]; }
inc_bytes=- inc_frozen_ms=- criu_bytes=- criu_ms=- full_bytes=- detect_ms=- restore_ms=-
iters=${SSI_BENCH_ITERS:-6}
percent=${SSI_BENCH_PERCENT:-2}
wait_view 90 "1 2 3" 1 2 3
on 1 "rm -rf /cluster/ssi-ha /cluster/bench-ha; mkdir -p /cluster/bench-ha"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
field() { on 1 "sed -n 's/^process: pid=$1 .*\\b$2=\\([^ ]*\\).*/\\1/p' /proc/ssi/ha"; }

# run_memfpu [INTERVAL]: wall time (ms) of the 256 MiB run, protected
# every INTERVAL s if given; the checkpoints written.
run_memfpu() {
  on 1 "rm -f /tmp/mf.*; (t0=\$(date +%s%N); ssi-wl-memfpu 256 $iters 0 < /dev/null > /tmp/mf.out 2>&1;
    echo \$(( (\$(date +%s%N) - t0) / 1000000 )) > /tmp/mf.ms) > /dev/null 2>&1 &"
  wait_on 60 1 'pgrep-here -x ssi-wl-memfpu > /dev/null'
  local pid written=0
  pid=$(on 1 pgrep-here -x ssi-wl-memfpu)
  [ -n "${1:-}" ] && on 1 "ssi-ctl ha on $pid --interval $1" > /dev/null
  while ! on 1 'test -s /tmp/mf.ms'; do
    [ -n "${1:-}" ] && written=$(field "$pid" written)
    sleep 1
  done
  echo "$(on 1 cat /tmp/mf.ms) ${written:-0}"
}

rows=()
if part slowdown; then
base=$(run_memfpu)
for interval in 1 5 30; do
  r=$(run_memfpu "$interval")
  rows+=("$(printf '%-9s %10s %10s %8s %12s' "${interval}s" "${r% *}" "${base% *}" "$(ratio "${r% *}" "${base% *}")" "${r#* }")")
done
fi

# --- Increments against criu pre-dump --track-mem.
if part increment; then
on 1 "(ssi-wl-dirty 256 $percent 1000 < /dev/null > /tmp/dirty.out 2>&1 &)"
wait_on 300 1 'grep -q ready /tmp/dirty.out'
pid=$(on 1 pgrep-here -x ssi-wl-dirty)
on 1 "ssi-ctl ha on $pid --interval 5" > /dev/null
wait_on 120 1 "sed -n 's/^process: pid=$pid .*kept=\\([0-9,]*\\) .*/\\1/p' /proc/ssi/ha | grep -q '^[0-9]*,[0-9]*,[0-9]*'"
line=$(on 1 "grep '^process: pid=$pid ' /proc/ssi/ha")
kept=$(sed -n 's/.*kept=\([0-9,]*\) .*/\1/p' <<<"$line")
full_bytes=$(on 1 "stat -c %s /cluster/ssi-ha/$pid/${kept%%,*}.img")
inc_bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
inc_frozen_ms=$(sed -n 's/.* frozen_us=\([0-9]*\).*/\1/p' <<<"$line" | awk '{ printf "%.0f", $1 / 1000 }')
on 1 "ssi-ctl ha off $pid; pkill -x ssi-wl-dirty; true" > /dev/null
on 1 "(ssi-wl-dirty 256 $percent 1000 < /dev/null > /tmp/dirty.out 2>&1 &)"
wait_on 300 1 'grep -q ready /tmp/dirty.out'
pid=$(on 1 pgrep-here -x ssi-wl-dirty)
d=/cluster/bench-ha/criu
on 1 "rm -rf $d; mkdir -p $d/1 $d/2; criu pre-dump -t $pid -D $d/1 --track-mem --shell-job -o pre.log" > /dev/null
sleep 5
criu_ms=$(on 1 "t0=\$(date +%s%N); criu pre-dump -t $pid -D $d/2 --prev-images-dir ../1 --track-mem --shell-job -o pre.log > /dev/null 2>&1 || echo failed;
  echo \$(( (\$(date +%s%N) - t0) / 1000000 ))" | tail -1)
criu_bytes=$(on 1 "du -sb $d/2 | cut -f1")
on 1 "pkill -x ssi-wl-dirty; true"
fi

# --- Replicas: the cost of comparing copies at every write.
sdc_steps=${SSI_BENCH_SDC_STEPS:-150}
sdc_mib=${SSI_BENCH_SDC_MIB:-4}
# run_sdc COPIES: the run's wall time (ms): started on node 1, migrated
# to node 2, then protected with COPIES copies (0: not protected; 1:
# protected without replicas); then the points compared.
run_sdc() {
  on 1 "rm -f /tmp/sdc.*; (t0=\$(date +%s%N); ssi-wl-sdc $sdc_steps 20 $sdc_mib | cat > /tmp/sdc.out;
    echo \$(( (\$(date +%s%N) - t0) / 1000000 )) > /tmp/sdc.ms) > /dev/null 2>&1 &"
  wait_on 60 1 'pgrep-here -x ssi-wl-sdc > /dev/null'
  local pid compared=0
  pid=$(on 1 pgrep-here -x ssi-wl-sdc)
  on 1 "ssi-ctl migrate $pid 2" > /dev/null
  case $1 in
    0) ;;
    1) on 1 "ssi-ctl ha on $pid --interval 30" > /dev/null ;;
    *) on 1 "ssi-ctl ha on $pid --interval 30 --replicas $1" > /dev/null ;;
  esac
  while ! on 1 'test -s /tmp/sdc.ms'; do
    [ "$1" -gt 1 ] && compared=$(field "$pid" compared)
    sleep 0.5
  done
  echo "$(on 1 cat /tmp/sdc.ms) ${compared:-0}"
}
sdc_rows=()
if part replicas; then
sdc_base=$(run_sdc 0)
for copies in 1 2 3; do
  digest0=$(on 2 "sed -n 's/^replica_digest_us: //p' /proc/ssi/ha")
  wait0=$(on 2 "sed -n 's/^replica_wait_us: //p' /proc/ssi/ha")
  points0=$(on 2 "sed -n 's/^replica_points: //p' /proc/ssi/ha")
  r=$(run_sdc "$copies")
  points=$(( $(on 2 "sed -n 's/^replica_points: //p' /proc/ssi/ha") - points0 ))
  digest=$(( $(on 2 "sed -n 's/^replica_digest_us: //p' /proc/ssi/ha") - digest0 ))
  waited=$(( $(on 2 "sed -n 's/^replica_wait_us: //p' /proc/ssi/ha") - wait0 ))
  per_digest=$(awk -v d="$digest" -v p="$points" 'BEGIN { if (p > 0) printf "%.1f", d / p / 1000; else print "-" }')
  per_wait=$(awk -v d="$waited" -v p="$points" 'BEGIN { if (p > 0) printf "%.1f", d / p / 1000; else print "-" }')
  sdc_rows+=("$(printf '%-7s %10s %10s %8s %9s %10s %10s' "$copies" "${r% *}" "${sdc_base% *}" "$(ratio "${r% *}" "${sdc_base% *}")" "${r#* }" "$per_digest" "$per_wait")")
done
fi

# --- Recovery after node_kill.
if part recovery; then
on 1 "(ssi-wl-lines 100000 50 > /dev/null 2>&1 &)"
wait_on 60 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
on 1 "ssi-ctl ha on $pid --interval 2" > /dev/null
on 1 "ssi-ctl migrate $pid 2" > /dev/null
wait_on 60 1 "[ \"\$(sed -n 's/^process: pid=$pid .*written=\\([0-9]*\\).*/\\1/p' /proc/ssi/ha)\" -ge 2 ]"
node_kill 2
wait_on 120 1 "dmesg | grep -q 'ha: process $pid restarted on node'"
rec=$(on 1 "dmesg | grep 'ha: process $pid restarted on node'")
detect_ms=$(sed -n 's/.* was lost \([0-9]*\) ms after.*/\1/p' <<<"$rec")
restore_ms=$(sed -n 's/.* restarted in \([0-9]*\) ms.*/\1/p' <<<"$rec")
on 1 "pkill -x ssi-wl-lines; true"
fi

{
  echo
  echo "high availability benchmark (3 nodes, images on /cluster (9p), qemu TCG, $(date +%F)); parts: $parts"
  if part slowdown; then
    echo "slowdown of ssi-wl-memfpu 256 $iters 0 (256 MiB) by periodic checkpoints:"
    printf '%-9s %10s %10s %8s %12s\n' interval ms_protected ms_alone ratio checkpoints
    printf '%s\n' "${rows[@]}"
  fi
  if part increment; then
    echo "increment of ssi-wl-dirty 256 $percent 1000 after 5 s, next to criu pre-dump --track-mem:"
    printf '%-14s %12s %12s %10s\n' "" bytes ms ""
    printf '%-14s %12s %12s %10s\n' "ssi increment" "$inc_bytes" "$inc_frozen_ms" "(freeze)"
    printf '%-14s %12s %12s %10s\n' "criu pre-dump" "$criu_bytes" "$criu_ms" "(wall)"
    printf '%-14s %12s\n' "ssi full image" "$full_bytes"
    echo "ratio ssi/criu: time $(ratio "$inc_frozen_ms" "$criu_ms"), bytes $(ratio "$inc_bytes" "$criu_bytes")"
  fi
  if part replicas; then
    echo "replicas: ssi-wl-sdc $sdc_steps 20 $sdc_mib migrated to node 2, its whole run (copies 1: protected, no replica):"
    printf '%-7s %10s %10s %8s %9s %10s %10s\n' copies ms ms_alone ratio compared digest_ms wait_ms
    printf '%s\n' "${sdc_rows[@]}"
  fi
  if part recovery; then
    echo "recovery after node_kill: last lease renewal to restart ${detect_ms} ms (dead_after 5 s + fence 20 s rule), restart ${restore_ms} ms"
  fi
  echo "(ratio < 1 beats criu; targets: slowdown <= 1.05 at 30 s, increment 2x faster than criu's, recovery <= dead_after + 3 s + restore;"
  echo " replicas: digest_ms and wait_ms are per point, on the primary's node)"
} | tee "$SSI_RUN/bench-ha.txt" >&2
