# A node cut off the network for longer than dead_after is declared dead
# (and sees the others dead); when the link returns it rejoins cleanly, with
# no duplicate entries.
# ssi-timeout: 300
# ssi-cluster: net3
wait_view 60 "1 2 3" 1 2 3
dead=$(on 1 cat /sys/kernel/config/ssi/dead_after_ms)
link_down 2
wait_view $((dead / 1000 + 10)) "1 3" 1 3
wait_view $((dead / 1000 + 10)) "2" 2
link_up 2
wait_view 60 "1 2 3" 1 2 3
for n in 1 2 3; do
  expect_eq "entries on node $n" "$(on $n "awk 'NR>1' /proc/ssi/nodes | wc -l")" 3
  expect_eq "distinct ids on node $n" "$(on $n "awk 'NR>1 {print \$1}' /proc/ssi/nodes | sort -u | wc -l")" 3
done
