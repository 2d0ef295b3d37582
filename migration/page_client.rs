// SPDX-License-Identifier: GPL-2.0
//! Post-copy and lazy at the destination: a hosted process's page client,
//! the state behind its pages file (`pages.rs`) while its memory comes
//! from the lending node after it resumed.
//!
//! - the userfaultfd (the module's own reference, until every page came
//!   or the process is gone) and the ranges registered with it
//!   ([`register_current`], from the restore);
//! - the page requests (`MigratePageRequest`) waiting for their answer,
//!   the answers ([`PageAnswer`]) not yet taken, and the requests sent
//!   ahead of the page server's next read ([`ReadAhead`]);
//! - how many pages came by post-copy's push and on demand ([`PagesIn`]),
//!   where the last push read ended, and how it ends: every page came,
//!   the lending node was let go, or the memory was lost.
//!
//! Its fields are read and written together only with each other, never
//! with the hosted process's state, so they have their own lock
//! ([`PageClient`]); the hosted process's lock, when both are held, is
//! taken first. The sequence numbers of the requests are the hosted
//! process's (`Hosted::next_seq`, shared with forwarded reads and writes).

use super::sys;
use crate::{
    checkpoint::task::{self, File, VM_LOCKED, VM_READ, VM_SHARED},
    proto::migration::{is_push_read, PAGE},
};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Post-copy, lazy: the pages that came to the destination, by how.
#[derive(Clone, Copy, Default)]
pub(crate) struct PagesIn {
    /// By post-copy's push (the page server's reads in address order).
    pub(crate) pushed: u64,
    /// On demand: read for a fault of the process (or of its old copy
    /// lending them on).
    pub(crate) fetched: u64,
}

impl PagesIn {
    pub(crate) fn total(&self) -> u64 {
        self.pushed + self.fetched
    }
}

/// The answer to a page request: the received frame's body, whose end is
/// the page data (kept as it came, not copied).
pub(crate) struct PageAnswer {
    seq: u64,
    pub(crate) result: i64,
    body: KVec<u8>,
    start: usize,
}

impl PageAnswer {
    /// The answer to request `seq` in `body`, whose pages begin at `start`.
    pub(crate) fn new(seq: u64, result: i64, body: KVec<u8>, start: usize) -> Self {
        PageAnswer { seq, result, body, start }
    }

    /// The pages (empty with an error result).
    pub(crate) fn data(&self) -> &[u8] {
        self.body.get(self.start..).unwrap_or(&[])
    }
}

/// One page request of a read, and its answer once it came.
pub(crate) struct Request {
    pub(crate) seq: u64,
    pub(crate) addr: u64,
    pub(crate) len: u32,
    /// When it was last sent (0: not yet).
    pub(crate) sent_ns: u64,
    pub(crate) answer: Option<PageAnswer>,
}

/// Requests sent for the memory after a push read, before it is read:
/// `len` bytes at `addr`, in address order.
pub(crate) struct ReadAhead {
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) requests: KVec<Request>,
}

impl ReadAhead {
    /// Splits off the requests for the first `len` bytes (a multiple of
    /// `MAX_PAGE_BYTES`, at most `self.len`); the rest stays.
    pub(crate) fn take_front(&mut self, len: u32) -> Result<KVec<Request>> {
        let end = self.addr + u64::from(len);
        let mut front = KVec::new();
        let mut rest = KVec::new();
        for q in core::mem::replace(&mut self.requests, KVec::new()).into_iter() {
            if q.addr < end {
                front.push(q, GFP_KERNEL)?;
            } else {
                rest.push(q, GFP_KERNEL)?;
            }
        }
        self.requests = rest;
        self.addr = end;
        self.len -= u64::from(len);
        Ok(front)
    }
}

