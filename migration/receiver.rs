// SPDX-License-Identifier: GPL-2.0
//! The image receiver of an incoming migration: what `MigrateData`,
//! `MigratePages`, `MigrateKeep` and `MigrateCommit` fill and check, until
//! the restore takes it.
//!
//! - the image file, in kernel memory: the image's description only (its
//!   header, every section header and non-page body, each Pages section's
//!   prefix), written one piece after the other as the bytes come, split
//!   off the page data by an [`ImageSplitter`];
//! - the page data, left in the received frames' buffers, in image order
//!   (the [`PageStore`]);
//! - pre-copy: the rounds' pages and the keep list ([`RoundPages`]).
//!
//! A post-copy, lazy or pre-copy migration receives two images: the one
//! sent ahead, then the final one ([`ImageReceiver::start_final`]).
//!
//! The receiver has no lock of its own: every step of it checks or moves
//! where the migration stands, so it lives under the hosted process's lock
//! with its state (`remote::Hosted`), which also waits for it: the restart
//! program for the image (`Hosted::image_fd`), the restore for its
//! description and page data (`Hosted`'s `checkpoint::restore::Arriving`)
//! or for the final image (`Hosted::await_final`).

use super::{
    round_pages::{RoundFrame, RoundPages},
    sys,
};
use crate::{
    checkpoint::{page_store::PageStore, task::File},
    proto::{
        image_split::{ImageSplitter, Piece},
        migration::Run,
    },
};
use kernel::{alloc::KVVec, prelude::*};

/// What an incoming migration received of its image so far.
pub(crate) struct ImageReceiver {
    /// Bytes of the image received (description and page data).
    received: u64,
    /// The image, in kernel memory (until the process runs): without its
    /// page data when that is split off into `pages` (a migration's image
    /// always is).
    image: Option<File>,
    /// Tells the image's page data from its description as it comes.
    splitter: ImageSplitter,
    /// Bytes of description in `image` (the page data is left out: the
    /// file is the image without it).
    described: u64,
    /// The image's page data, in image order (until the restore took it).
    pages: Option<PageStore>,
    /// Pre-copy: the rounds' pages and the keep list (until the restore
    /// took them).
    rounds: Option<RoundPages>,
}

impl ImageReceiver {
    /// Ready for an image to be written into `image`; `rounds` for
    /// pre-copy.
    pub(crate) fn new(image: File, rounds: Option<RoundPages>) -> Self {
        ImageReceiver {
            received: 0,
            image: Some(image),
            splitter: ImageSplitter::new(),
            described: 0,
            pages: Some(PageStore::new()),
            rounds,
        }
    }

    /// Bytes of the image received so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Bytes of the image's description in the file so far.
    pub(crate) fn described(&self) -> u64 {
        self.described
    }

    /// Whether `file` is the image file, perhaps reopened.
    pub(crate) fn is_image(&self, file: &File) -> bool {
        self.image.as_ref().is_some_and(|i| sys::same_inode(i, file))
    }

    /// A descriptor of the image file in the caller's table.
    pub(crate) fn install_fd(&self) -> Result<u32> {
        sys::install_new_fd(self.image.as_ref().ok_or(ENOENT)?)
    }

    /// Whether the image is split (its pages carry no CRC).
    pub(crate) fn splits(&self) -> bool {
        self.splitter.splits()
    }

    /// Whether the description is whole: page data or the end came.
    pub(crate) fn description_whole(&self) -> bool {
        self.splitter.splits() && (self.splitter.page_bytes() > 0 || self.splitter.is_complete())
    }

    /// Whether the image came whole, `size` bytes.
    pub(crate) fn is_whole(&self, size: u64) -> bool {
        self.received == size && self.splitter.is_complete()
    }

