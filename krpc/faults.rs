// SPDX-License-Identifier: GPL-2.0
//! Fault injection for tests: frames this node loses on purpose.
//!
//! Root writes `TYPE COUNT` to `/sys/kernel/config/ssi/drop_next`
//! (`proto::reliable::parse_drop`): the next COUNT frames of that message
//! type this node sends (requests, one-way messages, replies and
//! acknowledgements alike) are counted as sent and never written, as if
//! the network had lost them. Reading the file lists what is still to be
//! dropped. Nothing is dropped unless asked; the counters are in
//! `/proc/ssi/krpc` (`dropped_on_purpose`).

use crate::proto::wire::MsgType;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Frames still to drop, per message type.
pub(crate) struct Faults {
    next: [AtomicU32; 256],
    /// Frames dropped so far.
    pub(crate) dropped: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { next: [const { AtomicU32::new(0) }; 256], dropped: AtomicU64::new(0) }
    }
}

impl Faults {
    /// Drops the next `count` frames of type `kind` (0: none).
    pub(crate) fn set(&self, kind: MsgType, count: u32) {
        self.next[usize::from(kind.as_u8())].store(count, Ordering::Relaxed);
    }

    /// Whether the frame of type `kind` about to be sent is to be dropped
    /// (and counts it).
    pub(crate) fn take(&self, kind: MsgType) -> bool {
        let slot = &self.next[usize::from(kind.as_u8())];
        let took = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok();
        if took {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        took
    }

    /// Each type with frames still to drop, and how many.
    pub(crate) fn pending(&self) -> impl Iterator<Item = (MsgType, u32)> + '_ {
        self.next.iter().enumerate().filter_map(|(t, n)| {
            let n = n.load(Ordering::Relaxed);
            MsgType::from_u8(t as u8).filter(|_| n > 0).map(|k| (k, n))
        })
    }
}
