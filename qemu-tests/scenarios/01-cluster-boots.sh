# The cluster boots: every node is up with its own name and address, nodes
# reach each other over the bridge, and /cluster is one directory shared by
# all nodes and the host.
# ssi-timeout: 300
# ssi-cluster: net3
for n in 1 2 3; do
  expect_eq "hostname of node $n" "$(on $n hostname)" "node$n"
  expect_match "address of node $n" "$(on $n ip -4 -o addr show dev eth0)" "inet 10\.99\.0\.1$n/24"
done
on 1 ping -c 1 -W 5 10.99.0.12 >/dev/null || fail "node 1 cannot reach node 2"
on 3 ping -c 1 -W 5 10.99.0.11 >/dev/null || fail "node 3 cannot reach node 1"
on 2 'ssh -o ConnectTimeout=20 node3 hostname' | grep -qx node3 || fail "ssh from node 2 to node 3 failed"

# /cluster: written on one node, read on the others and on the host.
on 1 'echo "from node1" > /cluster/hello'
expect_eq "node 2 reads /cluster/hello" "$(on 2 cat /cluster/hello)" "from node1"
expect_eq "host reads /cluster/hello" "$(cat "$(cluster_dir)/hello")" "from node1"
echo "from host" > "$(cluster_dir)/back"
expect_eq "node 3 reads a host file" "$(on 3 cat /cluster/back)" "from host"
# cache=none: an update on one node is seen at once by another.
on 2 'echo updated > /cluster/hello'
expect_eq "node 1 sees node 2's update" "$(on 1 cat /cluster/hello)" "updated"

# The tools the later issues need are on the nodes.
on 1 'command -v ps top criu iperf3 sockperf rdma ibv_devices ssh' >/dev/null \
  || fail "a node tool is missing: $(on 1 'for t in ps top criu iperf3 sockperf rdma ibv_devices ssh; do command -v $t >/dev/null || echo $t; done')"
# The agent's exit status and stderr pass through.
set +e; on 2 'echo oops >&2; exit 7' 2>/dev/null; st=$?; set -e
expect_eq "exit status through the agent" "$st" 7
