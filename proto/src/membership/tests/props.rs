//! Property tests: random sequences of operations keep the view's
//! invariants, stale messages change nothing, and refused operations leave
//! the view as it was.

extern crate std;
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

#[derive(Debug, Clone)]
enum Op {
    SetLocal(u16, u32),
    UpdateLocal(u32, u64),
    Heartbeat(u16, u32, u32, u64, u64),
    Dead(u16, u32),
    Leave(u16, u32),
    Tick(u64),
    Expire(u64),
    Merge(u64, Vec<(u16, u32, bool)>),
    Forget(u16),
    /// Heartbeats from `k` new nodes, to reach a full table.
    Fill(u16),
}

fn any_id() -> impl Strategy<Value = u16> {
    prop_oneof![
        10 => 1u16..=6,
        3 => 1u16..=4095,
        1 => Just(0u16),
        1 => 4096u16..=u16::MAX,
    ]
}

fn inc() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..4, 1 => any::<u32>()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (any_id(), inc()).prop_map(|(i, n)| Op::SetLocal(i, n)),
        1 => (any::<u32>(), any::<u64>()).prop_map(|(c, m)| Op::UpdateLocal(c, m)),
        10 => (any_id(), inc(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(i, n, c, a, b)| Op::Heartbeat(i, n, c, a, b)),
        4 => (any_id(), inc()).prop_map(|(i, n)| Op::Dead(i, n)),
        3 => (any_id(), inc()).prop_map(|(i, n)| Op::Leave(i, n)),
        4 => prop_oneof![0u64..5000, Just(u64::MAX / 4)].prop_map(Op::Tick),
        3 => (0u64..5000).prop_map(Op::Expire),
        2 => (any::<u64>(), proptest::collection::vec((any_id(), inc(), any::<bool>()), 0..12)).prop_map(|(e, l)| Op::Merge(e, l)),
        1 => any_id().prop_map(Op::Forget),
        1 => (0u16..70).prop_map(Op::Fill),
    ]
}

/// The incarnation an op carries for a remote node, if the op can be
/// stale (older than the known incarnation).
fn remote_inc(op: &Op) -> Option<(u16, u32)> {
    match *op {
        Op::Heartbeat(i, n, ..) | Op::Dead(i, n) | Op::Leave(i, n) => Some((i, n)),
        _ => None,
    }
}

