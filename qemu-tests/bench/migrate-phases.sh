# make bench-migrate-phases: where the time of one migration goes. Two
# nodes; for each strategy in SSI_PHASES_STRATEGIES (default: eager) a fresh
# `ssi-wl-dirty MIB 0 1000` (SSI_BENCH_SIZES, one size, default 256) moves
# from node 1 to node 2. Prints what ssi-ctl says, the source's per-phase
# log line ("frozen for ..."), the time until node 2 runs the process (host
# clock; post-copy: also until every page came) and the change of each
# /proc/ssi/krpc counter on both nodes.
# Measures, asserts nothing (but fails if a migration fails).
# ssi-nodes: 2
# ssi-timeout: 3600
mib=${SSI_BENCH_SIZES:-256}
mib=${mib%% *}
strategies=${SSI_PHASES_STRATEGIES:-eager}
dir=/cluster/phases

wait_view 90 "1 2" 1 2
on 1 "rm -rf $dir; mkdir -p $dir"

krpc_snap() { on "$1" "cat /proc/ssi/krpc"; }
# krpc_delta BEFORE AFTER: "name: after-before" for counters that moved.
krpc_delta() {
  awk -F': ' 'NR==FNR { b[$1]=$2; next } ($2+0 != b[$1]+0) { printf "  %s: %d\n", $1, $2 - b[$1] }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

for s in $strategies; do
  on 1 "pkill -x ssi-wl-dirty; rm -f $dir/wl.out; (setsid ssi-wl-dirty $mib 0 1000 < /dev/null > $dir/wl.out 2>&1 &)"
  wait_on 900 1 "grep -q ready $dir/wl.out"
  pid=$(on 1 "pgrep-here -x ssi-wl-dirty")
  for n in 1 2; do on $n "dmesg -c > /dev/null"; done
  k1=$(krpc_snap 1); k2=$(krpc_snap 2)
  t0=$(date +%s%N)
  out=$(on_timeout 1800 1 "ssi-ctl migrate $pid 2 --strategy $s 2>&1; echo rc=\$?")
  printf '%s\n' "$out" | grep -q '^rc=0' || fail "migrate --strategy $s: $out"
  q=$(printf '%s\n' "$out" | sed -n 's/.* as pid \([0-9]*\) .*/\1/p')
  on_timeout 900 2 "until grep -Eq '^ *$q [0-9a-f]{16} +[0-9]+ +[0-9]+ +running' /proc/ssi/migrations; do sleep 0.05; done" ||
    fail "pid $q never ran on node 2"
  t1=$(date +%s%N)
  log "$s, $mib MiB: $(printf '%s\n' "$out" | grep '^migrated')"
  log "$s: running on node 2 $(( (t1 - t0) / 1000000 )) ms after the request (host clock)"
  if [ "$s" = postcopy ]; then
    on_timeout 900 1 "until grep -qx 'lenders: 0' /proc/ssi/migrations; do sleep 0.05; done" || fail "node 1 still lends memory"
    log "$s: every page on node 2 $(( ($(date +%s%N) - t0) / 1000000 )) ms after the request (host clock)"
  fi
  log "$s: node 1: $(on 1 "dmesg | grep -o 'frozen for .*' | tail -1")"
  log "$s: krpc counters, node 1 (source):"; krpc_delta "$k1" "$(krpc_snap 1)" >&2
  log "$s: krpc counters, node 2 (destination):"; krpc_delta "$k2" "$(krpc_snap 2)" >&2
  log "$s: node 2: $(on 2 "dmesg | grep -o 'restored for .*' | tail -1")"
  log "$s: node 2: $(on 2 "dmesg | grep -E 'ssi.*(restor|migrat)' | grep -v 'restored for' | tail -2 | tr '\n' '|'")"
  on 2 "pkill -x ssi-wl-dirty; true"
  wait_on 60 1 '! pgrep-here -x ssi-wl-dirty > /dev/null'
done
