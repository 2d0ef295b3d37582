# make bench-migrate: live migration of a running process from node 1 to
# node 2, ssi against criu and against the network, in the same two VMs in
# the same run. Prints numbers and ratios; asserts nothing about speed (it
# fails only if ssi's eager migration fails).
#
# For each size (SSI_BENCH_SIZES, MiB) and two workloads:
#   idle:   `ssi-wl-dirty MIB 0 1000`: MIB of pseudo-random pages, then idle
#   writer: `ssi-wl-dirty MIB 1 1000` (SSI_BENCH_WRITER="PERCENT RATE_MS"):
#           then writes into 1% of its pages (distinct ones) every second
# it measures, each time on a fresh process once its memory is filled:
#   ssi:  `ssi-ctl migrate PID 2 --strategy S` for S in eager precopy
#         postcopy lazy: bytes, freeze and total time as ssi-ctl prints
#         them, rounds from /proc/ssi/migrations. ssi-ctl returns at the
#         hand-over (MigrateGo), once the destination has checked the image
#         but before it has rebuilt the process (written its pages; post-
#         copy and lazy rebuilt it before the freeze and only resume it):
#         the time from there until the process runs, as node 2's restore
#         logs it (guest time, "after go"), is added to both. Post-copy's total
#         runs on until node 1 lends no memory any more (every page came;
#         host clock) and its bytes are node 2's (image and pages); lazy's
#         total ends when the process runs (its pages move only when
#         touched: an idle process never fetches them). A strategy the
#         module refuses as not implemented is shown "n/a (not implemented)".
#   criu: (images on /cluster, 9p; pages sent to a page server on node 2
#         that keeps them in node 2's tmpfs, like ssi keeps its image in
#         kernel memory; `--shell-job`; restore with `-d`)
#     dump:     `criu page-server` on 2, `criu dump --page-server` on 1,
#               copy of the (small) non-page images, `criu restore` on 2;
#               frozen = total = dump + restore
#     pre-dump: the same after a `criu pre-dump --track-mem` through a first
#               page server; frozen = dump + restore, total adds pre-dump
#     lazy:     `criu dump --lazy-pages` on 1 (frozen until its images are
#               written, then serves pages), `criu lazy-pages` and
#               `criu restore --lazy-pages` on 2; frozen = dump until ready
#               + restore, total = until the lazy-pages daemon and the dump
#               have both exited (every page has moved)
#     A criu mode that fails is shown n/a, with the reason from its log.
#   fill: `dd if=/dev/zero of=/dev/null bs=MIBM count=1` on node 2: the
#         time to fill MIB of fresh anonymous memory (dd's buffer), the
#         least any migration that rebuilds the memory there can take
#         under this emulation; printed with eager's total over it.
#   limit: MIB / iperf3's bandwidth from node 1 to node 2 (measured at the
#         start and at the end of the run; the higher of the two).
# ssi strategies are paired with criu: eager - dump, precopy - pre-dump,
# postcopy and lazy - lazy. Times are measured inside the VMs (each part on
# the node that runs it) and added; the agent round trips between the
# steps are left out.
# ssi-nodes: 2
# ssi-timeout: 7200
sizes=${SSI_BENCH_SIZES:-16 64 256}
writer=${SSI_BENCH_WRITER:-1 1000}
strategies="eager precopy postcopy lazy"
dir=/cluster/bench
bin=$dir/bin
ip1=$(node_ip 1)
ip2=$(node_ip 2)
port=27000

wait_view 90 "1 2" 1 2
on 1 "rm -rf $dir; mkdir -p $bin"
for n in 1 2; do on $n "mkdir -p /tmp/bm"; done

