# ssi.ko unloads and reloads cleanly, again and again, with no kernel
# warning and no leaked memory (kmemleak).
# ssi-nodes: 2
# ssi-kernel-args: kmemleak=on
kml=/sys/kernel/debug/kmemleak
for n in 1 2; do
  on $n "test -e $kml" || fail "kmemleak is not enabled on node $n"
  on $n "echo clear > $kml"
done
# Node 1 cycles the module while node 2 does too, with identity set each time
# and the files read in between.
for n in 1 2; do
  on $n 'for i in $(seq 10); do
      rmmod ssi || exit 1
      test ! -e /proc/ssi || { echo "/proc/ssi still there after rmmod"; exit 1; }
      test ! -e /sys/kernel/config/ssi || { echo "configfs dir still there after rmmod"; exit 1; }
      insmod /opt/ssi/ssi.ko || exit 1
      echo $i > /sys/kernel/config/ssi/node_id || exit 1
      cat /proc/ssi/version /proc/ssi/node /sys/kernel/config/ssi/address > /dev/null || exit 1
    done' || fail "reload cycle failed on node $n"
  expect_eq "node $n node_id after reloads" "$(on $n cat /sys/kernel/config/ssi/node_id)" 10
  expect_eq "loads logged on node $n" "$(on $n 'dmesg | grep -c "ssi: loaded: release"')" 11
  expect_eq "unloads logged on node $n" "$(on $n 'dmesg | grep -c "ssi: unloading"')" 10
done
# kmemleak reports objects unreferenced across two scans, older than 5 s.
for n in 1 2; do
  leaks=$(on $n "sleep 6; echo scan > $kml; sleep 1; echo scan > $kml; cat $kml")
  [ -z "$leaks" ] || fail "kmemleak on node $n after reloads:
$leaks"
done
