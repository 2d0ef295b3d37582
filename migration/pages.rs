// SPDX-License-Identifier: GPL-2.0
//! Post-copy and lazy at the destination: the process runs before its
//! memory arrived.
//!
//! The restarting program (`ssi-ctl restart --migration --pages-later`)
//! creates a userfaultfd, asks for this migration's *pages file*
//! (`/dev/ssi` op 8) and forks a page server that keeps both. The restore
//! registers the process's private anonymous mappings with the
//! userfaultfd (missing pages) once they exist ([`register_current`]); the
//! module keeps a reference to it, so the page server ending early cannot
//! turn the missing pages into zero ones: the process is killed instead.
//!
//! `pread(pages, buf, len, addr)` on the pages file fetches `len` bytes of
//! the process's memory at `addr` (up to [`MAX_PAGES_READ`]) from the node
//! that lends it (`MigratePageRequest`s of up to [`MAX_PAGE_BYTES`] each,
//! all in flight at once, answered with `MigratePageData`); the page
//! server installs them with `UFFDIO_COPY`. Offset 0 (never a user page)
//! reads the registered ranges instead: pairs of little-endian u64
//! (start, end), nothing until the restore registered them and the source
//! handed the process over.
//!
//! Each read's pages count as pushed (post-copy's push) or fetched on
//! demand ([`Hosted::is_push_read`]); `/proc/ssi/migrations` shows both.
//!
//! If the lending node cannot be reached for [`LOST_AFTER_MS`] the
//! process cannot go on: it is killed (SIGKILL, logged), and its home
//! node learns it the usual way (`MigrateExit`).

use super::{remote::Hosted, remote::HostedState, sys};
use crate::{
    checkpoint::task::{self, File},
    cluster::Cluster,
    proto::{
        migration::{PageRequest, MAX_PAGES_READ, MAX_PAGE_BYTES, PAGE, USER_TOP},
        wire::MsgType,
    },
};
use kernel::{
    ffi::{c_char, c_long, c_void},
    prelude::*,
    sync::Arc,
    uaccess::UserSlice,
};

/// How long a read of the ranges waits for the process to be handed over.
const RANGES_WAIT_MS: u64 = 100;
/// How long the lending node may be unreachable before the process is lost.
const LOST_AFTER_MS: u32 = 10_000;
/// A request not answered within this time is sent again (a connected
/// lending node may be slow: it reads its memory, perhaps through its own
/// page server; a deputy serves pages between forwarded reads and writes).
const RESEND_AFTER_NS: u64 = 10_000_000_000;
use crate::checkpoint::task::{VM_LOCKED, VM_READ, VM_SHARED};

/// Push reads whose requests are sent ahead of the page server: while it
/// installs one read's pages, the link and the lending node work on the
/// next ones (one node's vCPU does the receiving and the installing; the
/// other's the lending).
const READ_AHEAD_READS: u64 = 4;

/// Requests sent for the memory after a push read, before it is read:
/// `len` bytes at `addr`, in address order.
pub(crate) struct ReadAhead {
    addr: u64,
    len: u64,
    requests: KVec<Request>,
}

