# ssi virtual cluster harness: boots nodes under qemu, wires them to a bridge
# inside a private network namespace, and gives scenarios their helpers.
# Sourced by qemu-tests/run, qemu-tests/cluster and by every scenario.
#
# Helpers for scenarios (see docs/harness.md):
#   on N CMD...              run CMD on node N (sh -c); prints its output,
#                            returns its exit status
#   on_timeout SECS N CMD... the same with a time limit (default SSI_ON_TIMEOUT)
#   wait_for SECS DESC CMD...  retry host-side CMD until it succeeds
#   wait_on SECS N CMD...    retry CMD on node N until it succeeds
#   node_start N             boot node N (or reboot it if running)
#   node_kill N              kill node N abruptly (power cut)
#   node_running N           whether node N's VM is alive
#   link_down N / link_up N  cut / restore node N's network link
#   link_slow N MBIT / link_fast N  limit / unlimit what is sent to node N
#                            (a token bucket on its tap: a transfer to it
#                            lasts a known time on a machine of any speed)
#   cluster_copy SRC [DEST]  copy a file into the shared /cluster
#   cluster_dir              print the host path of /cluster
#   host_reference FILE WL ARGS...  run workload WL on the host, its output
#                            in /cluster/FILE (an uninterrupted run's)
#   fail MSG                 fail the scenario
#   expect_eq WHAT GOT WANT  fail unless GOT = WANT
#   expect_match WHAT TEXT REGEX   fail unless TEXT matches REGEX (grep -E)
#   log MSG                  print a progress line

SSI_TOP=${SSI_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$SSI_TOP/scripts/common.sh"
SSI_BUILD=${SSI_BUILD:-$SSI_TOP/build}
SSI_NODE_DIR=${SSI_NODE_DIR:-$SSI_BUILD/node}
SSI_AGENT=${SSI_AGENT:-$SSI_NODE_DIR/bin/ssi-agent}
SSI_NODE_MEM=${SSI_NODE_MEM:-1024}
SSI_NODE_CPUS=${SSI_NODE_CPUS:-2}
SSI_ON_TIMEOUT=${SSI_ON_TIMEOUT:-300}
SSI_BOOT_TIMEOUT=${SSI_BOOT_TIMEOUT:-300}
SSI_SUBNET=10.99.0
# The test cluster's secret; SSI_SECRET_<N> overrides it for node N.
SSI_SECRET=${SSI_SECRET:-ssi-test-cluster-secret}
# What a node's console must never show. A match fails the scenario.
SSI_CONSOLE_BAD='BUG:|WARNING:|Oops|general protection|Kernel panic|soft lockup|hard LOCKUP|rcu: INFO|detected stalls|RCU stall|blocked for more than|suspected memory leak|UBSAN:|KASAN:'

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { printf '[%s] FAIL: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

node_ip() { echo "$SSI_SUBNET.$((10 + $1))"; }
_check_node() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 200 ] || fail "bad node number '$1'"; }

# ---------------------------------------------------------------- network

cluster_net_up() {
  ip netns add "$SSI_NS" || die "cannot create network namespace $SSI_NS (are you root?)"
  ip -n "$SSI_NS" link set lo up
  ip -n "$SSI_NS" link add br0 type bridge
  ip -n "$SSI_NS" addr add "$SSI_SUBNET.1/24" dev br0
  ip -n "$SSI_NS" link set br0 up
}

_tap_ensure() {
  local tap=tap$1
  ip -n "$SSI_NS" link show "$tap" >/dev/null 2>&1 && return 0
  ip -n "$SSI_NS" tuntap add dev "$tap" mode tap
  ip -n "$SSI_NS" link set "$tap" master br0
  ip -n "$SSI_NS" link set "$tap" up
}

link_down() { _check_node "$1"; ip -n "$SSI_NS" link set "tap$1" down; log "link of node $1 down"; }
link_up() { _check_node "$1"; ip -n "$SSI_NS" link set "tap$1" up; log "link of node $1 up"; }
link_slow() {
  _check_node "$1"
  ip netns exec "$SSI_NS" tc qdisc replace dev "tap$1" root tbf rate "${2}mbit" burst 64kb latency 1s
  log "traffic to node $1 limited to $2 Mbit/s"
}
link_fast() {
  _check_node "$1"
  ip netns exec "$SSI_NS" tc qdisc del dev "tap$1" root 2>/dev/null || true
  log "traffic to node $1 unlimited"
}

