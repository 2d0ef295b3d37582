// SPDX-License-Identifier: GPL-2.0
//! The source of a post-copy or lazy migration after the hand-over: the
//! process's old copy keeps its memory and lends it, page by page, to the
//! node the process now runs on.
//!
//! The old copy is the original task, still in the module (the capture's
//! task work, its own context): on its home node it is also the deputy
//! (`deputy.rs` serves the pages in its loop); on a node the process had
//! migrated to, it does nothing else ([`lend`]). A `MigratePageRequest`
//! is queued here and answered with `MigratePageData`: the bytes read
//! from the task's own memory, so a page this copy has not got yet itself
//! (it arrived lazily too) is fetched through its own page server first.
//! `MigrateRelease` from the destination (every page came, or the process
//! ended or moved on) ends the lending: the deputy unmaps its memory, an
//! old copy away from home ends. A destination unreachable for
//! [`LOST_AFTER_MS`] ends it too.

use super::{sys, Migrations};
use crate::{
    checkpoint::task,
    cluster::Cluster,
    proto::{
        migration::{PageData, PageRequest, Ref, MAX_PAGE_BYTES, PAGE},
        wire::MsgType,
    },
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// How long the destination may be unreachable before the lending ends.
pub(crate) const LOST_AFTER_MS: u32 = 15_000;
/// Page requests waiting for the lender, at most.
const MAX_QUEUED: usize = 64;

/// A page request from the destination.
struct Ask {
    seq: u64,
    addr: u64,
    len: u32,
}

struct Inbox {
    asks: KVec<Ask>,
    released: bool,
}

/// The memory of migration `id`, lent to node `node`.
#[pin_data]
pub(crate) struct Lender {
    pub(crate) id: u64,
    pub(crate) node: u16,
    #[pin]
    inbox: Mutex<Inbox>,
    /// The bell of the task that serves the requests (a deputy sleeps on
    /// it too).
    pub(crate) bell: Arc<sys::Doorbell>,
    /// Pages sent.
    pub(crate) pages_sent: core::sync::atomic::AtomicU64,
}

impl Lender {
    /// A lender, listed in `migrations` (before the hand-over: the first
    /// request may come at once; it waits in the queue).
    pub(crate) fn new(migrations: &Migrations, id: u64, node: u16) -> Result<Arc<Lender>> {
        let bell = Arc::pin_init(sys::Doorbell::new(), GFP_KERNEL)?;
        let l = Arc::pin_init(
            pin_init!(Lender {
                id,
                node,
                inbox <- new_mutex!(Inbox { asks: KVec::new(), released: false }),
                bell,
                pages_sent: core::sync::atomic::AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?;
        migrations.add_lender(l.clone())?;
        Ok(l)
    }

    /// Whether the destination needs no more pages.
    pub(crate) fn released(&self) -> bool {
        self.inbox.lock().released
    }

    /// Answers the queued requests from the current task's memory (the
    /// lender's own context).
    pub(crate) fn serve(&self, cluster: &Cluster) {
        // Pages are sent from where they are when they can be held.
        let mut held = task::HeldPages::new((MAX_PAGE_BYTES as u64 / PAGE) as usize).ok();
        loop {
            let ask = {
                let mut i = self.inbox.lock();
                if i.asks.is_empty() {
                    None
                } else {
                    crate::kernel_ext::swap_remove(&mut i.asks, 0)
                }
            };
            let Some(ask) = ask else { return };
            if let Some(h) = held.as_mut() {
                if self.answer_in_place(cluster, &ask, h) {
                    continue;
                }
            }
            self.answer(cluster, &ask);
        }
    }

    /// Answers `ask` with the pages where they are, held meanwhile (the
    /// old copy no longer runs: they do not change), not copied into a
    /// buffer first. False if they could not all be held (a page this
    /// copy has not mapped): [`Self::answer`] then copies them.
    fn answer_in_place(&self, cluster: &Cluster, ask: &Ask, held: &mut task::HeldPages) -> bool {
        let len = ask.len as usize;
        let n = len / PAGE as usize;
        if len % PAGE as usize != 0 || !matches!(held.hold(ask.addr, n), Ok(true)) {
            return false;
        }
        let mut head = [0u8; PageData::HEADER_LEN];
        if crate::kernel_ext::fatal_signal_pending() {
            // Killed while faulting them in (its own page server gone).
            self.answer_error(cluster, ask, EIO);
        } else if PageData::encode_header(self.id, ask.seq, len, &mut head).is_err() {
            self.answer_error(cluster, ask, EINVAL);
        } else {
            let views = held.views();
            let (first, rest) = views.split_first().map_or((&[][..], views), |(f, r)| (*f, r));
            let sent = super::send_bulk_parts(cluster, self.node, MsgType::MigratePageData, [&head, first], rest);
            if sent.is_ok() {
                self.pages_sent.fetch_add(n as u64, core::sync::atomic::Ordering::Relaxed);
            }
        }
        held.release();
        true
    }

    fn answer(&self, cluster: &Cluster, ask: &Ask) {
        let len = ask.len as usize;
        let Ok(mut out) = KVec::from_elem(0u8, PageData::HEADER_LEN + len, GFP_KERNEL) else {
            self.answer_error(cluster, ask, ENOMEM);
            return;
        };
        let data = &mut out[PageData::HEADER_LEN..];
        if task::read_user(ask.addr, data).is_err() {
            // Page by page: what this copy has not mapped is zero here and
            // there (a stack or heap that grew after the hand-over); a
            // mapped page that cannot be read is an error.
            for (i, page) in data.chunks_mut(PAGE as usize).enumerate() {
                let at = ask.addr + i as u64 * PAGE;
                if task::read_user(at, page).is_err() {
                    if task::vma_find(at).is_some_and(|v| v.start <= at) {
                        self.answer_error(cluster, ask, EIO);
                        return;
                    }
                    page.fill(0);
                }
            }
        }
        if crate::kernel_ext::fatal_signal_pending() {
            // Killed while reading (its own page server gone): what was
            // read may be incomplete.
            self.answer_error(cluster, ask, EIO);
            return;
        }
        if PageData::encode_header(self.id, ask.seq, len, &mut out).is_err() {
            self.answer_error(cluster, ask, EINVAL);
            return;
        }
        if super::send_bulk(cluster, self.node, MsgType::MigratePageData, &out).is_ok() {
            self.pages_sent.fetch_add(len as u64 / PAGE, core::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The lending ends: requests still queued get an error (the process
    /// they are for cannot go on).
    pub(crate) fn close(&self, cluster: &Cluster, migrations: &Migrations) {
        migrations.remove_lender(self.id);
        let asks = {
            let mut i = self.inbox.lock();
            i.released = true;
            core::mem::replace(&mut i.asks, KVec::new())
        };
        for ask in asks.iter() {
            self.answer_error(cluster, ask, EIO);
        }
    }

    fn answer_error(&self, cluster: &Cluster, ask: &Ask, e: Error) {
        send_error(cluster, self.node, self.id, ask.seq, e);
    }
}

/// Answers page request `seq` of migration `id` from `node` with `e`.
fn send_error(cluster: &Cluster, node: u16, id: u64, seq: u64, e: Error) {
    let mut b = [0u8; PageData::HEADER_LEN];
    let d = PageData { id, seq, result: e.to_errno().into(), data: &[] };
    if let Ok(n) = d.encode(&mut b) {
        let _ = cluster.send_to(node, MsgType::MigratePageData, &b[..n]);
    }
}

/// `MigratePageRequest` from `from`: queued for the lender. A request no
/// lender here can answer is answered with an error at once (the memory
/// is gone: the process there cannot go on).
pub(crate) fn page_request(cluster: &Cluster, migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let q = PageRequest::decode(body).map_err(|_| EINVAL)?;
    if q.len > MAX_PAGE_BYTES {
        return Err(EINVAL);
    }
    let Some(l) = migrations.lender(q.id).filter(|l| l.node == from) else {
        send_error(cluster, from, q.id, q.seq, ESRCH);
        return Err(ESRCH);
    };
    let mut i = l.inbox.lock();
    if i.released {
        drop(i);
        send_error(cluster, from, q.id, q.seq, ESRCH);
        return Err(ESRCH);
    }
    if i.asks.iter().any(|a| a.seq == q.seq) {
        // Sent again while queued.
        return Ok(());
    }
    if i.asks.len() >= MAX_QUEUED {
        return Err(EBUSY);
    }
    i.asks.push(Ask { seq: q.seq, addr: q.addr, len: q.len }, GFP_KERNEL)?;
    drop(i);
    l.bell.ring();
    Ok(())
}

/// `MigrateRelease` from `from`: the destination needs no more pages.
pub(crate) fn release(migrations: &Migrations, from: u16, body: &[u8]) -> Result {
    let r = Ref::decode(body).map_err(|_| EINVAL)?;
    let l = migrations.lender(r.id).ok_or(ESRCH)?;
    if l.node != from {
        return Err(EPERM);
    }
    l.inbox.lock().released = true;
    l.bell.ring();
    Ok(())
}

/// Away from home: the old copy lends its memory until released (or the
/// destination is lost), then ends. Runs in the old copy's context.
pub(crate) fn lend(cluster: &Cluster, migrations: &Migrations, l: &Lender) {
    let me = task::current_pid();
    let mut unreachable_ms = 0u32;
    // Signals are not this copy's any more (the deputy forwards them to the
    // running process); one pending would cut a read of its memory short.
    task::set_blocked(u64::MAX);
    loop {
        let seen = l.bell.seen();
        l.serve(cluster);
        if l.released() {
            break;
        }
        if crate::kernel_ext::fatal_signal_pending() {
            pr_warn!("pid {}: killed while node {} still needed its memory (migration {:016x})\n", me, l.node, l.id);
            break;
        }
        if cluster.is_connected(l.node) {
            unreachable_ms = 0;
        } else {
            unreachable_ms += 500;
            if unreachable_ms >= LOST_AFTER_MS {
                pr_warn!("pid {}: node {} is unreachable: its memory is not lent any longer\n", me, l.node);
                break;
            }
        }
        l.bell.wait_killable(seen, 500);
    }
    l.close(cluster, migrations);
}
