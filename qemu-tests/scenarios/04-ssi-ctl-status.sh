# ssi-ctl status shows the module and the node's identity, as a table and as
# JSON, and says clearly when the module is not loaded.
# ssi-nodes: 2
# ssi-timeout: 300
out=$(on 1 ssi-ctl status)
expect_match "status: module line" "$out" 'module: +ssi.ko loaded \(release [0-9.]+, interface 1\)'
expect_match "status: node id" "$out" 'node id: +1$'
expect_match "status: address" "$out" 'address: +10\.99\.0\.11'
json=$(on 2 ssi-ctl status --json)
expect_match "status --json" "$json" '"loaded":true.*"node_id":2,"address":"10\.99\.0\.12","port":7070'
on 2 ssi-ctl --version | grep -Eq '^ssi-ctl [0-9]+\.[0-9]+\.[0-9]+$' || fail "ssi-ctl --version"

on 2 rmmod ssi
set +e
err=$(on 2 ssi-ctl status 2>&1); st=$?
set -e
expect_eq "ssi-ctl status exit code without the module" "$st" 3
expect_match "ssi-ctl status message without the module" "$err" 'not loaded'
on 2 insmod /opt/ssi/ssi.ko
expect_match "status after reload" "$(on 2 ssi-ctl status)" 'node id: +not set'
set +e; on 2 ssi-ctl frobnicate >/dev/null 2>&1; st=$?; set -e
expect_eq "unknown subcommand exit code" "$st" 2
