# ssi-nodes: 3
# ssi-timeout: 2400
# ssi-kernel-args: kmemleak=on
# Not in the suite (kmemleak makes the group about 2 minutes longer, and
# make test has no room for it): the whole ha group (54, 55, 56) on one
# cluster booted with kmemleak, then a scan on nodes 1 and 3 (56 kills
# node 2 at its end). Run it with
#   qemu-tests/run qemu-tests/extra/ha-kmemleak.sh
# Last run: 2026-12-07, passed (no leak on either node).
kml=/sys/kernel/debug/kmemleak
wait_view 180 "1 2 3" 1 2 3
for n in 1 2 3; do on $n "echo clear > $kml"; done
for s in 54-ha-restart 55-ha-replicas 56-ha-increments; do
  log "=== $s"
  source "$SSI_TOP/qemu-tests/scenarios/$s.sh"
done
for n in 1 3; do
  leaks=$(on $n "sleep 6; echo scan > $kml; sleep 1; echo scan > $kml; cat $kml")
  [ -z "$leaks" ] || fail "kmemleak on node $n after the ha group:
$leaks"
  log "node $n: no leak"
done