fn check_invariants(v: &View) -> Result<(), TestCaseError> {
    let nodes = v.nodes();
    prop_assert_eq!(nodes.len(), v.len());
    prop_assert!(v.len() <= MAX_NODES);
    // Strictly sorted: at most one entry per id.
    prop_assert!(nodes.windows(2).all(|w| w[0].id < w[1].id));
    prop_assert!(nodes.iter().all(|n| n.id.is_valid()));
    // Totals are the sums over alive nodes.
    let mut t = Totals::default();
    for n in nodes.iter().filter(|n| n.state == NodeState::Alive) {
        t.alive_nodes += 1;
        t.cpus = t.cpus.saturating_add(n.resources.cpus);
        t.mem_total_kib = t.mem_total_kib.saturating_add(n.resources.mem_total_kib);
        t.mem_free_kib = t.mem_free_kib.saturating_add(n.resources.mem_free_kib);
    }
    prop_assert_eq!(v.totals(), t);
    // The local node is always there and alive.
    if let Some(l) = v.local() {
        prop_assert_eq!(v.get(l).map(|n| n.state), Some(NodeState::Alive));
    }
    // A join reply of the view round-trips through the wire format.
    let mut jr = JoinReply::default();
    v.fill_join_reply(&mut jr);
    prop_assert_eq!(usize::from(jr.count), v.len());
    let mut buf = [0u8; JoinReply::MAX_LEN];
    let n = jr
        .encode(&mut buf)
        .map_err(|e| TestCaseError::fail(e.describe()))?;
    prop_assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_operation_sequences(ops in proptest::collection::vec(op(), 0..80)) {
        let mut v = View::new();
        let mut now = 0u64;
        for op in ops {
            let before = v.clone();
            let stale = remote_inc(&op).and_then(|(i, n)| {
                let known = v.get(NodeId(i))?;
                let is_stale = match op {
                    Op::Dead(..) => n != known.incarnation,
                    _ => incarnation_newer(known.incarnation, n),
                };
                Some(is_stale)
            }).unwrap_or(false);
            let changed: usize = match op.clone() {
                Op::SetLocal(i, n) => {
                    usize::from(v.set_local(NodeId(i), n, [1; 4], 7070).is_ok_and(Change::is_change))
                }
                Op::UpdateLocal(cpus, mem) => {
                    let _ = v.update_local(res(cpus, mem, mem / 2), now);
                    0
                }
                Op::Heartbeat(i, n, cpus, a, b) => {
                    let r = v.on_heartbeat(NodeId(i), n, [2; 4], 1, res(cpus, a.max(b), a.min(b)), now);
                    if let Ok(c) = r {
                        let node = v.get(NodeId(i)).copied();
                        match c {
                            Change::Joined(_) => prop_assert!(before.get(NodeId(i)).is_none()),
                            Change::Rejoined(_) => prop_assert!(before.get(NodeId(i)).is_some_and(|o| incarnation_newer(n, o.incarnation))),
                            _ => {}
                        }
                        if c.is_change() {
                            prop_assert_eq!(node.map(|x| (x.state, x.incarnation, x.last_heard)), Some((NodeState::Alive, n, now)));
                        }
                    }
                    usize::from(r.is_ok_and(Change::is_change))
                }
                Op::Dead(i, n) => {
                    let r = v.on_node_dead(NodeId(i), n);
                    if r == Ok(Change::Died(NodeId(i))) {
                        prop_assert_eq!(v.get(NodeId(i)).map(|x| (x.state, x.incarnation)), Some((NodeState::Dead, n)));
                    }
                    usize::from(r.is_ok_and(Change::is_change))
                }
                Op::Leave(i, n) => usize::from(v.on_leave(NodeId(i), n).is_ok_and(Change::is_change)),
                Op::Tick(d) => {
                    now = now.saturating_add(d);
                    0
                }
                Op::Expire(after) => {
                    let c = v.expire(now, after);
                    for ch in &c {
                        prop_assert!(matches!(ch, Change::Died(_)));
                        prop_assert_ne!(ch.node(), v.local());
                    }
                    // Nothing alive and remote is left overdue.
                    for n in v.iter() {
                        if n.state == NodeState::Alive && Some(n.id) != v.local() {
                            prop_assert!(now.saturating_sub(n.last_heard) <= after);
                        }
                    }
                    c.len()
                }
                Op::Merge(epoch, list) => {
                    let mut jr = JoinReply { view_epoch: epoch, ..JoinReply::default() };
                    for (k, (i, n, alive)) in list.into_iter().enumerate() {
                        jr.entries[k] = NodeEntry { node_id: i, incarnation: n, address: [3; 4], port: 3, alive };
                        jr.count = k as u16 + 1;
                    }
                    let c = v.merge_join_reply(&jr, now);
                    // Second-hand news never touches known nodes' times or resources.
                    for n in before.iter() {
                        let after = v.get(n.id).unwrap();
                        if after.incarnation == n.incarnation {
                            prop_assert_eq!((after.last_heard, after.resources), (n.last_heard, n.resources));
                        }
                    }
                    c.len()
                }
                Op::Fill(k) => {
                    let mut joined = 0;
                    for j in 0..k {
                        match v.on_heartbeat(NodeId(1000 + j), 1, [4; 4], 1, res(1, 1, 1), now) {
                            Ok(c) => joined += usize::from(c.is_change()),
                            Err(MembershipError::LocalNode) => {
                                prop_assert_eq!(v.local(), Some(NodeId(1000 + j)));
                            }
                            Err(e) => {
                                prop_assert_eq!(e, MembershipError::TableFull);
                                prop_assert_eq!(v.len(), MAX_NODES);
                            }
                        }
                    }
                    joined
                }
                Op::Forget(i) => {
                    let r = v.forget(NodeId(i));
                    if r == Ok(true) {
                        prop_assert!(v.get(NodeId(i)).is_none());
                        prop_assert!(before.get(NodeId(i)).is_some_and(|n| n.state != NodeState::Alive));
                    }
                    0
                }
            };
            // The epoch never decreases and counts the changes exactly.
            prop_assert_eq!(v.epoch(), before.epoch() + changed as u64);
            // A stale incarnation never changes anything.
            if stale {
                prop_assert_eq!(&v, &before);
            }
            // Refused operations change nothing.
            check_invariants(&v)?;
            if let Some(l) = before.local() {
                prop_assert_eq!(v.local(), Some(l));
            }
        }
    }

    #[test]
    fn errors_leave_the_view_unchanged(ops in proptest::collection::vec(op(), 0..40), probe in op()) {
        let mut v = View::new();
        for op in ops {
            if let Op::Heartbeat(i, n, ..) = op {
                let _ = v.on_heartbeat(NodeId(i), n, [0; 4], 1, Resources::ZERO, 0);
            }
            if let Op::SetLocal(i, n) = op {
                let _ = v.set_local(NodeId(i), n, [0; 4], 1);
            }
        }
        let before = v.clone();
        let r = match probe {
            Op::SetLocal(i, n) => v.set_local(NodeId(i), n, [0; 4], 1).err(),
            Op::Heartbeat(i, n, ..) => v.on_heartbeat(NodeId(i), n, [0; 4], 1, Resources::ZERO, 0).err(),
            Op::Dead(i, n) => v.on_node_dead(NodeId(i), n).err(),
            Op::Leave(i, n) => v.on_leave(NodeId(i), n).err(),
            Op::Forget(i) => v.forget(NodeId(i)).err(),
            _ => None,
        };
        if r.is_some() {
            prop_assert_eq!(v, before);
        }
    }
}
