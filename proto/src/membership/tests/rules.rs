//! Tests of each operation's rules: the local node, heartbeats,
//! incarnations, death notices, leaves, expiry, and [`Change`]'s helpers.

extern crate std;
use super::*;
use std::vec::Vec;

#[test]
fn any_frame_keeps_a_node_alive() {
    let mut v = View::new();
    v.set_local(id(1), 1, [10, 0, 0, 1], 7070).unwrap();
    v.on_heartbeat(id(2), 5, [10, 0, 0, 2], 7070, Resources::default(), 100)
        .unwrap();
    assert!(v.heard_from(id(2), 5, 4000));
    assert!(v.expire(6000, 5000).is_empty());
    // Another incarnation, an unknown node, the local node: nothing.
    assert!(!v.heard_from(id(2), 6, 9000));
    assert!(!v.heard_from(id(3), 1, 9000));
    assert!(!v.heard_from(id(1), 1, 9000));
    assert_eq!(v.expire(9500, 5000).len(), 1);
    // A dead node is not revived by a late frame.
    assert!(!v.heard_from(id(2), 5, 9600));
}

#[test]
fn node_ids() {
    assert_eq!(NodeId::new(0), None);
    assert_eq!(NodeId::new(1), Some(NodeId(1)));
    assert_eq!(NodeId::new(4095), Some(NodeId(4095)));
    assert_eq!(NodeId::new(4096), None);
    assert_eq!(NodeId(7).get(), 7);
    let mut v = View::new();
    for bad in [0, 4096, u16::MAX] {
        let b = NodeId(bad);
        assert_eq!(v.set_local(b, 1, ADDR, 1), Err(MembershipError::BadNodeId));
        assert_eq!(
            v.on_heartbeat(b, 1, ADDR, 1, Resources::ZERO, 0),
            Err(MembershipError::BadNodeId)
        );
        assert_eq!(v.on_node_dead(b, 1), Err(MembershipError::BadNodeId));
        assert_eq!(v.on_leave(b, 1), Err(MembershipError::BadNodeId));
        assert_eq!(v.forget(b), Err(MembershipError::BadNodeId));
    }
    assert_eq!(v, View::new());
}

#[test]
fn set_local() {
    let mut v = View::default();
    assert_eq!(v.local(), None);
    assert_eq!(
        v.update_local(Resources::ZERO, 0),
        Err(MembershipError::NoLocal)
    );
    assert_eq!(v.set_local(id(5), 1, ADDR, 7070), Ok(Change::Joined(id(5))));
    assert_eq!(v.epoch(), 1);
    assert_eq!(v.local(), Some(id(5)));
    assert_eq!(
        v.set_local(id(6), 1, ADDR, 7070),
        Err(MembershipError::LocalChanged)
    );
    // Same incarnation: only the address changes, not the membership.
    assert_eq!(v.set_local(id(5), 1, [1, 1, 1, 1], 7071), Ok(Change::None));
    assert_eq!(v.epoch(), 1);
    assert_eq!(
        v.get(id(5)).map(|n| (n.address, n.port)),
        Some(([1, 1, 1, 1], 7071))
    );
    assert_eq!(
        v.set_local(id(5), 2, ADDR, 7070),
        Ok(Change::Rejoined(id(5)))
    );
    assert_eq!(v.epoch(), 2);
    assert_eq!(v.update_local(res(4, 100, 50), 9), Ok(()));
    assert_eq!(
        v.totals(),
        Totals {
            alive_nodes: 1,
            cpus: 4,
            mem_total_kib: 100,
            mem_free_kib: 50
        }
    );
    // Peers' messages about the local node are refused and change nothing.
    let before = v.clone();
    assert_eq!(
        v.on_heartbeat(id(5), 99, ADDR, 1, Resources::ZERO, 5),
        Err(MembershipError::LocalNode)
    );
    assert_eq!(v.on_node_dead(id(5), 2), Err(MembershipError::LocalNode));
    assert_eq!(v.on_leave(id(5), 2), Err(MembershipError::LocalNode));
    assert_eq!(v.forget(id(5)), Err(MembershipError::StillAlive));
    assert_eq!(v, before);
}

#[test]
fn set_local_over_a_known_entry() {
    let mut v = View::new();
    assert_eq!(
        v.on_heartbeat(id(2), 3, ADDR, 1, Resources::ZERO, 0),
        Ok(Change::Joined(id(2)))
    );
    assert_eq!(v.set_local(id(2), 3, ADDR, 1), Ok(Change::None));
    assert_eq!(v.len(), 1);
    let mut v = View::new();
    v.on_heartbeat(id(2), 3, ADDR, 1, Resources::ZERO, 0)
        .unwrap();
    v.on_node_dead(id(2), 3).unwrap();
    assert_eq!(v.set_local(id(2), 3, ADDR, 1), Ok(Change::Rejoined(id(2))));
    assert_eq!(v.get(id(2)).map(|n| n.state), Some(NodeState::Alive));
}