# Helper scripts run on the nodes (sh), written from the host into /cluster.
hbin=$(cluster_dir)/bench/bin
# lazy-dump.sh PID DIR PORT (node 1, detached): criu dump --lazy-pages; the
# time it started, "\0" in lazy.status once its images are written, its
# exit status and its whole time once it has served every page.
cat > "$hbin/lazy-dump.sh" <<'EOF'
t0=$(date +%s%N); echo "$t0" > /tmp/bm/lazy.t0
criu dump -t "$1" -D "$2" --shell-job --lazy-pages --port "$3" --status-fd 3 -o dump.log 3> /tmp/bm/lazy.status
rc=$?
t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )) > /tmp/bm/lazy.ms; echo $rc > /tmp/bm/lazy.rc
EOF
# lazy-ready.sh: waits until the lazy dump is ready (prints its ms) or has failed.
cat > "$hbin/lazy-ready.sh" <<'EOF'
while [ ! -s /tmp/bm/lazy.status ] && [ ! -e /tmp/bm/lazy.rc ]; do sleep 0.05; done
t1=$(date +%s%N)
[ -s /tmp/bm/lazy.status ] || exit 1
echo $(( (t1 - $(cat /tmp/bm/lazy.t0)) / 1000000 ))
EOF
# lazy-restore.sh DIR WORK IP PORT (node 2): lazy-pages daemon, then restore;
# prints the ms until the process runs.
cat > "$hbin/lazy-restore.sh" <<'EOF'
rm -rf "$2"; mkdir -p "$2"
t0=$(date +%s%N); echo "$t0" > /tmp/bm/lazy2.t0
criu lazy-pages --page-server --address "$3" --port "$4" -D "$1" -W "$2" --daemon -o lazy.log || exit 1
criu restore --lazy-pages -D "$1" -W "$2" --shell-job -d -o restore.log || exit 1
t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))
EOF
# lazy-done.sh (node 2): waits for the lazy-pages daemon to exit; prints the
# ms since lazy-restore.sh started.
cat > "$hbin/lazy-done.sh" <<'EOF'
while pgrep-here -x criu > /dev/null; do sleep 0.1; done
t1=$(date +%s%N); echo $(( (t1 - $(cat /tmp/bm/lazy2.t0)) / 1000000 ))
EOF