# Removes namespaces left by runs that were killed without cleaning up.
cluster_reap_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ssi-[0-9]+$'); do
    pid=${ns#ssi-}
    kill -0 "$pid" 2>/dev/null || ip netns delete "$ns" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- nodes

node_running() {
  local pidf=$SSI_RUN/node$1.pid
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

# node_launch N [interactive]: start node N's VM without waiting for it.
node_launch() {
  local n=$1 mode=${2:-}
  _check_node "$n"
  _tap_ensure "$n"
  local console=$SSI_RUN/node$n.console
  local sock=$SSI_RUN/node$n.agent
  rm -f "$sock" "$SSI_RUN/node$n.pid"
  # Keep every boot's console: a reboot appends a marker and goes on.
  echo "===== ssi harness: boot of node $n at $(date +%T) =====" >> "$console"
  local append="console=ttyS0 root=/dev/vda rw init=/usr/sbin/ssi-init panic=-1 oops=panic"
  # A TCG vCPU starved by a busy host is not a lockup: watchdog_thresh=60
  # and a 120 s RCU stall timeout; real lockups and stalls still show.
  append+=" watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120 net.ifnames=0 ssi.node=$n ssi.ip=$(node_ip "$n")/24"
  local secret_var=SSI_SECRET_$n seeds="" i
  for i in $(seq 1 "${SSI_NODES:-3}"); do seeds+="${seeds:+,}$(node_ip "$i")"; done
  append+=" ssi.secret=${!secret_var:-$SSI_SECRET} ssi.seeds=$seeds"
  # Extra arguments from the scenario header (kmemleak=on makes boots ~4x slower
  # under TCG, so leak-checking scenarios ask for it).
  append+=${SSI_KERNEL_ARGS:+ $SSI_KERNEL_ARGS}
  local serial
  if [ "$mode" = interactive ]; then
    append+=" ssi.shell=1"
    serial=(-chardev "stdio,id=con0,mux=on,signal=off,logfile=$console,logappend=on"
            -serial chardev:con0 -mon chardev=con0,mode=readline)
  else
    serial=(-chardev "file,id=con0,path=$console,append=on" -serial chardev:con0 -monitor none)
  fi
  # No ERMS/FSRM: with them the guest kernel copies and clears memory with
  # `rep movsb/stosb`, which TCG runs one byte per step (several times
  # slower than the unrolled 8-byte loops the kernel uses otherwise);
  # real CPUs do the opposite. See docs/harness.md.
  local qemu=(qemu-system-x86_64 -accel tcg -cpu "${SSI_QEMU_CPU:-max,-erms,-fsrm}" -m "$SSI_NODE_MEM" -smp "$SSI_NODE_CPUS"
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$SSI_KERNEL" -append "$append"
    -drive "file=$SSI_ROOTFS,format=raw,if=virtio,snapshot=on"
    -netdev "tap,id=net0,ifname=tap$n,script=no,downscript=no"
    -device "virtio-net-pci,netdev=net0,mac=52:54:00:99:00:$(printf %02x "$n")"
    -virtfs "local,path=$SSI_RUN/cluster,mount_tag=cluster,security_model=passthrough,id=cluster"
    -virtfs "local,path=$SSI_NODE_DIR,mount_tag=ssibin,security_model=none,readonly=on,id=ssibin"
    -device virtio-serial-pci
    -chardev "socket,id=agent,path=$sock,server=on,wait=off"
    -device virtserialport,chardev=agent,name=ssi.agent
    -device virtio-rng-pci
    -pidfile "$SSI_RUN/node$n.pid"
    "${serial[@]}")
  if [ "$mode" = interactive ]; then
    ip netns exec "$SSI_NS" "${qemu[@]}"
  else
    ip netns exec "$SSI_NS" "${qemu[@]}" > "$SSI_RUN/node$n.qemu.log" 2>&1 &
    disown $!  # killed on purpose later: no "Killed" job notices
    local i
    for i in $(seq 100); do [ -s "$SSI_RUN/node$n.pid" ] && return 0; sleep 0.1; done
    cat "$SSI_RUN/node$n.qemu.log" >&2
    fail "qemu for node $n did not start"
  fi
}

# node_wait_ready N: wait until node N's agent answers.
node_wait_ready() {
  local n=$1 deadline=$((SECONDS + SSI_BOOT_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    node_running "$n" || { tail -20 "$SSI_RUN/node$n.console" >&2; fail "node $n died while booting"; }
    if [ -S "$SSI_RUN/node$n.agent" ] &&
       "$SSI_AGENT" run "$SSI_RUN/node$n.agent" --timeout 5 true 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  tail -20 "$SSI_RUN/node$n.console" >&2
  fail "node $n not ready within ${SSI_BOOT_TIMEOUT}s"
}

node_kill() {
  _check_node "$1"
  local pidf=$SSI_RUN/node$1.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill -KILL "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidf"
  log "node $1 killed"
}

# node_start N...: boot the nodes in parallel and wait until all are ready.
node_start() {
  local n
  for n in "$@"; do
    node_running "$n" && node_kill "$n"
    node_launch "$n"
  done
  for n in "$@"; do node_wait_ready "$n"; done
  log "node(s) $* ready"
}

# ---------------------------------------------------------------- commands

# Every command run on a node is noted in $SSI_RUN/commands.log with the
# time it took: where a scenario's time goes.
on_timeout() {
  local secs=$1 n=$2 t0=$EPOCHREALTIME st; shift 2
  _check_node "$n"
  "$SSI_AGENT" run "$SSI_RUN/node$n.agent" --timeout "$secs" "$*" && st=0 || st=$?
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$n" -v st="$st" -v c="$*" -v now="$(date +%H:%M:%S)" \
    'BEGIN { printf "[%s] %6.2fs node %s status %s: %s\n", now, b - a, n, st, substr(c, 1, 160) }' >> "$SSI_RUN/commands.log"
  return $st
}
on() { local n=$1; shift; on_timeout "$SSI_ON_TIMEOUT" "$n" "$@"; }

wait_for() {
  local secs=$1 desc=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for: $desc"
    sleep 0.5
  done
}
wait_on() {
  local secs=$1 n=$2; shift 2
  wait_for "$secs" "node $n: $*" on_timeout 30 "$n" "$@"
}

cluster_dir() { echo "$SSI_RUN/cluster"; }
cluster_copy() { cp -a "$1" "$SSI_RUN/cluster/${2:-}"; }
# The reference output of a deterministic workload (ssi-wl-memfpu gives the
# same bytes on every CPU path, AVX2 or SSE2), computed by the same binary
# on the host in a second where an emulated node takes a minute.
host_reference() {
  local file=$1 wl=$2; shift 2
  "$SSI_NODE_DIR/bin/$wl" "$@" < /dev/null > "$SSI_RUN/cluster/$file" || fail "host reference run of $wl $* failed"
  chmod 0644 "$SSI_RUN/cluster/$file"
}

expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; }
expect_match() { printf '%s\n' "$2" | grep -Eq -- "$3" || fail "$1: '$2' does not match /$3/"; }

# ---------------------------------------------------------------- lifecycle

# cluster_init: choose the run directory, the namespace and the artefacts.
cluster_init() {
  SSI_KERNEL=${SSI_KERNEL:-$("$SSI_TOP/kernel/build.sh" print-dir)/arch/x86/boot/bzImage}
  SSI_ROOTFS=${SSI_ROOTFS:-$("$SSI_TOP/qemu-tests/node/build-rootfs.sh" print-image)}
  [ -f "$SSI_KERNEL" ] || die "no kernel at $SSI_KERNEL: run 'make kernel'"
  [ -f "$SSI_ROOTFS" ] || die "no node image at $SSI_ROOTFS: run 'make rootfs'"
  [ -x "$SSI_AGENT" ] || die "no $SSI_AGENT: run 'make node'"
  [ -f "$SSI_NODE_DIR/ssi.ko" ] || die "no $SSI_NODE_DIR/ssi.ko: run 'make node'"
  [ "$(id -u)" = 0 ] || die "the cluster harness needs root (network namespace, taps)"
  SSI_NS=ssi-$$
  SSI_RUN=${SSI_RUN:-$SSI_BUILD/runs/$(date +%Y%m%d-%H%M%S)-$$${SSI_RUN_NAME:+-$SSI_RUN_NAME}}
  mkdir -p "$SSI_RUN/cluster"
  chmod 1777 "$SSI_RUN/cluster"
  export SSI_TOP SSI_BUILD SSI_NODE_DIR SSI_AGENT SSI_KERNEL SSI_ROOTFS SSI_NS SSI_RUN
  cluster_reap_stale
  cluster_net_up
}

# cluster_teardown: stop every VM, remove the namespace (and with it the
# bridge and taps). Safe to call twice.
cluster_teardown() {
  local pidf pid
  for pidf in "$SSI_RUN"/node*.pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pidf in "$SSI_RUN"/node*.pid; do
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidf"
  done
  ip netns delete "$SSI_NS" 2>/dev/null || true
  rm -f "$SSI_RUN"/node*.agent
}

# cluster_console_marks: note each console's size; cluster_check_consoles
# then reads only what came after (one scenario's share of a cluster).
declare -gA SSI_CONSOLE_SEEN=()
cluster_console_marks() {
  local f
  for f in "$SSI_RUN"/node*.console; do [ -f "$f" ] && SSI_CONSOLE_SEEN[$f]=$(stat -c %s "$f"); done
  return 0
}

# cluster_check_consoles: fail if any console shows a kernel problem (since
# the last cluster_console_marks).
cluster_check_consoles() {
  local f bad=0
  for f in "$SSI_RUN"/node*.console; do
    [ -f "$f" ] || continue
    if tail -c +$((${SSI_CONSOLE_SEEN[$f]:-0} + 1)) "$f" | grep -Ea "$SSI_CONSOLE_BAD" > "$f.bad"; then
      printf 'console of %s shows kernel problems:\n' "$(basename "$f" .console)" >&2
      head -20 "$f.bad" | sed 's/^/    /' >&2
      bad=1
    else
      rm -f "$f.bad"
    fi
  done
  return $bad
}