/// In the restoring process, once its mappings exist: registers every
/// private anonymous readable mapping with `uffd`; the ranges.
pub(crate) fn register_current(uffd: &File) -> Result<KVec<(u64, u64)>> {
    if !sys::is_userfaultfd(uffd) {
        return Err(EINVAL);
    }
    let scratch = sys::UserScratch::new(PAGE)?;
    let mut ranges = KVec::new();
    let mut addr = 0u64;
    while let Some(v) = task::vma_find(addr) {
        addr = v.end;
        if v.class.special.is_some() || v.file.is_some() || v.class.is_shmem || v.class.is_io {
            continue;
        }
        // Locked memory was filled at the mapping; its pages are in the
        // image (see `checkpoint::capture::Memory::FilesOnly`).
        if v.vm_flags & VM_READ == 0 || v.vm_flags & (VM_SHARED | VM_LOCKED) != 0 || v.start == scratch.addr() {
            continue;
        }
        sys::uffd_register(uffd, &scratch, v.start, v.end)?;
        ranges.push((v.start, v.end), GFP_KERNEL)?;
    }
    Ok(ranges)
}

struct Client {
    /// The process's userfaultfd (the module's reference, until every
    /// page came or the process is gone).
    uffd: Option<File>,
    /// The ranges registered with it (empty until then).
    ranges: KVec<(u64, u64)>,
    /// Pages fetched from the lending node, by push and on demand.
    pages_in: PagesIn,
    /// Post-copy: where the page server's last push read ended (0: none
    /// yet).
    pushed_to: u64,
    /// Every page came (the page server said so).
    pages_done: bool,
    /// The lending node was told to let go.
    released: bool,
    /// Its memory was lost; the process was killed.
    memory_lost: bool,
    /// Page requests waiting for their answer (an answer to anything else
    /// is dropped).
    awaiting: KVec<u64>,
    /// Answers to page requests not yet taken.
    page_answers: KVec<PageAnswer>,
    /// Post-copy: the requests sent ahead of the page server's next read.
    read_ahead: Option<ReadAhead>,
}

/// A hosted process's page client (see the module's documentation); idle
/// unless its migration is post-copy or lazy.
#[pin_data]
pub(crate) struct PageClient {
    /// Post-copy: the page server was told to push (lazy's never reads
    /// ahead of a fault).
    pushing: bool,
    #[pin]
    inner: Mutex<Client>,
}

impl PageClient {
    /// An idle client; `pushing` for post-copy.
    pub(crate) fn new(pushing: bool) -> impl PinInit<Self> {
        pin_init!(PageClient {
            pushing,
            inner <- new_mutex!(Client {
                uffd: None,
                ranges: KVec::new(),
                pages_in: PagesIn::default(),
                pushed_to: 0,
                pages_done: false,
                released: false,
                memory_lost: false,
                awaiting: KVec::new(),
                page_answers: KVec::new(),
                read_ahead: None,
            }),
        })
    }

    /// The restarting process's userfaultfd, registered by
    /// [`Self::register`].
    pub(crate) fn set_uffd(&self, uffd: File) {
        self.inner.lock().uffd = Some(uffd);
    }

    /// Lets the userfaultfd go.
    pub(crate) fn drop_uffd(&self) {
        drop(self.inner.lock().uffd.take());
    }

    /// In the restoring process, once the mappings are final: registers
    /// the memory that comes later with the userfaultfd and keeps the
    /// ranges. `EPIPE` if the lending node was let go already (the page
    /// server is gone: nothing would serve the faults).
    pub(crate) fn register(&self) -> Result {
        if self.inner.lock().released {
            return Err(EPIPE);
        }
        let uffd = self.inner.lock().uffd.take().ok_or(EINVAL)?;
        let ranges = register_current(&uffd);
        let mut i = self.inner.lock();
        i.uffd = Some(uffd);
        i.ranges = ranges?;
        Ok(())
    }

    /// Every page came.
    pub(crate) fn all_came(&self) -> bool {
        self.inner.lock().pages_done
    }

    /// The page server said every page came: the pages that came, by how.
    pub(crate) fn set_all_came(&self) -> PagesIn {
        let mut i = self.inner.lock();
        i.pages_done = true;
        i.pages_in
    }