#[test]
fn heartbeat_rules() {
    let mut v = view_with_local();
    let r1 = res(2, 1000, 500);
    let r2 = res(2, 1000, 400);
    // Unknown: joins.
    assert_eq!(
        v.on_heartbeat(id(3), 10, ADDR, 7070, r1, 100),
        Ok(Change::Joined(id(3)))
    );
    assert_eq!(v.epoch(), 2);
    let n = *v.get(id(3)).unwrap();
    assert_eq!(
        (n.state, n.incarnation, n.last_heard, n.resources),
        (NodeState::Alive, 10, 100, r1)
    );
    // Same incarnation: refresh only.
    assert_eq!(
        v.on_heartbeat(id(3), 10, ADDR, 7070, r2, 200),
        Ok(Change::None)
    );
    assert_eq!(v.epoch(), 2);
    let n = *v.get(id(3)).unwrap();
    assert_eq!((n.last_heard, n.resources), (200, r2));
    // Older incarnation: stale, nothing changes.
    let before = v.clone();
    assert_eq!(
        v.on_heartbeat(id(3), 9, [9; 4], 1, r1, 300),
        Ok(Change::None)
    );
    assert_eq!(v, before);
    // Newer incarnation: rejoins.
    assert_eq!(
        v.on_heartbeat(id(3), 11, [9; 4], 1, r1, 400),
        Ok(Change::Rejoined(id(3)))
    );
    assert_eq!(v.epoch(), 3);
    let n = *v.get(id(3)).unwrap();
    assert_eq!(
        (n.state, n.incarnation, n.address, n.port, n.last_heard),
        (NodeState::Alive, 11, [9; 4], 1, 400)
    );
}

#[test]
fn incarnations_compare_across_wrap() {
    assert!(incarnation_newer(2, 1));
    assert!(!incarnation_newer(1, 2));
    assert!(!incarnation_newer(5, 5));
    assert!(incarnation_newer(3, u32::MAX - 2));
    assert!(!incarnation_newer(u32::MAX - 2, 3));
}

#[test]
fn dead_nodes_revive_only_with_a_newer_incarnation() {
    let mut v = view_with_local();
    v.on_heartbeat(id(3), 10, ADDR, 1, res(1, 1, 1), 0).unwrap();
    assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::Died(id(3))));
    let e = v.epoch();
    let before = v.clone();
    assert_eq!(
        v.on_heartbeat(id(3), 10, ADDR, 1, res(8, 8, 8), 50),
        Ok(Change::None)
    );
    assert_eq!(v, before);
    assert_eq!(
        v.on_heartbeat(id(3), 11, ADDR, 1, res(8, 8, 8), 50),
        Ok(Change::Rejoined(id(3)))
    );
    assert_eq!(v.epoch(), e + 1);
    assert_eq!(v.get(id(3)).map(|n| n.state), Some(NodeState::Alive));
    // Same for departed nodes.
    assert_eq!(v.on_leave(id(3), 11), Ok(Change::Left(id(3))));
    let before = v.clone();
    assert_eq!(
        v.on_heartbeat(id(3), 11, ADDR, 1, res(8, 8, 8), 60),
        Ok(Change::None)
    );
    assert_eq!(v, before);
    assert_eq!(
        v.on_heartbeat(id(3), 12, ADDR, 1, res(8, 8, 8), 60),
        Ok(Change::Rejoined(id(3)))
    );
}

#[test]
fn node_dead_rules() {
    let mut v = view_with_local();
    assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::None)); // unknown
    assert_eq!(v.len(), 1);
    v.on_heartbeat(id(3), 10, ADDR, 1, Resources::ZERO, 0)
        .unwrap();
    let before = v.clone();
    assert_eq!(v.on_node_dead(id(3), 9), Ok(Change::None)); // stale
    assert_eq!(v.on_node_dead(id(3), 11), Ok(Change::None)); // not the known incarnation
    assert_eq!(v, before);
    assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::Died(id(3))));
    assert_eq!(v.epoch(), before.epoch() + 1);
    assert_eq!(v.on_node_dead(id(3), 10), Ok(Change::None)); // already dead
    assert_eq!(v.epoch(), before.epoch() + 1);
}

