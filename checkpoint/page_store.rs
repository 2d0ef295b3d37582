// SPDX-License-Identifier: GPL-2.0
//! The page data of an image to restore, kept apart from its description.
//!
//! The store holds buffers and, in image order, the ranges of page data in
//! them; it knows nothing of where they came from. A migration fills it
//! (`migration/receiver.rs`): as its image arrives, `proto::image_split`
//! tells its page data from the rest; the rest goes into the image file
//! (the restart program and the restore read it); the page data stays
//! where krpc received it, in the `MigrateData` frames' own body buffers,
//! which go into the store. The restore (`restore.rs`) reads the image's
//! Pages sections by their prefix and takes their data from here in the
//! same order, copying it straight into the new process and freeing each
//! buffer once it is used up: between the socket and the process the page
//! data is copied once, with none of a file's costs (page cache, zeroing
//! the rest of each huge page the data then overwrites).

use super::task;
use crate::proto::image::PAGE_SIZE;
use kernel::{alloc::KVVec, prelude::*};

/// A run of page data: `len` bytes at `start` of body `body`.
#[derive(Clone, Copy)]
struct Piece {
    body: usize,
    start: usize,
    len: usize,
}

/// Page data, in the order it came; taken from the front.
pub(crate) struct PageStore {
    /// Buffers holding page data (a migration's: received frame bodies),
    /// emptied once used up.
    bodies: KVVec<KVec<u8>>,
    /// The page data in them, in image order.
    pieces: KVVec<Piece>,
    /// Bytes of page data stored.
    bytes: u64,
    /// Bytes taken so far: the next ones are at `at` of piece `next`.
    taken: u64,
    next: usize,
    at: usize,
}

impl PageStore {
    pub(crate) fn new() -> PageStore {
        PageStore { bodies: KVVec::new(), pieces: KVVec::new(), bytes: 0, taken: 0, next: 0, at: 0 }
    }

    /// Notes that `len` bytes at `start` of the body that
    /// [`PageStore::add_body`] adds next are page data.
    pub(crate) fn add_piece(&mut self, start: usize, len: usize) -> Result {
        self.pieces.push(Piece { body: self.bodies.len(), start, len }, GFP_KERNEL)?;
        self.bytes += len as u64;
        Ok(())
    }

    /// Keeps `body`, whose page data [`PageStore::add_piece`] noted.
    pub(crate) fn add_body(&mut self, body: KVec<u8>) -> Result {
        let need = self.pieces.last().map_or(0, |p| p.start + p.len);
        if body.len() < need {
            return Err(EINVAL);
        }
        self.bodies.push(body, GFP_KERNEL)?;
        Ok(())
    }

    /// Appends the page data of `more` (which nothing was taken from)
    /// behind what this store holds: an image still arriving hands its
    /// page data to the restore in batches (`restore::Arriving`).
    pub(crate) fn append(&mut self, more: PageStore) -> Result {
        if more.taken != 0 {
            return Err(EINVAL);
        }
        let base = self.bodies.len();
        self.pieces.reserve(more.pieces.len(), GFP_KERNEL)?;
        self.bodies.reserve(more.bodies.len(), GFP_KERNEL)?;
        for p in more.pieces.iter() {
            self.pieces.push(Piece { body: base + p.body, ..*p }, GFP_KERNEL)?;
        }
        for b in more.bodies.into_iter() {
            self.bodies.push(b, GFP_KERNEL)?;
        }
        self.bytes += more.bytes;
        Ok(())
    }

    /// Whether it holds data not yet taken (a part of a page counts).
    pub(crate) fn holds_data(&self) -> bool {
        self.bytes > self.taken
    }

    /// Whole pages stored and not yet taken.
    pub(crate) fn pages_left(&self) -> u64 {
        (self.bytes - self.taken) / PAGE_SIZE as u64
    }

    /// Writes the next `npages` pages at `addr` of the calling process: a
    /// plain copy into a writable mapping, through the page tables into
    /// one that is not (`writable` false). Buffers used up are freed.
    pub(crate) fn load(&mut self, mut addr: u64, npages: u32, writable: bool) -> Result {
        if u64::from(npages) > self.pages_left() {
            return Err(EINVAL);
        }
        let mut left = u64::from(npages) * PAGE_SIZE as u64;
        while left > 0 {
            let p = *self.pieces.get(self.next).ok_or(EINVAL)?;
            let n = ((p.len - self.at) as u64).min(left) as usize;
            let body = self.bodies.get(p.body).ok_or(EINVAL)?;
            let from = p.start + self.at;
            let data = body.get(from..from + n).ok_or(EINVAL)?;
            if writable {
                task::write_user(addr, data)?;
            } else {
                task::poke_user(addr, data)?;
            }
            addr += n as u64;
            left -= n as u64;
            self.taken += n as u64;
            self.at += n;
            if self.at == p.len {
                self.at = 0;
                self.next += 1;
                // The last piece of its body: the buffer goes.
                if self.pieces.get(self.next).is_none_or(|q| q.body != p.body) {
                    if let Some(b) = self.bodies.get_mut(p.body) {
                        *b = KVec::new();
                    }
                }
            }
        }
        Ok(())
    }
}
