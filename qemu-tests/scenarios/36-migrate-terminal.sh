# ssi-nodes: 2
# ssi-cluster: pair
# ssi-timeout: 300
# A process on a terminal migrates (issue 19): started under a pty by
# `script` on node 1 and migrated to node 2, its output still reaches the
# terminal, and Ctrl-C typed on that terminal (SIGINT from the line
# discipline to the foreground process group, where its deputy is) ends
# it: `script` sees it killed by SIGINT (130), nothing of it is left. isatty() is false on node 2 (its
# terminal is a stand-in file there; docs/migration.md, Known limits).
. "$1/lib/ssi.sh"
wait_view 90 "1 2" 1 2

# A background job of a non-interactive shell ignores SIGINT: env gives
# the program the default action back, as a login shell's job would have.
on 1 "(script -q -e -f -c 'exec env --default-signal=INT ssi-wl-lines 100000 50' /tmp/tty.log < /dev/null > /dev/null 2>&1; echo status=\$? > /tmp/tty.status) > /dev/null 2>&1 &"
wait_on 20 1 'pgrep-here -x ssi-wl-lines > /dev/null'
pid=$(on 1 pgrep-here -x ssi-wl-lines)
tty=$(on 1 "readlink /proc/$pid/fd/1")
expect_match "it runs on a pty" "$tty" "^/dev/pts/[0-9]+$"
wait_on 20 1 "grep -q 'line 5' /tmp/tty.log"
out=$(on 1 "ssi-ctl migrate $pid 2 2>&1; echo rc=\$?")
expect_match "migrated to node 2" "$out" "rc=0"
rpid=$(echo "$out" | sed -n 's/.* as pid \([0-9]*\).*/\1/p')
expect_eq "it runs on node 2" "$(on 2 "cat /proc/$rpid/comm")" ssi-wl-lines
at=$(on 1 "grep -c '^line' /tmp/tty.log")
wait_on 30 1 "[ \$(grep -c '^line' /tmp/tty.log) -gt $((at + 20)) ]"
# (The last line may be half written while the process runs: left out.)
expect_eq "its lines reach the terminal once, in order" \
  "$(on 1 "tr -d '\r' < /tmp/tty.log | sed '\$d' | awk '/^line/ && \$2 != ++n {print n; exit}'")" ""
# Ctrl-C typed on the terminal (TIOCSTI, as root: the character enters the
# terminal's input as if typed, and its line discipline sends SIGINT).
on 1 "perl -e 'open(my \$t, \"+<\", \"$tty\") or die \$!; my \$c = \"\\x03\"; ioctl(\$t, 0x5412, \$c) or die \"TIOCSTI: \$!\"'"
wait_on 30 1 'test -s /tmp/tty.status'
expect_eq "script sees it killed by SIGINT" "$(on 1 cat /tmp/tty.status)" "status=130"
wait_on 30 2 "! kill -0 $rpid 2> /dev/null"
expect_eq "the deputy is gone" "$(on 1 "ps -o comm= -p $pid; true")" ""
# SIGINT's default action ends the process: the kernel makes it a group
# exit (SIGKILL) before the deputy looks, so the deputy ends by SIGINT
# (status 130 above) and ends the process on node 2 with SIGKILL.
expect_match "the deputy ended it on node 2" "$(on 1 "dmesg | grep 'pid $pid: killed'")" "SIGKILL sent to pid $rpid on node 2"
