# 20 rmmod/insmod cycles on one node while the others run: its files go
# away and come back, it leaves and rejoins each time (new incarnation),
# every load and unload is logged, and kmemleak finds nothing. (This also
# covers the foundation's "unload/reload 10 times" check.)
# ssi-kernel-args: kmemleak=on
# ssi-timeout: 1500
wait_view 90 "1 2 3" 1 2 3
kml=/sys/kernel/debug/kmemleak
on 2 "echo clear > $kml"
secret=$(on 2 "sed -n 's/.*ssi.secret=\([^ ]*\).*/\1/p' /proc/cmdline")
for i in $(seq 20); do
  inc=$(node_field 1 2 5)
  on 2 "rmmod ssi &&
        test ! -e /proc/ssi && test ! -e /sys/kernel/config/ssi &&
        insmod /opt/ssi/ssi.ko && cd /sys/kernel/config/ssi &&
        echo 2 > node_id && echo 10.99.0.12 > address && echo '$secret' > secret &&
        echo 10.99.0.11,10.99.0.13 > seeds && echo 1 > enabled &&
        cat /proc/ssi/version /proc/ssi/node /proc/ssi/nodes > /dev/null" || fail "cycle $i failed"
  wait_for 60 "node 1 to see node 2 back (cycle $i)" \
    eval '[ "$(node_field 1 2 4)" = alive ] && [ "$(node_field 1 2 5)" != "'"$inc"'" ]'
done
on 1 "dmesg | grep -c 'ssi: node 2 left the cluster'" | grep -qx 20 || fail "node 1 did not see 20 graceful leaves"
expect_eq "loads logged on node 2" "$(on 2 'dmesg | grep -c "ssi: loaded: release"')" 21
expect_eq "unloads logged on node 2" "$(on 2 'dmesg | grep -c "ssi: unloading"')" 20
wait_view 60 "1 2 3" 1 2 3
leaks=$(on 2 "sleep 6; echo scan > $kml; sleep 1; echo scan > $kml; cat $kml")
[ -z "$leaks" ] || fail "kmemleak on node 2 after 20 reloads:
$leaks"
