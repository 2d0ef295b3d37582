# Garbage, truncated frames, huge lengths, wrong proofs, frames with bad
# MACs and replays, thousands of them, sent to node 1's krpc port from
# node 3's userspace: no oops, no hang, counters rise, the cluster stays whole.
# ssi-timeout: 600
# ssi-cluster: net3
wait_view 60 "1 2 3" 1 2 3
secret=$(on 1 "sed -n 's/.*ssi.secret=\([^ ]*\).*/\1/p' /proc/cmdline")
for k in malformed refused_busy auth_failures bad_macs replays; do eval "before_$k=$(krpc_stat 1 $k)"; done
on 3 krpc-abuse 10.99.0.11:7070 garbage 2000
on 3 krpc-abuse 10.99.0.11:7070 truncated 300
on 3 krpc-abuse 10.99.0.11:7070 huge 300
on 3 krpc-abuse 10.99.0.11:7070 badproof 100
on 3 krpc-abuse 10.99.0.11:7070 badmac 100 "$secret"
on 3 krpc-abuse 10.99.0.11:7070 replay 100 "$secret"
on 3 'for i in 1 2 3 4 5 6 7 8; do krpc-abuse 10.99.0.11:7070 slow 1 & done; wait'
# Authenticated but hostile: requests of the process space's, control's,
# scheduler's and high availability's types (ProcList, MigrateAsk,
# ProcSignal, NodeStats, SchedChange, SchedOffer, HaCheckpoint, HaDone,
# HaDigest, HaVerdict, HaReplica)
# with bodies empty, a byte short or long, random, all ones or of random length. Each is
# answered (mostly with an error) on a connection that stays up.
out=$(on 3 krpc-abuse 10.99.0.11:7070 bodies 2 "$secret")
log "$out"
expect_eq "hostile bodies: every request answered" "$(grep -c '^bodies: 720 answered' <<<"$out")" 2
# Each connection is either read and refused as malformed, or (when too
# many are in progress) closed at once and counted as refused_busy. The
# last ones may still be in the node's hands when the attacker is done.
rejected() { echo $(( $(krpc_stat 1 malformed) - before_malformed + $(krpc_stat 1 refused_busy) - before_refused_busy )); }
all_rejected() { [ "$(rejected)" -ge 2600 ]; }
wait_for 30 "node 1 to count the 2600 malformed connections (so far $(rejected))" all_rejected
[ "$(krpc_stat 1 malformed)" -ge $((before_malformed + 1000)) ] || fail "malformed did not rise by 1000"
[ "$(krpc_stat 1 auth_failures)" -ge $((before_auth_failures + 100)) ] || fail "auth_failures did not rise by 100"
[ "$(krpc_stat 1 bad_macs)" -ge $((before_bad_macs + 100)) ] || fail "bad_macs did not rise by 100"
[ "$(krpc_stat 1 replays)" -ge $((before_replays + 100)) ] || fail "replays did not rise by 100"
# The cluster is whole and node 1 still answers (the fake node 4000 from
# the tool's accepted handshakes is declared dead, it sent no heartbeats).
wait_view 60 "1 2 3" 1 2 3
on 1 'cat /proc/ssi/krpc' >&2
