//! Unit and property tests of the membership rules: [`rules`] tests the
//! operations one at a time, [`table`] the table as a whole (totals, a
//! full table, join replies), [`props`] random operation sequences. This
//! file holds the helpers they share.

use super::super::wire::{JoinReply, NodeEntry, Resources};
use super::*;

mod props;
mod rules;
mod table;

pub(super) const ADDR: [u8; 4] = [10, 99, 0, 1];

pub(super) fn id(n: u16) -> NodeId {
    NodeId(n)
}

pub(super) fn res(cpus: u32, total: u64, free: u64) -> Resources {
    Resources {
        cpus,
        mem_total_kib: total,
        mem_free_kib: free,
        load: [0; 3],
    }
}

pub(super) fn view_with_local() -> View {
    let mut v = View::new();
    assert_eq!(
        v.set_local(id(1), 100, ADDR, 7070),
        Ok(Change::Joined(id(1)))
    );
    v
}
