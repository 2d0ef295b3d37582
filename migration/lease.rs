// SPDX-License-Identifier: GPL-2.0
//! Leases: a deputy and the node running its process confirm each other.
//!
//! Every [`RENEW_MS`] the node running migrated processes sends each of
//! their home nodes one `MigrateLease` request naming them (their home
//! ids). The home node renews the lease of each deputy named and answers
//! with the ids it has no deputy for.
//!
//! - The home side: a deputy whose lease was not renewed for [`LOST_MS`]
//!   takes its process for lost: it ends killed (SIGKILL), which is what
//!   its parent's `wait` sees (`deputy.rs`).
//! - The running side: a process whose lease could not be renewed for
//!   [`LOST_MS`] (its home node unreachable), or whose home node answers
//!   that its deputy is gone, is killed here, so that nothing runs that
//!   nobody at home can see, signal or wait for. Its end is reported home
//!   as usual (and dropped there if nobody waits).
//!
//! Both sides count from the last renewal they saw, so each finds out
//! within `LOST_MS` plus one renewal period of losing the other.

use super::{remote::Hosted, sys, Migrations};
use crate::{
    checkpoint::task,
    cluster::Cluster,
    proto::{
        migration::{Lease, MAX_LEASES},
        wire::MsgType,
    },
};
use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

/// How often the running side renews its leases.
pub(crate) const RENEW_MS: u64 = 2_000;
/// How long either side goes without a renewal before it gives the other
/// up.
pub(crate) const LOST_MS: u64 = 15_000;
/// How long the running side waits for its home node's answer.
const CALL_MS: u32 = 1_000;
/// A process that runs here for less than this may not have its deputy
/// registered at home yet: an answer that the deputy is unknown is not
/// believed before.
const GRACE_MS: u64 = 5_000;
const SIGKILL: u32 = 9;
const MS: u64 = 1_000_000;

/// The running side's renewal round, from the watcher thread: renews the
/// leases of every process running here, and kills those whose deputy is
/// gone or out of reach for too long.
pub(crate) fn renew(cluster: &Cluster, migrations: &Migrations) {
    let Ok(all) = migrations.all_hosted() else { return };
    let now = task::mono_ns();
    let mut running: KVec<(Arc<Hosted>, u64)> = KVec::new();
    for h in all.iter() {
        if let Some(since) = h.running_since_ns() {
            if running.push((h.clone(), since), GFP_KERNEL).is_err() {
                return;
            }
        }
    }
    let mut homes: KVec<u16> = KVec::new();
    for (h, _) in running.iter() {
        if !homes.contains(&h.home_node) && homes.push(h.home_node, GFP_KERNEL).is_err() {
            return;
        }
    }
    for &home in homes.iter() {
        let mut mine: KVec<usize> = KVec::new();
        for (i, (h, _)) in running.iter().enumerate() {
            if h.home_node == home && mine.push(i, GFP_KERNEL).is_err() {
                return;
            }
        }
        for chunk in mine.chunks(MAX_LEASES) {
            ask(cluster, &running, chunk, home, now);
        }
    }
    for (h, since) in running.iter() {
        let last = h.lease_ns.load(Ordering::Relaxed).max(*since);
        if now.saturating_sub(last) >= LOST_MS * MS {
            pr_warn!(
                "pid {} (pid {} on node {}): no word from its home node for {} s: killed, its deputy ends it as killed\n",
                h.pid(),
                h.home_pid,
                h.home_node,
                LOST_MS / 1000
            );
            kill(h);
        }
    }
}

/// One `MigrateLease` to `home` for the entries `idx` of `running`.
fn ask(cluster: &Cluster, running: &[(Arc<Hosted>, u64)], idx: &[usize], home: u16, now: u64) {
    let mut ids: KVec<u64> = KVec::new();
    for &i in idx {
        if ids.push(running[i].0.home_id, GFP_KERNEL).is_err() {
            return;
        }
    }
    let Ok(mut body) = KVec::from_elem(0u8, Lease::len_of(ids.len()), GFP_KERNEL) else { return };
    let Ok(n) = Lease::encode(&ids, &mut body) else { return };
    let Ok(answer) = cluster.call(home, MsgType::MigrateLease, &body[..n], CALL_MS) else { return };
    let Ok(unknown) = Lease::decode(&answer) else { return };
    for &i in idx {
        let (h, since) = &running[i];
        if !unknown.iter().any(|id| id == h.home_id) {
            h.lease_ns.store(now, Ordering::Relaxed);
        } else if now.saturating_sub(*since) >= GRACE_MS * MS {
            pr_warn!("pid {} (pid {} on node {}): its deputy is gone: killed\n", h.pid(), h.home_pid, h.home_node);
            kill(h);
        }
    }
}

fn kill(h: &Hosted) {
    let pid = h.pid();
    if pid != 0 {
        let _ = sys::kill_pid(pid, SIGKILL);
    }
}

/// `MigrateLease` from `from` at the home node: renews the deputies
/// named; answers with the ids it has none for (or whose process was
/// restarted away from `from`: that copy must stop).
pub(crate) fn handle(migrations: &Migrations, from: u16, body: &[u8]) -> Result<KVec<u8>> {
    let asked = Lease::decode(body).map_err(|_| EINVAL)?;
    let mut unknown: KVec<u64> = KVec::new();
    for id in asked.iter() {
        match migrations.deputy(id) {
            Some(d) if !d.is_fenced(from) => d.renew_lease(),
            _ => unknown.push(id, GFP_KERNEL)?,
        }
    }
    let mut out = KVec::from_elem(0u8, Lease::len_of(unknown.len()), GFP_KERNEL)?;
    Lease::encode(&unknown, &mut out).map_err(|_| EINVAL)?;
    Ok(out)
}