#[test]
fn leave_rules() {
    let mut v = view_with_local();
    assert_eq!(v.on_leave(id(3), 10), Ok(Change::None)); // unknown
    v.on_heartbeat(id(3), 10, ADDR, 1, Resources::ZERO, 0)
        .unwrap();
    let before = v.clone();
    assert_eq!(v.on_leave(id(3), 9), Ok(Change::None)); // stale
    assert_eq!(v, before);
    assert_eq!(v.on_leave(id(3), 10), Ok(Change::Left(id(3))));
    assert_eq!(v.get(id(3)).map(|n| n.state), Some(NodeState::Left));
    assert_eq!(v.on_leave(id(3), 10), Ok(Change::None)); // already left
                                                         // A dead node can still leave; a newer incarnation is recorded.
    v.on_heartbeat(id(4), 1, ADDR, 1, Resources::ZERO, 0)
        .unwrap();
    v.on_node_dead(id(4), 1).unwrap();
    assert_eq!(v.on_leave(id(4), 1), Ok(Change::Left(id(4))));
    v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0)
        .unwrap();
    assert_eq!(v.on_leave(id(5), 3), Ok(Change::Left(id(5))));
    assert_eq!(
        v.get(id(5)).map(|n| (n.state, n.incarnation)),
        Some((NodeState::Left, 3))
    );
    assert_eq!(v.totals().alive_nodes, 1);
}

#[test]
fn expiry() {
    let mut v = view_with_local();
    v.on_heartbeat(id(2), 1, ADDR, 1, Resources::ZERO, 1000)
        .unwrap();
    v.on_heartbeat(id(3), 1, ADDR, 1, Resources::ZERO, 2000)
        .unwrap();
    v.on_heartbeat(id(4), 1, ADDR, 1, Resources::ZERO, 500)
        .unwrap();
    v.on_node_dead(id(4), 1).unwrap();
    let e = v.epoch();
    // Exactly dead_after old: still alive.
    assert!(v.expire(4000, 3000).is_empty());
    // Clock before last_heard: nothing expires.
    assert!(v.expire(0, 0).is_empty());
    let c = v.expire(4001, 3000);
    assert_eq!(c.as_slice(), &[Change::Died(id(2))]);
    assert_eq!(v.epoch(), e + 1);
    let c = v.expire(u64::MAX, 0);
    assert_eq!(c.len(), 1);
    assert_eq!(c.iter().copied().collect::<Vec<_>>(), [Change::Died(id(3))]);
    assert!(!c.table_full());
    assert_eq!(v.epoch(), e + 2);
    // The local node never expires.
    assert_eq!(v.get(id(1)).map(|n| n.state), Some(NodeState::Alive));
    assert!(v.expire(u64::MAX, 0).is_empty());
    assert_eq!(v.totals().alive_nodes, 1);
}

#[test]
fn change_helpers() {
    assert!(!Change::None.is_change());
    assert_eq!(Change::None.node(), None);
    for c in [
        Change::Joined(id(2)),
        Change::Rejoined(id(2)),
        Change::Died(id(2)),
        Change::Left(id(2)),
    ] {
        assert!(c.is_change());
        assert_eq!(c.node(), Some(id(2)));
        assert!(!c.describe().is_empty());
    }
    for s in [NodeState::Alive, NodeState::Dead, NodeState::Left] {
        assert!(!s.name().is_empty());
    }
    for e in [
        MembershipError::BadNodeId,
        MembershipError::TableFull,
        MembershipError::LocalNode,
        MembershipError::LocalChanged,
        MembershipError::StillAlive,
        MembershipError::NoLocal,
    ] {
        assert!(!e.describe().is_empty());
    }
    let mut count = 0;
    for _ in &Changes::new() {
        count += 1;
    }
    assert_eq!(count, 0);
}

/// A view of nodes 1..=n (local `me`) with the nodes of `dead` dead.
fn partition_view(me: u16, n: u16, dead: &[u16]) -> View {
    let mut v = View::new();
    v.set_local(id(me), 1, ADDR, 7070).unwrap();
    for i in (1..=n).filter(|&i| i != me) {
        v.on_heartbeat(id(i), 1, ADDR, 7070, Resources::default(), 0)
            .unwrap();
    }
    for &d in dead {
        v.on_node_dead(id(d), 1).unwrap();
    }
    v
}

fn reply_of(v: &View) -> JoinReply {
    let mut r = JoinReply::EMPTY;
    v.fill_join_reply(&mut r);
    r
}

#[test]
fn only_the_smaller_side_of_a_healed_partition_rejoins() {
    // {1, 2} | {3}: both sides declared the other dead.
    let one = partition_view(1, 3, &[3]);
    let three = partition_view(3, 3, &[1, 2]);
    assert!(!one.should_rejoin(id(3), &reply_of(&three)));
    assert!(three.should_rejoin(id(1), &reply_of(&one)));
    // A teller this node believes alive is believed: this node was cut off.
    let two = partition_view(2, 3, &[]);
    assert!(two.should_rejoin(id(1), &reply_of(&one)));
    // Equal sides {1} | {2}: the higher id rejoins, exactly one of them.
    let a = partition_view(1, 2, &[2]);
    let b = partition_view(2, 2, &[1]);
    assert!(!a.should_rejoin(id(2), &reply_of(&b)));
    assert!(b.should_rejoin(id(1), &reply_of(&a)));
}
