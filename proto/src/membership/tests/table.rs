//! Tests of the table as a whole: totals over the alive nodes, a full
//! table and [`View::forget`], join replies made and merged.

extern crate std;
use super::*;

#[test]
fn totals_over_alive_nodes() {
    let mut v = view_with_local();
    v.update_local(res(4, 1000, 100), 0).unwrap();
    v.on_heartbeat(id(2), 1, ADDR, 1, res(8, 2000, 200), 0)
        .unwrap();
    v.on_heartbeat(id(3), 1, ADDR, 1, res(16, 4000, 400), 0)
        .unwrap();
    assert_eq!(
        v.totals(),
        Totals {
            alive_nodes: 3,
            cpus: 28,
            mem_total_kib: 7000,
            mem_free_kib: 700
        }
    );
    v.on_node_dead(id(3), 1).unwrap();
    assert_eq!(
        v.totals(),
        Totals {
            alive_nodes: 2,
            cpus: 12,
            mem_total_kib: 3000,
            mem_free_kib: 300
        }
    );
    v.on_heartbeat(id(4), 1, ADDR, 1, res(u32::MAX, u64::MAX, u64::MAX), 0)
        .unwrap();
    assert_eq!(
        v.totals(),
        Totals {
            alive_nodes: 3,
            cpus: u32::MAX,
            mem_total_kib: u64::MAX,
            mem_free_kib: u64::MAX
        }
    );
}

#[test]
fn table_full_and_forget() {
    let mut v = view_with_local();
    for n in 2..=64u16 {
        assert_eq!(
            v.on_heartbeat(id(n * 10), 1, ADDR, 1, Resources::ZERO, 0),
            Ok(Change::Joined(id(n * 10)))
        );
    }
    assert_eq!(v.len(), MAX_NODES);
    let before = v.clone();
    assert_eq!(
        v.on_heartbeat(id(4000), 1, ADDR, 1, Resources::ZERO, 0),
        Err(MembershipError::TableFull)
    );
    assert_eq!(
        v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0),
        Err(MembershipError::TableFull)
    );
    assert_eq!(v, before);
    // Known nodes still work.
    assert_eq!(
        v.on_heartbeat(id(20), 2, ADDR, 1, Resources::ZERO, 0),
        Ok(Change::Rejoined(id(20)))
    );
    // Sorted by id.
    assert!(v.nodes().windows(2).all(|w| w[0].id < w[1].id));
    // Make room.
    assert_eq!(v.forget(id(30)), Err(MembershipError::StillAlive));
    v.on_node_dead(id(30), 1).unwrap();
    let e = v.epoch();
    assert_eq!(v.forget(id(30)), Ok(true));
    assert_eq!(v.forget(id(30)), Ok(false));
    assert_eq!(v.epoch(), e);
    assert_eq!(v.len(), MAX_NODES - 1);
    assert!(v.get(id(30)).is_none());
    assert_eq!(
        v.on_heartbeat(id(5), 1, ADDR, 1, Resources::ZERO, 0),
        Ok(Change::Joined(id(5)))
    );
    assert!(v.nodes().windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(v.iter().count(), MAX_NODES);
    // A join reply cannot add more either.
    let mut jr = JoinReply {
        count: 1,
        ..JoinReply::default()
    };
    jr.entries[0] = NodeEntry {
        node_id: 4001,
        incarnation: 1,
        address: ADDR,
        port: 1,
        alive: true,
    };
    let c = v.merge_join_reply(&jr, 0);
    assert!(c.is_empty() && c.table_full());
    // set_local on a full table.
    let mut w = View::new();
    for n in 1..=64u16 {
        w.on_heartbeat(id(n), 1, ADDR, 1, Resources::ZERO, 0)
            .unwrap();
    }
    assert_eq!(
        w.set_local(id(100), 1, ADDR, 1),
        Err(MembershipError::TableFull)
    );
    assert_eq!(w.local(), None);
}

