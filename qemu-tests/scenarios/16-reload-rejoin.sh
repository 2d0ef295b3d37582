# 10 rmmod/insmod cycles on one node while the others run: its files go
# away and come back, it leaves and rejoins each time (new incarnation),
# every load and unload is logged, and kmemleak finds nothing (the
# foundation's "unload/reload 10 times" check). Then, for each migration
# strategy, a process migrated 1 -> 2: rmmod is refused on both nodes while
# it runs (its deputy on node 1, the process and its stand-in files on
# node 2 hold the module); once it ended both nodes unload and reload
# cleanly, and kmemleak finds nothing on either (issue 19).
# ssi-kernel-args: kmemleak=on
# ssi-timeout: 900
wait_view 90 "1 2 3" 1 2 3
kml=/sys/kernel/debug/kmemleak
on 2 "echo clear > $kml"
secret=$(on 2 "sed -n 's/.*ssi.secret=\([^ ]*\).*/\1/p' /proc/cmdline")
reload() { # N: rmmod, insmod, configure and join node N again
  on "$1" "rmmod ssi &&
        test ! -e /proc/ssi && test ! -e /sys/kernel/config/ssi &&
        insmod /opt/ssi/ssi.ko && cd /sys/kernel/config/ssi &&
        echo $1 > node_id && echo 10.99.0.1$1 > address && echo '$secret' > secret &&
        echo 10.99.0.11,10.99.0.12,10.99.0.13 > seeds && echo /opt/ssi/bin/ssi-ctl > ctl_path &&
        echo 1 > enabled &&
        cat /proc/ssi/version /proc/ssi/node /proc/ssi/nodes > /dev/null"
}
for i in $(seq 10); do
  inc=$(node_field 1 2 5)
  reload 2 || fail "cycle $i failed"
  wait_for 60 "node 1 to see node 2 back (cycle $i)" \
    eval '[ "$(node_field 1 2 4)" = alive ] && [ "$(node_field 1 2 5)" != "'"$inc"'" ]'
done
on 1 "dmesg | grep -c 'ssi: node 2 left the cluster'" | grep -qx 10 || fail "node 1 did not see 10 graceful leaves"
expect_eq "loads logged on node 2" "$(on 2 'dmesg | grep -c "ssi: loaded: release"')" 11
expect_eq "unloads logged on node 2" "$(on 2 'dmesg | grep -c "ssi: unloading"')" 10
wait_view 60 "1 2 3" 1 2 3
leaks=$(on 2 "sleep 6; echo scan > $kml; sleep 1; echo scan > $kml; cat $kml")
[ -z "$leaks" ] || fail "kmemleak on node 2 after 10 reloads:
$leaks"

# --- rmmod with migrated processes present, each strategy.
on 1 "echo clear > $kml"
on 2 "echo clear > $kml"
for s in eager precopy postcopy lazy; do
  on 1 "(ssi-wl-lines 100000 100 > /cluster/$s.out; echo status=\$? > /tmp/$s.status) > /dev/null 2>&1 &"
  wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
  pid=$(on 1 pgrep-here -x ssi-wl-lines)
  out=$(on_timeout 300 1 "ssi-ctl migrate --strategy $s $pid 2 2>&1; echo rc=\$?")
  expect_match "$s: migrated 1 -> 2" "$out" "rc=0"
  expect_match "$s: rmmod refused where its deputy is" "$(on 1 "rmmod ssi 2>&1; echo rc=\$?")" "is in use"
  expect_match "$s: rmmod refused where it runs" "$(on 2 "rmmod ssi 2>&1; echo rc=\$?")" "is in use"
  expect_eq "$s: node 1 still has its module" "$(on 1 "test -e /proc/ssi/migrations && echo yes")" yes
  on 1 "kill -TERM $pid"
  wait_on 60 1 "test -s /tmp/$s.status"
  expect_eq "$s: the signal still reaches it" "$(on 1 cat /tmp/$s.status)" "status=143"
  # Post-copy and lazy: the lender and the page server end with it.
  wait_on 60 2 "[ \$(sed -n 's/^hosted: //p' /proc/ssi/migrations) = 0 ]"
  wait_on 60 1 "[ \$(sed -n 's/^lenders: //p' /proc/ssi/migrations) = 0 ]"
done
reload 1 || fail "node 1 did not unload and reload after the migrations"
reload 2 || fail "node 2 did not unload and reload after the migrations"
wait_view 90 "1 2 3" 1 2 3
for n in 1 2; do
  leaks=$(on $n "sleep 6; echo scan > $kml; sleep 1; echo scan > $kml; cat $kml")
  [ -z "$leaks" ] || fail "kmemleak on node $n after migrations of each strategy and a reload:
$leaks"
done