# vm_ms N CMD: runs CMD on node N; prints its wall time in ms (in the VM).
# Fails (without failing the bench) if CMD does; its output is in
# /tmp/bm/cmd.log on the node.
vm_ms() {
  on_timeout 1800 "$1" "t0=\$(date +%s%N); ( $2 ) > /tmp/bm/cmd.log 2>&1 || exit 1;
    t1=\$(date +%s%N); echo \$(( (t1 - t0) / 1000000 ))"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# soft_wait SECS N CMD: like wait_on, but returns 1 instead of failing the bench.
soft_wait() { on_timeout "$1" "$2" "until $3; do sleep 0.2; done" > /dev/null 2>&1; }

# clean: no workload, deputy or criu left on either node, tmpfs emptied.
# The process on node 2 goes first; a deputy on node 1 then ends by itself,
# and what is left on node 1 (a workload that did not move) is killed.
clean() {
  on 2 "pkill -KILL -x criu; pkill -x ssi-wl-dirty; rm -rf /tmp/bm/*; true"
  soft_wait 60 2 '! pgrep-here -x ssi-wl-dirty > /dev/null' ||
    on 2 "pkill -KILL -x ssi-wl-dirty; true"
  wait_on 60 2 '! pgrep-here -x ssi-wl-dirty > /dev/null && ! pgrep-here -x criu > /dev/null'
  wait_on 120 1 "grep -qx 'deputies: 0' /proc/ssi/migrations"
  on 1 "pkill -KILL -x criu; pkill -x ssi-wl-dirty; rm -rf /tmp/bm/* $dir/criu-*; true"
  wait_on 120 1 '! pgrep-here -x ssi-wl-dirty > /dev/null && ! pgrep-here -x criu > /dev/null'
  pid=
}
# start_wl MIB ARGS: a fresh ssi-wl-dirty MIB ARGS on node 1 (output on
# /cluster, so that it can be reopened on node 2), once its memory is filled.
start_wl() {
  clean
  on 1 "rm -f $dir/wl.out; (setsid ssi-wl-dirty $1 $2 < /dev/null > $dir/wl.out 2>&1 &)"
  wait_on 900 1 "grep -q ready $dir/wl.out"
  pid=$(on 1 "pgrep-here -x ssi-wl-dirty")
}
# count_on N: how many ssi-wl-dirty run on node N.
count_on() { on "$1" "pgrep-here -x ssi-wl-dirty | wc -l" || echo "?"; }
# criu_reason N LOG...: criu's first error lines in LOG... on node N, or the
# end of the failed command's output.
criu_reason() {
  local n=$1; shift
  on "$n" "{ grep -h -m2 'Error (' $* 2>/dev/null || tail -2 /tmp/bm/cmd.log 2>/dev/null; } | head -2 | tr '\n' ' '" |
    cut -c1-240 || true
}

iperf_mbs() {
  on 2 "pkill -x iperf3; sleep 0.5; iperf3 -s -D -B $ip2 > /dev/null 2>&1" || true
  sleep 2
  on_timeout 120 1 "iperf3 -c $ip2 -t 10 -f m" | awk '/receiver/ {printf "%.2f", $(NF-2) / 8}' || true
  on 2 "pkill -x iperf3; true"
}

declare -A S_FRZ S_TOT S_AFT S_MB S_RND S_NA C_FRZ C_TOT
notes=()

# ssi_run WL MIB STRATEGY: migrates the workload $pid to node 2.
ssi_run() {
  local wl=$1 mib=$2 s=$3 k="$1,$2,$3" out rc line t_a t_b q after
  out=$(on_timeout 1800 1 "ssi-ctl migrate $pid 2 --strategy $s 2>&1; echo rc=\$?") ||
    fail "ssi-ctl migrate $pid 2 --strategy $s did not return"
  t_a=$(date +%s%N)
  rc=$(printf '%s\n' "$out" | sed -n 's/^rc=//p')
  if [ "$rc" != 0 ]; then
    if printf '%s\n' "$out" | grep -q 'not implemented yet'; then
      S_NA[$k]="n/a (not implemented)"
      log "ssi $s, $wl, $mib MiB: not implemented"
      # refused before anything happened: the workload is still on node 1
      on 1 "kill -0 $pid" || clean
      return 0
    fi
    [ "$s" = eager ] && fail "ssi eager migration of the $wl $mib MiB workload failed: $out"
    S_NA[$k]="n/a (failed)"
    notes+=("ssi $s, $wl, $mib MiB: $(printf '%s\n' "$out" | grep -v '^rc=' | head -1 | cut -c1-240)")
    log "ssi $s, $wl, $mib MiB failed: $(printf '%s\n' "$out" | grep -v '^rc=')"
    clean
    return 0
  fi
  line=$(printf '%s\n' "$out" | grep '^migrated ' | head -1)
  # ssi-ctl returns once the destination has checked the image and got
  # MigrateGo; the destination then still rebuilds the process (writes its
  # pages). Wait until node 2 shows it running (host clock, so that the two
  # agent round trips roughly cancel).
  q=$(printf '%s\n' "$line" | sed -n 's/.* as pid \([0-9]*\) .*/\1/p')
  if ! on_timeout 900 2 "until grep -Eq '^ *$q [0-9a-f]{16} +[0-9]+ +[0-9]+ +running' /proc/ssi/migrations; do sleep 0.05; done"; then
    [ "$s" = eager ] && fail "after ssi eager migration ($wl, $mib MiB), pid $q never ran on node 2"
    notes+=("ssi $s, $wl, $mib MiB: migrate said done but pid $q never ran on node 2")
  fi
  t_b=$(date +%s%N)
  local host_after=$(( (t_b - t_a) / 1000000 ))
  # The destination's own time from MigrateGo until the process runs
  # (guest time, logged by the restore: "rebuilt in" after the hand-over,
  # or, prepared post-copy and lazy, "resumed in"); the host clock's
  # figure (two agent round trips) only if that line is missing.
  local restored
  restored=$(on 2 "dmesg | grep 'pid $q: restored for a migration' | tail -1" || true)
  after=$(printf '%s\n' "$restored" | sed -n 's/.*\(resumed\|rebuilt\) in \([0-9]*\) us.*/\2/p' | awk '{ printf "%.0f", $1 / 1000 }')
  [ -n "$after" ] || after=$host_after
  log "$line; running on node 2 $after ms after the hand-over (node 2's log; host clock: $host_after ms after ssi-ctl returned)"
  S_AFT[$k]=$after
  S_MB[$k]=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9]*\) bytes,.*/\1/p' | awk '{ printf "%.1f", $1 / 1e6 }')
  S_FRZ[$k]=$(printf '%s\n' "$line" | sed -n 's/.* frozen \([0-9]*\) us.*/\1/p' | awk -v a="$after" '{ printf "%.0f", $1 / 1000 + a }')
  S_TOT[$k]=$(printf '%s\n' "$line" | sed -n 's/.* \([0-9]*\) us in all.*/\1/p' | awk -v a="$after" '{ printf "%.0f", $1 / 1000 + a }')
  if [ "$s" = postcopy ]; then
    on_timeout 900 1 "until grep -qx 'lenders: 0' /proc/ssi/migrations; do sleep 0.05; done" ||
      notes+=("ssi postcopy, $wl, $mib MiB: node 1 still lends memory after 900 s")
    local push=$(( ($(date +%s%N) - t_b) / 1000000 ))
    log "ssi postcopy, $wl, $mib MiB: every page on node 2 $push ms after it ran"
    S_TOT[$k]=$(( S_TOT[$k] + push ))
    local in_bytes
    in_bytes=$(on 2 "awk -v p=$q '\$2 == \"in\" && \$3 == p { print \$7; exit }' /proc/ssi/migrations" || true)
    [ -n "$in_bytes" ] && S_MB[$k]=$(echo "$in_bytes" | awk '{ printf "%.1f", $1 / 1e6 }')
  fi
  S_RND[$k]=$(on 1 "awk -v p=$pid '\$2 == \"out\" && \$3 == p && \$6 == \"done\" { print \$8; exit }' /proc/ssi/migrations" || true)
  [ -n "${S_RND[$k]}" ] || S_RND[$k]="?"
  if [ "$(count_on 2)" != 1 ]; then
    [ "$s" = eager ] && fail "after ssi eager migration ($wl, $mib MiB), ssi-wl-dirty does not run on node 2"
    notes+=("ssi $s, $wl, $mib MiB: migrate said done but the process does not run on node 2")
  fi
  clean
}

