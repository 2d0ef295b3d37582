# A fourth node booted later joins by itself; all four agree.
# ssi-nodes: 4
# ssi-boot: 1 2 3
# ssi-timeout: 300
wait_view 60 "1 2 3" 1 2 3
before=$(on 1 "sed -n 's/^cpus: //p' /proc/ssi/resources")
node_start 4
wait_view 60 "1 2 3 4" 1 2 3 4
after=$(on 1 "sed -n 's/^cpus: //p' /proc/ssi/resources")
expect_eq "cpus after node 4 joined" "$after" "$((before + $(on 4 nproc)))"