#[test]
fn join_reply_round_trip() {
    let mut a = view_with_local();
    a.on_heartbeat(id(2), 5, [1, 2, 3, 4], 7000, res(1, 1, 1), 10)
        .unwrap();
    a.on_heartbeat(id(3), 6, [1, 2, 3, 5], 7001, res(1, 1, 1), 10)
        .unwrap();
    a.on_node_dead(id(3), 6).unwrap();
    // Stale content is overwritten.
    let mut jr = JoinReply {
        count: 9,
        view_epoch: 77,
        ..JoinReply::default()
    };
    jr.entries[5].node_id = 99;
    a.fill_join_reply(&mut jr);
    assert_eq!(jr.view_epoch, a.epoch());
    assert_eq!(jr.count, 3);
    assert_eq!(
        jr.entries[1],
        NodeEntry {
            node_id: 2,
            incarnation: 5,
            address: [1, 2, 3, 4],
            port: 7000,
            alive: true
        }
    );
    assert!(!jr.entries[2].alive);
    assert!(jr.entries[3..].iter().all(|e| *e == NodeEntry::EMPTY));
    // Encodes.
    let mut buf = [0u8; JoinReply::MAX_LEN];
    let n = jr.encode(&mut buf).unwrap();
    assert_eq!(JoinReply::decode(&buf[..n]), Ok(jr.clone()));

    // A joiner merges it: node 1 and 2 join (alive), 3 is dead and unknown: skipped.
    let mut b = View::new();
    b.set_local(id(9), 1, ADDR, 1).unwrap();
    let e = b.epoch();
    let c = b.merge_join_reply(&jr, 500);
    assert_eq!(
        c.as_slice(),
        &[Change::Joined(id(1)), Change::Joined(id(2))]
    );
    assert_eq!(b.epoch(), e + 2);
    let n2 = *b.get(id(2)).unwrap();
    assert_eq!(
        (
            n2.incarnation,
            n2.address,
            n2.port,
            n2.last_heard,
            n2.resources
        ),
        (5, [1, 2, 3, 4], 7000, 500, Resources::ZERO)
    );
    assert!(b.get(id(3)).is_none());
    // Merging again changes nothing (no refresh from second-hand news).
    let before = b.clone();
    assert!(b.merge_join_reply(&jr, 900).is_empty());
    assert_eq!(b, before);
}

#[test]
fn merge_rules() {
    let mut v = view_with_local();
    v.on_heartbeat(id(2), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
    v.on_heartbeat(id(3), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
    v.on_heartbeat(id(4), 5, ADDR, 1, res(3, 3, 3), 10).unwrap();
    v.on_node_dead(id(4), 5).unwrap();
    let mut jr = JoinReply {
        view_epoch: 1000,
        ..JoinReply::default()
    };
    let entries = [
        NodeEntry {
            node_id: 1,
            incarnation: 999,
            address: ADDR,
            port: 1,
            alive: false,
        }, // local: ignored
        NodeEntry {
            node_id: 2,
            incarnation: 6,
            address: [7; 4],
            port: 2,
            alive: true,
        }, // newer: rejoin
        NodeEntry {
            node_id: 3,
            incarnation: 5,
            address: ADDR,
            port: 1,
            alive: false,
        }, // same inc, dead: dies
        NodeEntry {
            node_id: 4,
            incarnation: 5,
            address: ADDR,
            port: 1,
            alive: true,
        }, // same inc: no revival
        NodeEntry {
            node_id: 5,
            incarnation: 1,
            address: ADDR,
            port: 1,
            alive: true,
        }, // unknown: joins
        NodeEntry {
            node_id: 0,
            incarnation: 1,
            address: ADDR,
            port: 1,
            alive: true,
        }, // invalid: skipped
    ];
    jr.entries[..entries.len()].copy_from_slice(&entries);
    jr.count = entries.len() as u16;
    let e = v.epoch();
    let c = v.merge_join_reply(&jr, 50);
    assert_eq!(
        c.as_slice(),
        &[
            Change::Rejoined(id(2)),
            Change::Died(id(3)),
            Change::Joined(id(5))
        ]
    );
    assert_eq!(v.epoch(), e + 3);
    assert_eq!(
        v.get(id(1)).map(|n| (n.state, n.incarnation)),
        Some((NodeState::Alive, 100))
    );
    assert_eq!(
        v.get(id(2))
            .map(|n| (n.incarnation, n.address, n.resources)),
        Some((6, [7; 4], Resources::ZERO))
    );
    assert_eq!(v.get(id(4)).map(|n| n.state), Some(NodeState::Dead));
    assert!(v.get(id(0)).is_none());
    // A count beyond the array is clamped, not a panic.
    jr.count = u16::MAX;
    let _ = v.merge_join_reply(&jr, 60);
}
