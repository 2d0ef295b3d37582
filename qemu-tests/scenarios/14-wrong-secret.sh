# A node with the wrong secret is refused; the three good nodes carry on
# and count the refusals.
# ssi-nodes: 4
# ssi-boot: 1 2 3
# ssi-timeout: 300
wait_view 60 "1 2 3" 1 2 3
SSI_SECRET_4=not-the-cluster-secret node_start 4
# Node 4 tries every seed each second; give it time to be refused a few times.
wait_for 60 "nodes 1-3 to count node 4's refusals" \
  eval '[ "$(krpc_stat 1 auth_failures)" -gt 0 ] && [ "$(krpc_stat 2 auth_failures)" -gt 0 ] && [ "$(krpc_stat 3 auth_failures)" -gt 0 ]'
sleep 5
wait_view 10 "1 2 3" 1 2 3
expect_eq "node 4's own view" "$(alive_ids 4)" 4
on 1 dmesg | grep -q 'refused connection with 10.99.0.14: wrong cluster secret' || fail "refusal not logged on node 1"