criu_na() { # criu_na KEY WHAT REASON
  C_FRZ[$1]="n/a"; C_TOT[$1]="n/a"
  notes+=("criu $2: ${3:-no reason in its logs}")
  log "criu $2 failed: ${3:-}"
}

# criu_dump WL MIB: dump through a page server, restore on node 2.
criu_dump() {
  local k="$1,$2,dump" d=$dir/criu-dump ps=/tmp/bm/dump dump_ms rst_ms
  port=$((port + 1))
  on 1 "rm -rf $d; mkdir -p $d"
  if ! on 2 "mkdir -p $ps && criu page-server -D $ps --port $port --daemon -o ps.log" > /dev/null 2>&1; then
    criu_na "$k" "dump, $1, $2 MiB (page-server)" "$(criu_reason 2 $ps/ps.log)"; clean; return 0
  fi
  if ! dump_ms=$(vm_ms 1 "criu dump -t $pid -D $d --shell-job --page-server --address $ip2 --port $port -o dump.log"); then
    criu_na "$k" "dump, $1, $2 MiB (dump)" "$(criu_reason 1 $d/dump.log)"; clean; return 0
  fi
  if ! rst_ms=$(vm_ms 2 "cp $d/*.img $ps/ && criu restore -D $ps --shell-job -d -o restore.log") ||
     [ "$(count_on 2)" != 1 ]; then
    criu_na "$k" "dump, $1, $2 MiB (restore)" "$(criu_reason 2 $ps/restore.log)"; clean; return 0
  fi
  C_FRZ[$k]=$((dump_ms + rst_ms)); C_TOT[$k]=${C_FRZ[$k]}
  log "criu dump+restore, $1, $2 MiB: dump $dump_ms ms, restore $rst_ms ms"
  clean
}

# criu_predump WL MIB: pre-dump, then dump of what changed, restore on node 2.
criu_predump() {
  local k="$1,$2,pre-dump" d=$dir/criu-pre ps=/tmp/bm/pre pre_ms ps2_ms dump_ms rst_ms p1 p2
  port=$((port + 1)); p1=$port; port=$((port + 1)); p2=$port
  on 1 "rm -rf $d; mkdir -p $d/1 $d/2"
  if ! on 2 "mkdir -p $ps/1 $ps/2 && criu page-server -D $ps/1 --port $p1 --daemon -o ps.log" > /dev/null 2>&1; then
    criu_na "$k" "pre-dump, $1, $2 MiB (page-server)" "$(criu_reason 2 $ps/1/ps.log)"; clean; return 0
  fi
  if ! pre_ms=$(vm_ms 1 "criu pre-dump -t $pid -D $d/1 --shell-job --track-mem --page-server --address $ip2 --port $p1 -o predump.log"); then
    criu_na "$k" "pre-dump, $1, $2 MiB (pre-dump)" "$(criu_reason 1 $d/1/predump.log)"; clean; return 0
  fi
  if ! ps2_ms=$(vm_ms 2 "criu page-server -D $ps/2 --prev-images-dir ../1 --port $p2 --daemon -o ps.log"); then
    criu_na "$k" "pre-dump, $1, $2 MiB (second page-server)" "$(criu_reason 2 $ps/2/ps.log)"; clean; return 0
  fi
  if ! dump_ms=$(vm_ms 1 "criu dump -t $pid -D $d/2 --prev-images-dir ../1 --track-mem --shell-job --page-server --address $ip2 --port $p2 -o dump.log"); then
    criu_na "$k" "pre-dump, $1, $2 MiB (dump)" "$(criu_reason 1 $d/2/dump.log)"; clean; return 0
  fi
  if ! rst_ms=$(vm_ms 2 "cp $d/2/*.img $ps/2/ && criu restore -D $ps/2 --shell-job -d -o restore.log") ||
     [ "$(count_on 2)" != 1 ]; then
    criu_na "$k" "pre-dump, $1, $2 MiB (restore)" "$(criu_reason 2 $ps/2/restore.log)"; clean; return 0
  fi
  C_FRZ[$k]=$((dump_ms + rst_ms)); C_TOT[$k]=$((pre_ms + ps2_ms + dump_ms + rst_ms))
  log "criu pre-dump+dump+restore, $1, $2 MiB: pre-dump $pre_ms ms, page-server $ps2_ms ms, dump $dump_ms ms, restore $rst_ms ms;" \
    "pages sent by the dump: $(on 2 "du -sm $ps/2 | cut -f1" || echo '?') MiB"
  clean
}