impl ReadAhead {
    /// Splits off the requests for the first `len` bytes (a multiple of
    /// [`MAX_PAGE_BYTES`], at most `self.len`); the rest stays.
    fn take_front(&mut self, len: u32) -> Result<KVec<Request>> {
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

/// One page request of a read, and its answer once it came.
pub(crate) struct Request {
    seq: u64,
    addr: u64,
    len: u32,
    /// When it was last sent (0: not yet).
    sent_ns: u64,
    answer: Option<super::remote::PageAnswer>,
}

/// What a pages file reads from.
struct Pages {
    cluster: Arc<Cluster>,
    hosted: Arc<Hosted>,
}

/// A new pages file for the incoming migration `hosted`.
pub(crate) fn open(cluster: &Arc<Cluster>, hosted: &Arc<Hosted>) -> Result<File> {
    let p = KBox::new(Pages { cluster: cluster.clone(), hosted: hosted.clone() }, GFP_KERNEL)?;
    let raw = KBox::into_raw(p);
    // SAFETY: `raw` stays valid until `ssi_pages_release` takes it back,
    // once, when the file is closed for the last time.
    unsafe { sys::pages_file(raw.cast()) }.inspect_err(|_| {
        // SAFETY: no file was made: the box is still ours.
        drop(unsafe { KBox::from_raw(raw) });
    })
}

/// The migration a pages file belongs to, if `file` is one.
pub(crate) fn hosted_of(file: &File) -> Option<Arc<Hosted>> {
    let p = sys::pages_priv(file)?;
    // SAFETY: a pages file's private data is its `Pages`, alive while the
    // file is (the caller holds a reference to it).
    let pages = unsafe { &*p.cast_const().cast::<Pages>() };
    Some(pages.hosted.clone())
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

impl Pages {
    fn read(&self, buf: usize, len: usize, pos: i64) -> Result<usize> {
        if pos == 0 {
            return self.read_ranges(buf, len);
        }
        let addr = pos as u64;
        if addr % PAGE != 0 || len as u64 % PAGE != 0 || len == 0 || len > MAX_PAGES_READ as usize {
            return Err(EINVAL);
        }
        let pieces = self.fetch(addr, len as u32)?;
        let total: usize = pieces.iter().map(|q| q.len as usize).sum();
        if total != len {
            // The requests always cover the read exactly; never write past it.
            return Err(EIO);
        }
        let mut at = buf;
        for piece in pieces.iter() {
            let data = piece.answer.as_ref().ok_or(EIO)?.data();
            UserSlice::new(at, data.len()).writer().write_slice(data)?;
            at += data.len();
        }
        Ok(len)
    }

    fn read_ranges(&self, buf: usize, len: usize) -> Result<usize> {
        let h = &self.hosted;
        // A prepared restore registers the ranges before the source hands
        // the process over (and lends its memory): nothing until then,
        // after a short wait for it.
        let deadline = task::mono_ns() + RANGES_WAIT_MS * 1_000_000;
        loop {
            let seen = h.bell.seen();
            match h.state() {
                HostedState::Failed => return Err(EIO),
                HostedState::Go | HostedState::Running | HostedState::Moved => break,
                _ if task::mono_ns() >= deadline => return Ok(0),
                _ => {
                    if h.bell.wait_killable(seen, RANGES_WAIT_MS as u32) == sys::Woken::Signal {
                        return Err(EINTR);
                    }
                }
            }
        }
        let ranges = h.page_ranges()?;
        let mut out = KVec::with_capacity(ranges.len() * 16, GFP_KERNEL)?;
        for (s, e) in ranges.iter() {
            out.extend_from_slice(&s.to_le_bytes(), GFP_KERNEL)?;
            out.extend_from_slice(&e.to_le_bytes(), GFP_KERNEL)?;
        }
        if out.len() > len {
            return Err(crate::kernel_ext::eoverflow());
        }
        UserSlice::new(buf, out.len()).writer().write_slice(&out)?;
        Ok(out.len())
    }

    /// Asks the lending node for `len` bytes at `addr` (a request per
    /// [`MAX_PAGE_BYTES`], all in flight at once) and waits for them all:
    /// the answers, in address order.
    ///
    /// A read of the largest size (post-copy's push, in address order)
    /// also keeps the requests for the [`READ_AHEAD_READS`] reads of that
    /// size after it sent, as the read-ahead: the next read, if it asks
    /// for what follows, finds them in flight or answered, so the link
    /// works while the page server installs what it got.
    fn fetch(&self, addr: u64, len: u32) -> Result<KVec<Request>> {
        let h = &self.hosted;
        if h.state() == HostedState::Failed {
            return Err(EIO);
        }
        let push = len == MAX_PAGES_READ;
        let (mut requests, ahead) = match h.take_read_ahead() {
            // What the read-ahead holds next: all of it (the last read of a
            // range may be shorter), or a push read's worth of its front
            // (whole requests: both step by the same sizes from `addr`).
            Some(mut ahead) if ahead.addr == addr && (ahead.len == u64::from(len) || (push && ahead.len > u64::from(len))) => {
                let front = ahead.take_front(len);
                match front {
                    Ok(front) => (front, Some(ahead)),
                    Err(e) => {
                        self.forget(&ahead.requests);
                        return Err(e);
                    }
                }
            }
            Some(ahead) if push => {
                self.forget(&ahead.requests);
                (self.requests(addr, len)?, None)
            }
            // A fault's read between two pushes: the read-ahead waits.
            Some(ahead) => {
                if let Some(old) = h.set_read_ahead(ahead) {
                    self.forget(&old.requests);
                }
                (self.requests(addr, len)?, None)
            }
            None => (self.requests(addr, len)?, None),
        };
        if push {
            // Not past the end of the range this read is in: the page server
            // goes on elsewhere (and the lending node would send zeros).
            let next = addr + u64::from(len);
            let end = h.range_end(addr).unwrap_or(next).min(next + u64::from(len) * READ_AHEAD_READS);
            self.read_ahead(ahead, next, end - next);
        }
        let pushed = h.is_push_read(addr, len);
        let r = self.fetch_all(&mut requests, pushed);
        self.forget(&requests);
        r.map(|()| requests)
    }

    /// Requests for `len` bytes at `addr`, one per [`MAX_PAGE_BYTES`],
    /// their answers awaited (not sent yet).
    fn requests(&self, addr: u64, len: u32) -> Result<KVec<Request>> {
        let h = &self.hosted;
        let mut requests = KVec::new();
        let mut at = 0u32;
        while at < len {
            let n = (len - at).min(MAX_PAGE_BYTES);
            let seq = h.next_seq();
            let q = Request { seq, addr: addr + u64::from(at), len: n, sent_ns: 0, answer: None };
            if let Err(e) = h.await_pages(seq).and_then(|()| Ok(requests.push(q, GFP_KERNEL)?)) {
                h.stop_awaiting(seq);
                self.forget(&requests);
                return Err(e);
            }
            at += n;
        }
        Ok(requests)
    }

    /// Answers to `requests` are not wanted (any more): late ones are
    /// dropped, those that came are freed.
    fn forget(&self, requests: &[Request]) {
        for q in requests.iter() {
            self.hosted.stop_awaiting(q.seq);
            drop(self.hosted.take_page_answer(q.seq));
        }
    }

    /// Makes `ahead` (what is left of the read-ahead, if anything) cover
    /// the `len` bytes at `addr`: the requests missing at its end are sent
    /// now; keeps it as the read-ahead (none if `len` is 0). Best effort:
    /// beyond the top of user memory, or without memory for it, there is
    /// less or none.
    fn read_ahead(&self, ahead: Option<ReadAhead>, addr: u64, len: u64) {
        let mut ahead = match ahead {
            Some(a) if a.addr == addr => a,
            other => {
                if let Some(a) = other {
                    self.forget(&a.requests);
                }
                ReadAhead { addr, len: 0, requests: KVec::new() }
            }
        };
        let end = addr.saturating_add(len).min(USER_TOP);
        let now = task::mono_ns();
        while ahead.addr + ahead.len < end {
            let at = ahead.addr + ahead.len;
            let n = (end - at).min(u64::from(MAX_PAGES_READ)) as u32;
            let Ok(mut more) = self.requests(at, n) else { break };
            for q in more.iter_mut() {
                if self.send(q).is_ok() {
                    q.sent_ns = now;
                }
            }
            if ahead.requests.reserve(more.len(), GFP_KERNEL).is_err() {
                self.forget(&more);
                break;
            }
            for q in more.into_iter() {
                // Room was reserved above.
                let _ = ahead.requests.push(q, GFP_KERNEL);
            }
            ahead.len += u64::from(n);
        }
        if ahead.requests.is_empty() {
            return;
        }
        if let Some(old) = self.hosted.set_read_ahead(ahead) {
            self.forget(&old.requests);
        }
    }

    /// Sends page request `q` to the lending node.
    fn send(&self, q: &Request) -> Result {
        let h = &self.hosted;
        let wire = PageRequest { id: h.id, seq: q.seq, addr: q.addr, len: q.len };
        let mut b = [0u8; PageRequest::LEN];
        let n = wire.encode(&mut b).map_err(|_| EINVAL)?;
        self.cluster.send_to(h.from_node, MsgType::MigratePageRequest, &b[..n])
    }

    /// Sends `requests` (again if unanswered for long) and waits for every
    /// answer; counts their pages as `pushed` or fetched on demand.
    fn fetch_all(&self, requests: &mut [Request], pushed: bool) -> Result {
        let h = &self.hosted;
        let node = h.from_node;
        // Since when the lending node is unreachable (0: it is not).
        let mut lost_since = 0u64;
        loop {
            let seen = h.bell.seen();
            let now = task::mono_ns();
            for q in requests.iter_mut().filter(|q| q.answer.is_none()) {
                if (q.sent_ns == 0 || now.saturating_sub(q.sent_ns) > RESEND_AFTER_NS) && self.send(q).is_ok() {
                    q.sent_ns = now;
                }
                if let Some(answer) = h.take_page_answer(q.seq) {
                    let result = answer.result;
                    if result < 0 || answer.data().len() != q.len as usize {
                        pr_warn!(
                            "migration {:016x}: node {} could not give the pages at {:#x} (error {}): pid {} killed\n",
                            h.id,
                            node,
                            q.addr,
                            result,
                            h.pid()
                        );
                        h.kill_for_lost_memory();
                        return Err(EIO);
                    }
                    h.count_pages_in(q.len, pushed);
                    q.answer = Some(answer);
                }
            }
            if requests.iter().all(|q| q.answer.is_some()) {
                return Ok(());
            }
            if crate::kernel_ext::fatal_signal_pending() {
                return Err(EINTR);
            }
            if self.cluster.is_connected(node) {
                lost_since = 0;
            } else if lost_since == 0 {
                lost_since = now;
            } else if now.saturating_sub(lost_since) >= u64::from(LOST_AFTER_MS) * 1_000_000 {
                pr_warn!(
                    "migration {:016x}: node {}, which holds the memory of pid {}, is unreachable: the process is killed\n",
                    h.id,
                    node,
                    h.pid()
                );
                h.kill_for_lost_memory();
                return Err(crate::kernel_ext::ehostdown());
            }
            h.bell.wait_killable(seen, 200);
        }
    }
}

/// `read` of a pages file (called by the C glue).
///
/// # Safety
///
/// `priv_` is the `Pages` given to `ssi_pages_file`, alive until release.
#[no_mangle]
pub(crate) unsafe extern "C" fn ssi_pages_read(priv_: *mut c_void, buf: *mut c_char, len: usize, pos: i64) -> c_long {
    // SAFETY: per the contract.
    let p = unsafe { &*priv_.cast_const().cast::<Pages>() };
    match p.read(buf as usize, len, pos) {
        Ok(n) => n as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// The last reference to a pages file went: the page server ended.
///
/// # Safety
///
/// `priv_` is the `Pages` given to `ssi_pages_file`; it is not used again.
#[no_mangle]
pub(crate) unsafe extern "C" fn ssi_pages_release(priv_: *mut c_void) {
    // SAFETY: per the contract, the box made in `open` comes back once.
    let p = unsafe { KBox::from_raw(priv_.cast::<Pages>()) };
    p.hosted.page_server_gone(&p.cluster);
}