    /// Stores the image bytes at the end of the `MigrateData` frame `body`
    /// (from `at` on), which end at `end` in the image: the description
    /// goes into the image file, one piece after the other; the page data
    /// stays in `body`, kept by the page store. `Err` says why, for the
    /// log, and the error.
    pub(crate) fn store(&mut self, body: KVec<u8>, at: usize, end: u64) -> Result<(), (&'static str, Error)> {
        let ImageReceiver { image, splitter, pages, described, .. } = self;
        let mut at = at;
        let mut rest = &body[at..];
        let mut pos = *described as i64;
        let mut keep = false;
        while !rest.is_empty() {
            let Ok((piece, n)) = splitter.next_piece(rest) else {
                return Err(("malformed image stream", EINVAL));
            };
            let (now, later) = rest.split_at(n);
            let stored = match (piece, image.as_ref(), pages.as_mut()) {
                (Piece::Description, Some(f), _) => f.write_all(now, &mut pos),
                (Piece::PageData, Some(_), Some(p)) => {
                    keep = true;
                    p.add_piece(at, n)
                }
                _ => Err(ENOENT),
            };
            if let Err(e) = stored {
                return Err(("cannot store image data", e));
            }
            at += n;
            rest = later;
        }
        *described = pos as u64;
        let kept = match pages.as_mut() {
            Some(p) if keep => p.add_body(body),
            _ => Ok(()),
        };
        if let Err(e) = kept {
            return Err(("cannot keep image data", e));
        }
        self.received = end;
        Ok(())
    }

    /// The page data received since into `store` (the restore's).
    pub(crate) fn take_page_data(&mut self, store: &mut PageStore) -> Result {
        match self.pages.as_mut() {
            Some(p) if p.holds_data() => store.append(core::mem::replace(p, PageStore::new())),
            _ => Ok(()),
        }
    }

    /// The image's page data, split off as it came, for the restore.
    pub(crate) fn take_pages(&mut self) -> Option<PageStore> {
        self.pages.take()
    }

    /// The image, for a deputy that restores it itself.
    pub(crate) fn take_image(&mut self) -> Option<File> {
        self.image.take()
    }

    /// The final image and its page data, once it came.
    pub(crate) fn take_final(&mut self) -> Result<(File, Option<PageStore>)> {
        let image = self.image.take().ok_or(ENOENT)?;
        Ok((image, self.pages.take()))
    }

    /// The image sent ahead was restored: the final one is written into
    /// `image` from its start.
    pub(crate) fn start_final(&mut self, image: File) {
        self.image = Some(image);
        self.splitter = ImageSplitter::new();
        self.described = 0;
        self.received = 0;
        self.pages = Some(PageStore::new());
    }

    /// Lets the image, its page data and the rounds go (the migration was
    /// given up, or the process runs).
    pub(crate) fn clear(&mut self) {
        self.image = None;
        self.pages = None;
        self.rounds = None;
    }

    /// Pre-copy: keeps the frame `body` of a round, `run`'s pages.
    pub(crate) fn add_round(&mut self, body: KVec<u8>, run: Run) -> Result {
        match self.rounds.as_mut() {
            Some(r) => RoundFrame::new(body, run.addr, run.npages).and_then(|f| r.add(f)),
            None => Err(EINVAL),
        }
    }

    /// Pre-copy: adds `runs` to the keep list.
    pub(crate) fn add_keep(&mut self, runs: impl Iterator<Item = Run>) -> Result {
        self.rounds.as_mut().map_or(Err(EINVAL), |r| r.add_keep(runs))
    }

    /// Pre-copy: the rounds' frames that came since, to write into the
    /// process (none without rounds).
    pub(crate) fn take_arrived(&mut self) -> KVVec<RoundFrame> {
        self.rounds.as_mut().map_or_else(KVVec::new, |r| r.take_arrived())
    }

    /// Pre-copy: `frames` were written into the process.
    pub(crate) fn put_written(&mut self, frames: KVVec<RoundFrame>) -> Result {
        self.rounds.as_mut().map_or(Ok(()), |r| r.put_written(frames))
    }

    /// Pre-copy: the rounds, for the restoring process alone once the
    /// final image came.
    pub(crate) fn take_rounds(&mut self) -> Option<RoundPages> {
        self.rounds.take()
    }

    /// Pre-copy: the rounds back, after their pages were saved.
    pub(crate) fn put_rounds(&mut self, rounds: RoundPages) {
        self.rounds = Some(rounds);
    }
}
