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
    /// Requests and one-way messages handled, and those whose handler
    /// failed or that no handler takes.
    pub(crate) handled: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) unhandled: AtomicU64,
    /// Where the time of the traffic went, in nanoseconds (summed over
    /// threads): computing and checking frame tags, writing frames to the
    /// sockets, reading frame bodies once their header arrived, the
    /// reading threads waiting for room in a full inbox, handlers running.
    pub(crate) tag_ns: AtomicU64,
    pub(crate) socket_send_ns: AtomicU64,
    pub(crate) body_recv_ns: AtomicU64,
    pub(crate) inbox_full_ns: AtomicU64,
    pub(crate) handler_ns: AtomicU64,
    /// Reliable messages (`krpc/reliable.rs`): sent the first time, sent
    /// again, acknowledged, given up (their node died), and received again
    /// after they were taken (acknowledged, not handled again).
    pub(crate) reliable_sent: AtomicU64,
    pub(crate) reliable_resent: AtomicU64,
    pub(crate) reliable_acked: AtomicU64,
    pub(crate) reliable_given_up: AtomicU64,
    pub(crate) reliable_duplicates: AtomicU64,
    /// Frames to lose on purpose, for tests (`krpc/faults.rs`).
    pub(crate) faults: super::faults::Faults,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

/// Counters and round-trip times of one connection, shown in
/// `/proc/ssi/peers`.
#[derive(Default)]
pub(crate) struct PeerStats {
    pub(crate) frames_sent: AtomicU64,
    pub(crate) frames_received: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    /// Request id and send time (ns) of the RTT probe in flight (0: none).
    pub(crate) probe_id: AtomicU64,
    pub(crate) probe_sent_ns: AtomicU64,
    /// Round-trip times measured by the probes, in nanoseconds.
    pub(crate) rtt_last_ns: AtomicU64,
    pub(crate) rtt_min_ns: AtomicU64,
    /// Exponentially weighted mean (weight 1/8 per sample).
    pub(crate) rtt_avg_ns: AtomicU64,
    pub(crate) rtt_samples: AtomicU64,
}

impl PeerStats {
    /// Records one round trip of `ns` nanoseconds. Samples come from one
    /// thread (the connection's reader), so plain loads and stores do.
    pub(crate) fn record_rtt(&self, ns: u64) {
        let n = self.rtt_samples.fetch_add(1, Relaxed);
        self.rtt_last_ns.store(ns, Relaxed);
        let min = self.rtt_min_ns.load(Relaxed);
        if n == 0 || ns < min {
            self.rtt_min_ns.store(ns, Relaxed);
        }
        let avg = self.rtt_avg_ns.load(Relaxed);
        let avg = if n == 0 { ns } else { avg - avg / 8 + ns / 8 };
        self.rtt_avg_ns.store(avg, Relaxed);
    }
}
