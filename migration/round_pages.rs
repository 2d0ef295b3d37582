// SPDX-License-Identifier: GPL-2.0
//! Pre-copy at the destination: the pages of the rounds.
//!
//! Prepared (not coming home): the process is rebuilt ahead, from an image
//! without memory sent before the rounds (`Hosted::await_final`); each
//! `MigratePages` frame is kept as krpc received it until the restoring
//! process, waiting for the final image, writes its pages into itself (a
//! plain copy into its own memory, through the page tables for a
//! read-only mapping) and frees it: while the process still runs at the
//! source, and in the order the frames came, so that a later round's copy
//! of a page wins. Pages with no mapping to go to (the process mapped
//! more since the image sent ahead) go into the *store*, a sparse file in
//! kernel memory indexed by address.
//!
//! At the freeze the source lists the pages that are clean (`MigrateKeep`,
//! sorted); the final image holds the dirty ones. If the final image has
//! the structure of the one sent ahead, the process keeps what the rounds
//! wrote: every page outside the keep list is dropped (as `MADV_DONTNEED`:
//! it was absent at the source, or the final image brings it), then the
//! final image's pages are written ([`RoundPages::settle`]). If the
//! structure changed, the kept pages the process holds are saved into the
//! store ([`RoundPages::save`]), the process is rebuilt again from the
//! final image and the kept pages are written from the store
//! ([`RoundPages::fill`]). Whatever happens, the frames held are those not
//! yet written, and the store holds at most one copy of each page.
//!
//! Coming home (the deputy restores a whole image): every frame goes into
//! the store as it comes, and the kept pages are written from it once the
//! mappings exist.

use crate::{
    checkpoint::task::{self, File, VM_WRITE},
    proto::migration::{gaps, keep_follows, overlap, Run, MAX_DATA, PAGE},
};
use kernel::{alloc::KVVec, prelude::*};

/// Most runs in a keep list (12 bytes each).
const MAX_KEEP: usize = 1 << 20;

/// One `MigratePages` frame: `npages` pages at `addr`, at `start` of
/// `body`.
pub(crate) struct RoundFrame {
    body: KVec<u8>,
    start: usize,
    addr: u64,
    npages: u32,
    /// Every page of it was written into the process rebuilt ahead.
    placed: bool,
}

impl RoundFrame {
    /// The frame whose page data (`npages` pages at `addr`) ends `body`.
    pub(crate) fn new(body: KVec<u8>, addr: u64, npages: u32) -> Result<RoundFrame> {
        let len = usize::try_from(u64::from(npages) * PAGE).map_err(|_| EINVAL)?;
        let start = body.len().checked_sub(len).ok_or(EINVAL)?;
        Ok(RoundFrame { body, start, addr, npages, placed: false })
    }

    fn data(&self) -> &[u8] {
        &self.body[self.start..]
    }
}

/// The pre-copy pages of one incoming migration.
pub(crate) struct RoundPages {
    /// Prepared: frames not yet written into the process.
    arrived: KVVec<RoundFrame>,
    /// Pages at their address (see the module's description).
    store: File,
    /// Prepared: the runs of pages that went into the store for want of a
    /// mapping.
    apart: KVec<Run>,
    /// Frames are written into the process rebuilt ahead (prepared), not
    /// into the store.
    in_place: bool,
    /// The pages clean at the freeze, sorted.
    keep: KVec<Run>,
}

impl RoundPages {
    /// Pages for a process rebuilt ahead (`in_place`), or for a whole
    /// image, kept in `store` (a sparse file as large as user memory).
    pub(crate) fn new(store: File, in_place: bool) -> RoundPages {
        RoundPages { arrived: KVVec::new(), store, apart: KVec::new(), in_place, keep: KVec::new() }
    }

    /// Keeps a frame that came (a whole image: writes it into the store).
    pub(crate) fn add(&mut self, frame: RoundFrame) -> Result {
        if self.in_place {
            self.arrived.push(frame, GFP_KERNEL)?;
            return Ok(());
        }
        self.store.write_all(frame.data(), &mut (frame.addr as i64))
    }

