// SPDX-License-Identifier: GPL-2.0
//! krpc counters, shown in `/proc/ssi/krpc`.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Cluster-wide krpc counters of this node (all monotonic).
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) frames_sent: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    /// Connections accepted or made whose handshake succeeded.
    pub(crate) connections: AtomicU64,
    /// Handshakes refused: wrong secret (bad proof).
    pub(crate) auth_failures: AtomicU64,
    /// Frames dropped for a bad MAC.
    pub(crate) bad_macs: AtomicU64,
    /// Frames dropped as replays or out of sequence.
    pub(crate) replays: AtomicU64,
    /// Malformed input: bad header, bad body, unexpected message, timeout
    /// in the middle of a frame.
    pub(crate) malformed: AtomicU64,
    /// Replies nobody waited for any more (after a timeout).
    pub(crate) late_replies: AtomicU64,
    /// Connections closed at once because too many were in progress.
    pub(crate) refused_busy: AtomicU64,
    /// Send errors (peer gone, send timeout).
    pub(crate) send_errors: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}