# criu_lazy WL MIB: dump --lazy-pages on node 1, lazy-pages + restore on node 2.
criu_lazy() {
  local k="$1,$2,lazy" d=$dir/criu-lazy w=/tmp/bm/lazy ready_ms rst_ms done2_ms dump_all_ms rc tot
  port=$((port + 1))
  on 1 "rm -rf $d; mkdir -p $d; rm -f /tmp/bm/lazy.*"
  if ! ready_ms=$(on_timeout 1800 1 "(setsid sh $bin/lazy-dump.sh $pid $d $port < /dev/null > /dev/null 2>&1 &); sh $bin/lazy-ready.sh"); then
    criu_na "$k" "lazy, $1, $2 MiB (dump --lazy-pages)" "$(criu_reason 1 $d/dump.log)"; clean; return 0
  fi
  if ! rst_ms=$(on_timeout 1800 2 "sh $bin/lazy-restore.sh $d $w $ip1 $port 2> /tmp/bm/cmd.log") ||
     [ "$(count_on 2)" != 1 ]; then
    criu_na "$k" "lazy, $1, $2 MiB (lazy-pages/restore --lazy-pages)" "$(criu_reason 2 $w/lazy.log $w/restore.log)"; clean; return 0
  fi
  if ! done2_ms=$(on_timeout 1800 2 "sh $bin/lazy-done.sh"); then
    criu_na "$k" "lazy, $1, $2 MiB (lazy-pages did not finish)" "$(criu_reason 2 $w/lazy.log)"; clean; return 0
  fi
  soft_wait 600 1 "test -e /tmp/bm/lazy.rc" || true
  rc=$(on 1 "cat /tmp/bm/lazy.rc" || echo "?")
  dump_all_ms=$(on 1 "cat /tmp/bm/lazy.ms" || echo 0)
  if [ "$rc" != 0 ] || on 2 "grep -q 'Error (' $w/lazy.log" || [ "$(count_on 2)" != 1 ]; then
    criu_na "$k" "lazy, $1, $2 MiB (pages)" "dump exit $rc; $(criu_reason 2 $w/lazy.log) $(criu_reason 1 $d/dump.log)"; clean; return 0
  fi
  tot=$((ready_ms + done2_ms)); [ "$dump_all_ms" -gt "$tot" ] && tot=$dump_all_ms
  C_FRZ[$k]=$((ready_ms + rst_ms)); C_TOT[$k]=$tot
  log "criu lazy, $1, $2 MiB: dump ready $ready_ms ms, lazy-pages+restore $rst_ms ms, pages done $done2_ms ms after, dump exited after $dump_all_ms ms"
  clean
}

