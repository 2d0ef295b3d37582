# ssi.ko is loaded on every node at boot, logs with its prefix, and shows the
# node's identity in configfs and /proc/ssi. Bad values are refused.
# ssi-timeout: 300
# ssi-cluster: net3
for n in 1 2 3; do
  on $n 'grep -q "^ssi " /proc/modules' || fail "ssi.ko not loaded on node $n"
  expect_eq "node $n node_id" "$(on $n cat /sys/kernel/config/ssi/node_id)" "$n"
  expect_eq "node $n address" "$(on $n cat /sys/kernel/config/ssi/address)" "10.99.0.1$n"
  expect_eq "node $n port" "$(on $n cat /sys/kernel/config/ssi/port)" "7070"
  expect_match "node $n /proc/ssi/version" "$(on $n cat /proc/ssi/version)" '^release: [0-9]+\.[0-9]+\.[0-9]+'
  expect_match "node $n /proc/ssi/node" "$(on $n cat /proc/ssi/node)" "node_id: $n"
  on $n dmesg | grep -q 'ssi: loaded: release' || fail "no 'ssi: loaded' line in node $n's dmesg"
  on $n dmesg | grep -q "ssi: node id set to $n" || fail "no 'ssi: node id set' line on node $n"
done

# Identity cannot change while the node is in the cluster (EBUSY)...
out=$(on 2 '(/bin/echo 42 > /sys/kernel/config/ssi/node_id) 2>&1; echo status=$?')
expect_match "node_id while enabled" "$out" 'busy'
# ...but can once it left; bad input is refused with EINVAL and logged.
on 2 'echo 0 > /sys/kernel/config/ssi/enabled'
on 2 'echo 42 > /sys/kernel/config/ssi/node_id'
expect_eq "node_id after a write" "$(on 2 cat /sys/kernel/config/ssi/node_id)" 42
expect_eq "/proc/ssi/node follows" "$(on 2 "sed -n 's/^node_id: //p' /proc/ssi/node")" 42
# /bin/echo, not the shell's builtin: it reports the errno (dash says only "I/O error").
for bad in 0 4096 -1 abc ''; do
  out=$(on 2 "(/bin/echo '$bad' > /sys/kernel/config/ssi/node_id) 2>&1; echo status=\$?")
  expect_match "writing node_id '$bad'" "$out" 'Invalid argument'
done
for bad in 10.99.0 300.1.1.1 10.099.0.1 'a.b.c.d'; do
  out=$(on 2 "(/bin/echo '$bad' > /sys/kernel/config/ssi/address) 2>&1; echo status=\$?")
  expect_match "writing address '$bad'" "$out" 'Invalid argument'
done
expect_eq "node_id unchanged by bad writes" "$(on 2 cat /sys/kernel/config/ssi/node_id)" 42
expect_eq "address unchanged by bad writes" "$(on 2 cat /sys/kernel/config/ssi/address)" 10.99.0.12
on 2 dmesg | grep -q "ssi: rejected node_id 'abc': not a decimal number" || fail "no rejection message in dmesg"
out=$(on 2 '(/bin/echo 1 > /sys/kernel/config/ssi/version) 2>&1; echo status=$?')
expect_match "read-only version" "$out" 'Permission denied|status=1'

# Node 2 takes its own id again and rejoins: the cluster is as it booted
# (the next scenario of this cluster starts from it).
on 2 'echo 2 > /sys/kernel/config/ssi/node_id && echo 1 > /sys/kernel/config/ssi/enabled'
wait_view 60 "1 2 3" 1 2 3
