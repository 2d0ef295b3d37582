# make bench-ckpt: ssi checkpoint/restart against criu dump/restore and the
# write bandwidth of dd, in the same VM, to the same file system (/cluster,
# 9p), in the same run. For each size, a fresh `ssi-wl-dirty MIB 0` (MIB of
# pseudo-random, non-zero memory, then idle) is checkpointed with --kill and
# restarted by ssi, and another one dumped and restored by criu. Prints each
# pair and the ratios; asserts nothing about speed.
#   checkpoint: wall time of `ssi-ctl checkpoint --kill` / `criu dump`
#   restart:    ssi: from the start of `ssi-ctl restart` to the process
#               running again (the module logs it); criu: `criu restore -d`
#   dd:         `dd if=/dev/zero bs=1M conv=fsync` of the same size
# ssi-nodes: 1
# ssi-timeout: 3600
sizes=${SSI_BENCH_SIZES:-16 64 256}
dir=/cluster/bench
on 1 "rm -rf $dir; mkdir -p $dir"

# elapsed_ms CMD: runs CMD on node 1; prints its wall time in ms (in the VM).
elapsed_ms() {
  on_timeout 1200 1 "t0=\$(date +%s%N); ( $1 ) > /tmp/bench-cmd.log 2>&1 || { tail -20 /tmp/bench-cmd.log; exit 1; };
    t1=\$(date +%s%N); echo \$(( (t1 - t0) / 1000000 ))" || fail "'$1' failed"
}
# start_workload MIB: a fresh ssi-wl-dirty, once its memory is filled; its pid.
start_workload() {
  on 1 "pkill -x ssi-wl-dirty; rm -f /tmp/dirty.out; (setsid ssi-wl-dirty $1 0 1000 < /dev/null > /tmp/dirty.out 2>&1 &)"
  wait_on 300 1 'grep -q ready /tmp/dirty.out'
  on 1 pgrep-here -x ssi-wl-dirty
}
stop_workload() { on 1 "pkill -x ssi-wl-dirty; true"; wait_on 30 1 '! pgrep-here -x ssi-wl-dirty > /dev/null'; }
mbs() { awk -v mib="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.1f", mib * 1.048576 / (ms / 1000); else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

rows=()
for mib in $sizes; do
  dd_ms=$(elapsed_ms "dd if=/dev/zero of=$dir/dd.bin bs=1M count=$mib conv=fsync")
  on 1 "rm -f $dir/dd.bin"

  pid=$(start_workload "$mib")
  ssi_ckpt_ms=$(elapsed_ms "ssi-ctl checkpoint $pid --kill -o $dir/ssi-$mib.img")
  wait_on 30 1 "! kill -0 $pid 2>/dev/null"
  before=$(on 1 "dmesg | grep -c 'restarted from an image' || true")
  on 1 "(cd /tmp && ssi-ctl restart $dir/ssi-$mib.img < /dev/null > /dev/null 2>&1 &)"
  wait_on 300 1 "[ \$(dmesg | grep -c 'restarted from an image') -gt $before ]"
  ssi_restart_ms=$(on 1 "dmesg | grep 'restarted from an image' | tail -1" |
    sed -n 's/.* \([0-9]*\) us after the process started.*/\1/p' | awk '{ printf "%.0f", $1 / 1000 }')
  expect_eq "ssi restored the $mib MiB process" "$(on 1 'pgrep-here -x ssi-wl-dirty | wc -l')" 1
  stop_workload

  pid=$(start_workload "$mib")
  on 1 "rm -rf $dir/criu-$mib; mkdir -p $dir/criu-$mib"
  criu_dump_ms=$(elapsed_ms "criu dump -t $pid -D $dir/criu-$mib --shell-job -o dump.log")
  wait_on 30 1 "! kill -0 $pid 2>/dev/null"
  criu_restore_ms=$(elapsed_ms "criu restore -D $dir/criu-$mib --shell-job -d -o restore.log")
  expect_eq "criu restored the $mib MiB process" "$(on 1 'pgrep-here -x ssi-wl-dirty | wc -l')" 1
  stop_workload
  sizes_line="$(on 1 "du -sm $dir/ssi-$mib.img | cut -f1") $(on 1 "du -sm $dir/criu-$mib | cut -f1")"
  on 1 "rm -rf $dir/ssi-$mib.img $dir/criu-$mib"

  rows+=("$(printf '%-6s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s' "$mib" \
    "$ssi_ckpt_ms" "$criu_dump_ms" "$(ratio "$ssi_ckpt_ms" "$criu_dump_ms")" \
    "$ssi_restart_ms" "$criu_restore_ms" "$(ratio "$ssi_restart_ms" "$criu_restore_ms")" \
    "$(mbs "$mib" "$ssi_ckpt_ms")" "$(mbs "$mib" "$dd_ms")" "$(ratio "$dd_ms" "$ssi_ckpt_ms")" "$sizes_line")")
done
{
  echo
  echo "checkpoint benchmark (one node, images on /cluster (9p), qemu TCG, $(date +%F))"
  printf '%-6s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s\n' MiB ssi_ckpt criu_dump ratio ssi_rst criu_rst ratio \
    ssi_MB/s dd_MB/s ssi/dd "MiB ssi criu"
  printf '%-6s %9s %9s %7s %9s %9s %7s %9s %9s %7s %9s\n' "" ms ms ssi/criu ms ms ssi/criu "" "" bw "on disk"
  printf '%s\n' "${rows[@]}"
  echo "(times: lower is better, ratio < 1 beats criu; ssi/dd: checkpoint bandwidth over dd's, target >= 0.8)"
} | tee "$SSI_RUN/bench-ckpt.txt" >&2
