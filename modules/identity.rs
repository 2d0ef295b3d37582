// SPDX-License-Identifier: GPL-2.0
//! This node's settings (node id, address, krpc port, seeds, secret,
//! timers) and its krpc counters: what the cluster service reads. The
//! configfs files that show and set them are in `node.rs`.

use crate::{
    krpc::{hmac::Hmac, stats::Stats},
    proto::identity as id,
};
use core::{
    fmt::Write,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// Longest cluster secret accepted, in bytes.
pub(crate) const MAX_SECRET: usize = 64;
/// Default heartbeat interval and failure timeout.
const DEFAULT_HEARTBEAT_MS: u32 = 1000;
const DEFAULT_DEAD_AFTER_MS: u32 = 5000;

struct Secret {
    bytes: [u8; MAX_SECRET],
    len: usize,
}

struct Seeds {
    list: [id::Seed; id::MAX_SEEDS],
    len: usize,
}

/// This node's settings.
#[pin_data]
pub(crate) struct Identity {
    node_id: AtomicU32,
    address: AtomicU32,
    port: AtomicU32,
    heartbeat_ms: AtomicU32,
    dead_after_ms: AtomicU32,
    #[pin]
    seeds: Mutex<Seeds>,
    #[pin]
    secret: Mutex<Secret>,
    /// krpc counters (kept across restarts of the service).
    pub(crate) stats: Stats,
}

impl Identity {
    /// A node with no id, address or secret yet, default port and timers.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Identity {
                node_id: AtomicU32::new(0),
                address: AtomicU32::new(0),
                port: AtomicU32::new(id::DEFAULT_PORT.into()),
                heartbeat_ms: AtomicU32::new(DEFAULT_HEARTBEAT_MS),
                dead_after_ms: AtomicU32::new(DEFAULT_DEAD_AFTER_MS),
                seeds <- new_mutex!(Seeds { list: [(id::Ipv4::UNSET, 0); id::MAX_SEEDS], len: 0 }),
                secret <- new_mutex!(Secret { bytes: [0; MAX_SECRET], len: 0 }),
                stats: Stats::default(),
            }),
            GFP_KERNEL,
        )
    }

    /// The node id, 0 while unset.
    pub(crate) fn node_id(&self) -> u32 {
        self.node_id.load(Ordering::Relaxed)
    }

    /// Sets the node id; whether it changed.
    pub(crate) fn set_node_id(&self, v: u32) -> bool {
        self.node_id.swap(v, Ordering::Relaxed) != v
    }

    /// The node's address.
    pub(crate) fn address(&self) -> id::Ipv4 {
        id::Ipv4::from_bits(self.address.load(Ordering::Relaxed))
    }

    /// Sets the node's address; whether it changed.
    pub(crate) fn set_address(&self, v: id::Ipv4) -> bool {
        self.address.swap(v.to_bits(), Ordering::Relaxed) != v.to_bits()
    }

    /// The krpc TCP port.
    pub(crate) fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed) as u16
    }

    /// Sets the krpc TCP port; whether it changed.
    pub(crate) fn set_port(&self, v: u16) -> bool {
        self.port.swap(v.into(), Ordering::Relaxed) != u32::from(v)
    }

    /// Heartbeat interval.
    pub(crate) fn heartbeat_ms(&self) -> u32 {
        self.heartbeat_ms.load(Ordering::Relaxed)
    }

    /// Sets the heartbeat interval (the service reads it on every use).
    pub(crate) fn set_heartbeat_ms(&self, v: u32) {
        self.heartbeat_ms.store(v, Ordering::Relaxed);
    }

    /// Silence after which a node is declared dead.
    pub(crate) fn dead_after_ms(&self) -> u32 {
        self.dead_after_ms.load(Ordering::Relaxed)
    }

    /// Sets the silence after which a node is declared dead (read on every
    /// use).
    pub(crate) fn set_dead_after_ms(&self, v: u32) {
        self.dead_after_ms.store(v, Ordering::Relaxed);
    }

    /// The seeds, copied.
    pub(crate) fn seeds(&self) -> Result<KVec<id::Seed>> {
        let seeds = self.seeds.lock();
        let mut out = KVec::with_capacity(seeds.len, GFP_KERNEL)?;
        for s in seeds.list.iter().take(seeds.len) {
            out.push(*s, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// Writes the seeds as `a.b.c.d:port` separated by commas.
    pub(crate) fn write_seeds(&self, out: &mut impl Write) -> core::fmt::Result {
        let seeds = self.seeds.lock();
        for (i, (a, p)) in seeds.list.iter().take(seeds.len).enumerate() {
            write!(out, "{}{}:{}", if i > 0 { "," } else { "" }, a, p)?;
        }
        Ok(())
    }

    /// Replaces the seeds by the first `len` of `list`.
    pub(crate) fn set_seeds(&self, list: [id::Seed; id::MAX_SEEDS], len: usize) {
        *self.seeds.lock() = Seeds { list, len };
    }

    /// An HMAC keyed with the cluster secret; ENOKEY if none is set.
    pub(crate) fn secret_hmac(&self) -> Result<Hmac> {
        let secret = self.secret.lock();
        if secret.len == 0 {
            return Err(crate::kernel_ext::enokey());
        }
        Hmac::new(&secret.bytes[..secret.len])
    }

    /// Sets the cluster secret, 1 to [`MAX_SECRET`] bytes (checked by the
    /// caller).
    pub(crate) fn set_secret(&self, s: &[u8]) {
        let s = &s[..s.len().min(MAX_SECRET)];
        let mut secret = self.secret.lock();
        secret.bytes = [0; MAX_SECRET];
        secret.bytes[..s.len()].copy_from_slice(s);
        secret.len = s.len();
    }
}
