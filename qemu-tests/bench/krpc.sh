# make bench-krpc: krpc against userspace TCP between the same two nodes in
# the same run. Prints each pair and the ratio; asserts nothing about speed.
#   round trip, 64 B and 4 KiB: krpc echo   vs sockperf ping-pong (full RTT)
#   throughput, 64 KiB messages: krpc stream vs iperf3
# ssi-nodes: 2
# ssi-timeout: 1800
wait_view 60 "1 2" 1 2
b=/sys/kernel/config/ssi/bench
count=${SSI_BENCH_COUNT:-2000}
on 2 'sockperf server --tcp -i 10.99.0.12 -p 11111 > /tmp/sockperf.log 2>&1 &'
on 2 'iperf3 -s -D -B 10.99.0.12 > /dev/null 2>&1'
sleep 2
krpc_rtt_us() { on 1 "echo 'echo 2 $1 $count' > $b && sed -n 's/^avg_ns: //p' $b" | awk '{printf "%.1f", $1 / 1000}'; }
sockperf_rtt_us() {
  on 1 "sockperf ping-pong --tcp -i 10.99.0.12 -p 11111 -m $1 -t 10 --full-rtt 2>&1" |
    sed -n 's/.*avg-rtt=\([0-9.]*\).*/\1/p; s/.*Summary: Round trip is \([0-9.]*\) usec.*/\1/p' | tail -1
}
krpc_stream_mbs() { on 1 "echo 'stream 2 65536 $1' > $b && sed -n 's/^mb_per_s: //p' $b"; }
iperf_mbs() { on 1 'iperf3 -c 10.99.0.12 -t 10 -f m' | awk '/receiver/ {printf "%.2f", $(NF-2) / 8}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

r64=$(krpc_rtt_us 64); s64=$(sockperf_rtt_us 64)
r4k=$(krpc_rtt_us 4096); s4k=$(sockperf_rtt_us 4096)
kt=$(krpc_stream_mbs 2000); it=$(iperf_mbs)
{
  echo
  echo "krpc benchmark (node 1 -> node 2, qemu TCG, $(date +%F))"
  printf '%-28s %12s %12s %8s\n' measure krpc userspace ratio
  printf '%-28s %12s %12s %8s\n' "round trip 64 B (us)" "$r64" "$s64" "$(ratio "$r64" "$s64")"
  printf '%-28s %12s %12s %8s\n' "round trip 4 KiB (us)" "$r4k" "$s4k" "$(ratio "$r4k" "$s4k")"
  printf '%-28s %12s %12s %8s\n' "throughput 64 KiB (MB/s)" "$kt" "$it" "$(ratio "$kt" "$it")"
  echo "(latency: lower is better, ratio < 1 beats sockperf; throughput: ratio >= 1 matches iperf3)"
} | tee "$SSI_RUN/bench-krpc.txt" >&2