load1=$(cut -d' ' -f1-3 /proc/loadavg)
bw1=$(iperf_mbs)
log "iperf3 node 1 -> node 2: $bw1 MB/s"
declare -A FILL
for mib in $sizes; do
  FILL[$mib]=$(on 2 "dd if=/dev/zero of=/dev/null bs=${mib}M count=1 2>&1" |
    sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p' | awk '{ printf "%.0f", $1 * 1000 }')
  log "dd into $mib MiB of fresh memory on node 2: ${FILL[$mib]:-n/a} ms"
done

declare -A WL_ARGS=([idle]="0 1000" [writer]="$writer")
for wl in idle writer; do
  for mib in $sizes; do
    pid=
    for s in $strategies; do
      [ -n "$pid" ] || start_wl "$mib" "${WL_ARGS[$wl]}"
      ssi_run "$wl" "$mib" "$s"
    done
    start_wl "$mib" "${WL_ARGS[$wl]}"; criu_dump "$wl" "$mib"
    start_wl "$mib" "${WL_ARGS[$wl]}"; criu_predump "$wl" "$mib"
    start_wl "$mib" "${WL_ARGS[$wl]}"; criu_lazy "$wl" "$mib"
  done
done

bw2=$(iperf_mbs)
load2=$(cut -d' ' -f1-3 /proc/loadavg)
log "iperf3 node 1 -> node 2: $bw2 MB/s"
# The limit is the best the link did: other load on the host only slows it.
bw=$(awk -v a="$bw1" -v b="$bw2" 'BEGIN { m = (a > b) ? a : b; if (m > 0) printf "%.2f", m; else print "n/a" }')
limit_ms() { awk -v mib="$1" -v bw="$bw" 'BEGIN { if (bw > 0) printf "%.0f", mib * 1.048576 / bw * 1000; else print "n/a" }'; }

declare -A PAIR=([eager]=dump [precopy]=pre-dump [postcopy]=lazy [lazy]=lazy)
fmt='%-5s %7s  %-9s %8s %8s %7s %7s %6s  %-8s %8s %8s  %8s %8s  %7s %7s\n'
{
  for wl in idle writer; do
    echo
    echo "migration benchmark, $wl workload (ssi-wl-dirty MIB ${WL_ARGS[$wl]}), node 1 -> node 2, qemu TCG, $(date +%F)"
    echo "iperf3 node 1 -> node 2: $bw1 MB/s at the start, $bw2 MB/s at the end; limit = MiB / $bw MB/s"
    echo "host: $(nproc) cpus, nodes: $SSI_NODE_CPUS vCPU each, load average $load1 at the start, $load2 at the end (other VMs distort TCG timings)"
    fills=""
    for mib in $sizes; do
      fills+=" $mib MiB ${FILL[$mib]:-n/a} ms (eager tot/fill $(ratio "${S_TOT[$wl,$mib,eager]:-}" "${FILL[$mib]:-}"));"
    done
    echo "fill (dd into fresh memory on node 2, the floor of a rebuild there):${fills%;}"
    printf "$fmt" MiB limit ssi ssi_frz ssi_tot "(after" MB_sent rounds criu criu_frz criu_tot frz tot ssi criu
    printf "$fmt" "" ms strategy ms ms "go) ms" "" "" mode ms ms ssi/criu ssi/criu tot/lim tot/lim
    for mib in $sizes; do
      lim=$(limit_ms "$mib")
      for s in $strategies; do
        k="$wl,$mib,$s" c=${PAIR[$s]} ck="$wl,$mib,${PAIR[$s]}"
        cf=${C_FRZ[$ck]:-n/a} ct=${C_TOT[$ck]:-n/a}
        if [ -n "${S_NA[$k]:-}" ]; then
          printf '%-5s %7s  %-9s %-40s  %-8s %8s %8s  %8s %8s  %7s %7s\n' "$mib" "$lim" "$s" "${S_NA[$k]}" \
            "$c" "$cf" "$ct" n/a n/a n/a "$(ratio "$ct" "$lim")"
        else
          printf "$fmt" "$mib" "$lim" "$s" "${S_FRZ[$k]}" "${S_TOT[$k]}" "${S_AFT[$k]}" "${S_MB[$k]}" "${S_RND[$k]}" \
            "$c" "$cf" "$ct" "$(ratio "${S_FRZ[$k]}" "$cf")" "$(ratio "${S_TOT[$k]}" "$ct")" \
            "$(ratio "${S_TOT[$k]}" "$lim")" "$(ratio "$ct" "$lim")"
        fi
      done
    done
  done
  echo "(frz: time the process is stopped; tot: start to the process running on node 2 with all of its memory;"
  echo " ssi's both include (after go): from MigrateGo until the process runs on node 2, node 2's guest time;"
  echo " ratio ssi/criu < 1 beats criu; ssi tot/limit: eager's target is <= 1.3)"
  if [ ${#notes[@]} -gt 0 ]; then
    echo "notes:"
    printf '  %s\n' "${notes[@]}"
  fi
} | tee "$SSI_RUN/bench-migrate.txt" >&2
