# Harness self-test, kept out of the default scenarios: this scenario itself
# succeeds, but a node's console shows a kernel WARNING line, so the harness
# must report it as failed. qemu-tests/run-all checks that it does.
# ssi-nodes: 1
# ssi-timeout: 300
on 1 'echo "<2>WARNING: ssi harness self-test (deliberate)" > /dev/kmsg'