    /// Every page came, or the memory was lost: nothing more is missed.
    pub(crate) fn done_or_lost(&self) -> bool {
        let i = self.inner.lock();
        i.pages_done || i.memory_lost
    }

    /// Its memory cannot come any more.
    pub(crate) fn set_memory_lost(&self) {
        self.inner.lock().memory_lost = true;
    }

    /// Marks the lending node let go; whether it was the first time.
    pub(crate) fn release_once(&self) -> bool {
        let mut i = self.inner.lock();
        !core::mem::replace(&mut i.released, true)
    }

    /// The ranges registered for pages that come later.
    pub(crate) fn ranges(&self) -> Result<KVec<(u64, u64)>> {
        let i = self.inner.lock();
        let mut v = KVec::with_capacity(i.ranges.len(), GFP_KERNEL)?;
        for r in i.ranges.iter() {
            v.push(*r, GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The end of the registered range holding `addr`, if one does.
    pub(crate) fn range_end(&self, addr: u64) -> Option<u64> {
        self.inner.lock().ranges.iter().find(|&&(s, e)| s <= addr && addr < e).map(|&(_, e)| e)
    }

    /// Whether a read of the pages file (`len` bytes at `addr`) is the
    /// push, not a fault's fetch ([`is_push_read`]): only post-copy's page
    /// server was told to push.
    pub(crate) fn is_push_read(&self, addr: u64, len: u32) -> bool {
        let mut i = self.inner.lock();
        let push = is_push_read(self.pushing, &i.ranges, i.pushed_to, addr, u64::from(len));
        if push {
            i.pushed_to = addr + u64::from(len);
        }
        push
    }

    /// `bytes` of pages came, by the push or on demand.
    pub(crate) fn count_in(&self, bytes: u32, pushed: bool) {
        let mut i = self.inner.lock();
        let pages = u64::from(bytes) / PAGE;
        if pushed {
            i.pages_in.pushed += pages;
        } else {
            i.pages_in.fetched += pages;
        }
    }

    /// The pages that came so far, by how.
    pub(crate) fn pages_in(&self) -> PagesIn {
        self.inner.lock().pages_in
    }

    /// A page request `seq` is sent: its answer will be kept.
    pub(crate) fn await_answer(&self, seq: u64) -> Result {
        self.inner.lock().awaiting.push(seq, GFP_KERNEL)?;
        Ok(())
    }

    /// Keeps `answer` if its request is still waiting, once (a resent
    /// request may be answered twice); drops it otherwise. Whether it was
    /// kept.
    pub(crate) fn put_answer(&self, answer: PageAnswer) -> Result<bool> {
        let mut i = self.inner.lock();
        let Some(at) = i.awaiting.iter().position(|&s| s == answer.seq) else { return Ok(false) };
        crate::kernel_ext::swap_remove(&mut i.awaiting, at);
        i.page_answers.push(answer, GFP_KERNEL)?;
        Ok(true)
    }

    /// The answer to page request `seq`, if it came.
    pub(crate) fn take_answer(&self, seq: u64) -> Option<PageAnswer> {
        let mut i = self.inner.lock();
        let at = i.page_answers.iter().position(|a| a.seq == seq)?;
        crate::kernel_ext::swap_remove(&mut i.page_answers, at)
    }

    /// Page request `seq` is answered or given up: a late answer is dropped.
    pub(crate) fn stop_awaiting(&self, seq: u64) {
        let mut i = self.inner.lock();
        if let Some(at) = i.awaiting.iter().position(|&s| s == seq) {
            crate::kernel_ext::swap_remove(&mut i.awaiting, at);
        }
    }

    /// The requests sent ahead of the page server's next read, if any.
    pub(crate) fn take_read_ahead(&self) -> Option<ReadAhead> {
        self.inner.lock().read_ahead.take()
    }

    /// Keeps `ahead` as the read-ahead; the one it replaces, if any.
    pub(crate) fn set_read_ahead(&self, ahead: ReadAhead) -> Option<ReadAhead> {
        self.inner.lock().read_ahead.replace(ahead)
    }
}
