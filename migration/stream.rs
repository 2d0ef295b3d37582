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
//! is not copied on its way to the socket. The source keeps no copy of the
//! image: the destination has it, in its own kernel-memory file, when the
//! capture ends.

use crate::{
    checkpoint::capture::ImageSink,
    cluster::Cluster,
    proto::{
        migration::{Data, MAX_DATA},
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

    /// Sends the frame being filled followed by `more` (at most
    /// [`MAX_DATA`] bytes together), if that is anything.
    fn send(&mut self, more: &[u8]) -> Result {
        let len = self.used + more.len();
        if len == 0 {
            return Ok(());
        }
        if self.cancelled.load(Ordering::Acquire) {
            return Err(EINTR);
        }
        let h = Data::encode_header(self.id, self.offset, len, &mut self.frame).map_err(|_| EINVAL)?;
        let gathered = &self.frame[..h + self.used];
        super::send_bulk_parts(self.cluster, self.node, MsgType::MigrateData, [gathered, more]).inspect_err(|_| {
            self.lost = true;
        })?;
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
            self.send(now)?;
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
}
