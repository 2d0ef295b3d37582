// SPDX-License-Identifier: GPL-2.0
//! The image of a migrating process, sent as the capture writes it.
//!
//! The capture (`checkpoint::capture`) puts the image's bytes into an
//! [`ImageSink`]; for a migration that sink is an [`ImageStream`], which
//! packs them into `MigrateData` frames of [`MAX_DATA`] bytes and sends
//! each frame as it fills (krpc's send queue gives the back-pressure).
//! Small pieces (section headers, descriptions) are gathered in the
//! stream's frame buffer; the data of a put that fills a frame is sent
//! from the capture's own buffer, behind what was gathered, as a second
//! part of the same frame (krpc writes both with one `sendmsg`): page data
//! is not copied on its way to the socket. The memory of a stopped process
//! comes as its pages, where they are ([`ImageSink::put_parts`]): a frame
//! is then the gathered bytes followed by up to 65 pieces of pages. The source keeps no copy of the
//! image: the destination has it, in its own kernel-memory file, when the
//! capture ends.

use crate::{
    checkpoint::capture::ImageSink,
    cluster::Cluster,
    proto::{
        migration::{Data, MAX_DATA},
        page::PAGE_SIZE,
        wire::MsgType,
    },
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// An image on its way to `node`, as `MigrateData` frames of move `id`.
pub(crate) struct ImageStream<'a> {
    cluster: &'a Cluster,
    node: u16,
    id: u64,
    cancelled: &'a AtomicBool,
    /// A frame: [`Data::HEADER_LEN`] bytes of header, then the data.
    frame: KVec<u8>,
    /// Data bytes in `frame`.
    used: usize,
    /// Image offset of the first data byte in `frame`.
    offset: u64,
    /// A frame could not be sent (the node or the link is gone).
    lost: bool,
}

impl<'a> ImageStream<'a> {
    pub(crate) fn new(cluster: &'a Cluster, node: u16, id: u64, cancelled: &'a AtomicBool) -> Result<Self> {
        let frame = KVec::from_elem(0u8, Data::HEADER_LEN + MAX_DATA, GFP_KERNEL)?;
        Ok(ImageStream { cluster, node, id, cancelled, frame, used: 0, offset: 0, lost: false })
    }

    /// Sends the frame being filled followed by each of `more` (at most
    /// [`MAX_DATA`] bytes together), if that is anything.
    fn send(&mut self, more: &[&[u8]]) -> Result {
        let len = self.used + more.iter().map(|m| m.len()).sum::<usize>();
        if len == 0 {
            return Ok(());
        }
        if self.cancelled.load(Ordering::Acquire) {
            return Err(EINTR);
        }
        let h = Data::encode_header(self.id, self.offset, len, &mut self.frame).map_err(|_| EINVAL)?;
        let gathered = &self.frame[..h + self.used];
        let (first, rest) = more.split_first().map_or((&[][..], more), |(f, r)| (*f, r));
        super::send_bulk_parts(self.cluster, self.node, MsgType::MigrateData, [gathered, first], rest).inspect_err(
            |_| {
                self.lost = true;
            },
        )?;
        self.offset += len as u64;
        self.used = 0;
        Ok(())
    }

    /// Sends what is left; the image's size.
    pub(crate) fn finish(&mut self) -> Result<u64> {
        self.send(&[])?;
        Ok(self.offset)
    }

    /// Whether sending failed because the node or the link is gone.
    pub(crate) fn lost(&self) -> bool {
        self.lost
    }
}

impl ImageSink for ImageStream<'_> {
    fn put(&mut self, mut data: &[u8]) -> Result {
        // Whole frames: what was gathered, then data straight from `data`.
        while self.used + data.len() >= MAX_DATA {
            let (now, rest) = data.split_at(MAX_DATA - self.used);
            self.send(&[now])?;
            data = rest;
        }
        // The rest waits in the frame buffer for more.
        let at = Data::HEADER_LEN + self.used;
        self.frame[at..at + data.len()].copy_from_slice(data);
        self.used += data.len();
        Ok(())
    }

    fn authenticated(&self) -> bool {
        true
    }

    fn put_parts(&mut self, parts: &[&[u8]]) -> Result {
        // The pieces of the frame being filled, behind its gathered bytes.
        let mut pieces: [&[u8]; MAX_PIECES] = [&[]; MAX_PIECES];
        let mut n = 0;
        let mut room = MAX_DATA - self.used;
        for part in parts {
            let mut part: &[u8] = part;
            while !part.is_empty() {
                if room == 0 || n == MAX_PIECES {
                    self.send(&pieces[..n])?;
                    n = 0;
                    room = MAX_DATA;
                }
                let (now, rest) = part.split_at(part.len().min(room));
                pieces[n] = now;
                n += 1;
                room -= now.len();
                part = rest;
            }
        }
        // What does not fill a frame: sent on its own if it is large,
        // otherwise gathered for the frame that follows.
        let left: usize = pieces[..n].iter().map(|p| p.len()).sum();
        if left >= MIN_PIECES_SENT {
            return self.send(&pieces[..n]);
        }
        for p in &pieces[..n] {
            self.put(p)?;
        }
        Ok(())
    }

    fn takes_pages_in_place(&self) -> bool {
        true
    }
}

/// Most pieces of pages in one frame (64 whole pages and a piece at
/// either end).
const MAX_PIECES: usize = MAX_DATA / PAGE_SIZE + 2;
/// Page data left over at the end of a put that is sent as a shorter frame
/// rather than gathered (copied) for the next one.
const MIN_PIECES_SENT: usize = 32 << 10;