    /// Appends runs to the keep list; `EINVAL` unless they follow it in
    /// address order without overlapping, or if the list grows too long.
    pub(crate) fn add_keep(&mut self, runs: impl Iterator<Item = Run>) -> Result {
        for r in runs {
            if self.keep.len() >= MAX_KEEP || !keep_follows(self.keep.last(), &r) {
                return Err(EINVAL);
            }
            self.keep.push(r, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// The frames not yet written, to write outside the lock.
    pub(crate) fn take_arrived(&mut self) -> KVVec<RoundFrame> {
        core::mem::replace(&mut self.arrived, KVVec::new())
    }

    /// Frames taken with [`Self::take_arrived`] and written with
    /// [`write_in_place`]: those not placed whole go into the store (an
    /// address is either in a mapping of the process rebuilt ahead or not,
    /// for every frame: the store never holds a stale copy of a page the
    /// process has); all are freed.
    pub(crate) fn put_written(&mut self, frames: KVVec<RoundFrame>) -> Result {
        for f in frames.iter().filter(|f| !f.placed) {
            self.store.write_all(f.data(), &mut (f.addr as i64))?;
            let run = Run { addr: f.addr, npages: f.npages };
            match self.apart.last_mut() {
                Some(last) if last.addr + u64::from(last.npages) * PAGE == run.addr => last.npages += run.npages,
                _ => self.apart.push(run, GFP_KERNEL)?,
            }
        }
        Ok(())
    }

    /// In the restoring process rebuilt ahead, the final image having the
    /// same structure: drops every page the keep list does not name
    /// (absent at the source, or in the final image, written next).
    /// `EAGAIN` if a kept page had had no mapping to go to (the structure
    /// changed and changed back meanwhile).
    pub(crate) fn settle(mut self) -> Result {
        let mut arrived = self.take_arrived();
        write_in_place(&mut arrived)?;
        self.put_written(arrived)?;
        if self.apart.iter().any(|r| overlap(&self.keep, r.addr, r.npages).next().is_some()) {
            return Err(EAGAIN);
        }
        let mut addr = 0u64;
        while let Some(v) = task::vma_find(addr) {
            addr = v.end;
            if v.class.special.is_some() {
                continue;
            }
            for (from, to) in gaps(&self.keep, v.start, v.end) {
                super::sys::zap_user_range(from, to)?;
            }
        }
        Ok(())
    }

    /// In the restoring process rebuilt ahead, about to be rebuilt again
    /// (the final image has another structure): saves the kept pages it
    /// holds into the store.
    pub(crate) fn save(&mut self) -> Result {
        let mut arrived = self.take_arrived();
        write_in_place(&mut arrived)?;
        self.put_written(arrived)?;
        let mut buf = KVec::from_elem(0u8, MAX_DATA / PAGE as usize * PAGE as usize, GFP_KERNEL)?;
        for r in self.keep.iter() {
            let end = r.addr + u64::from(r.npages) * PAGE;
            let mut at = r.addr;
            while at < end {
                let Some(v) = task::vma_find(at) else { break };
                if v.start >= end {
                    break;
                }
                let from = at.max(v.start);
                let to = end.min(v.end);
                let mut p = from;
                while p < to {
                    let n = ((to - p) as usize).min(buf.len());
                    task::read_user(p, &mut buf[..n])?;
                    self.store.write_all(&buf[..n], &mut (p as i64))?;
                    p += n as u64;
                }
                at = to;
            }
        }
        Ok(())
    }

    /// In the restoring process, whose mappings were just made (rebuilt
    /// again from the final image, or from a whole image: a process coming
    /// home): writes the kept pages from the store (where nothing was
    /// written, zero: a zero page of anonymous memory is not sent).
    pub(crate) fn fill(self) -> Result {
        let mut buf = KVec::from_elem(0u8, MAX_DATA / PAGE as usize * PAGE as usize, GFP_KERNEL)?;
        for r in self.keep.iter() {
            let end = r.addr + u64::from(r.npages) * PAGE;
            let mut at = r.addr;
            while at < end {
                let n = ((end - at) as usize).min(buf.len());
                // Straight from the store into the process, or through the
                // page tables for a read-only mapping.
                if self.store.read_exact_to_user(at, n as u64, &mut (at as i64)).is_err() {
                    self.store.read_exact(&mut buf[..n], &mut (at as i64))?;
                    task::poke_user(at, &buf[..n])?;
                }
                at += n as u64;
            }
        }
        Ok(())
    }
}

/// Writes `data` at `addr` of the calling process, mapping by mapping (a
/// plain copy where it may write, through the page tables where not);
/// stops at the first page no mapping holds. The bytes written.
fn write_pages(mut addr: u64, mut data: &[u8]) -> Result<u64> {
    let mut done = 0u64;
    while !data.is_empty() {
        let Some(v) = task::vma_find(addr) else { break };
        if v.start > addr {
            break;
        }
        let n = (v.end - addr).min(data.len() as u64) as usize;
        let (now, rest) = data.split_at(n);
        if v.vm_flags & VM_WRITE != 0 {
            task::write_user(addr, now)?;
        } else {
            task::poke_user(addr, now)?;
        }
        addr += n as u64;
        done += n as u64;
        data = rest;
    }
    Ok(done)
}

/// In the restoring process rebuilt ahead: writes `frames` into it in the
/// order they came; a frame with pages no mapping holds is marked not
/// placed (its other pages are written).
pub(crate) fn write_in_place(frames: &mut [RoundFrame]) -> Result {
    for f in frames.iter_mut() {
        let len = u64::from(f.npages) * PAGE;
        let mut at = 0u64;
        let mut placed = true;
        while at < len {
            let data = f.body.get(f.start + at as usize..f.start + len as usize).ok_or(EINVAL)?;
            at += write_pages(f.addr + at, data)?;
            if at < len {
                // No mapping here: on to the next one.
                placed = false;
                let here = f.addr + at;
                let next = task::vma_find(here).map_or(f.addr + len, |v| v.start.max(here + PAGE));
                at = (next - f.addr).min(len);
            }
        }
        f.placed = placed;
    }
    Ok(())
}
