// SPDX-License-Identifier: GPL-2.0
//! The hook through which a checkpoint may hold only what changed since
//! an earlier one (an incremental image: docs/image-format.md,
//! "Incremental images"); high availability's periodic checkpoints fill
//! it (`ha/increments.rs`).
//!
//! A checkpoint into a file given an [`Increment`] asks it, in the frozen
//! process's own context (the thread that writes the image, the others
//! parked), to write the image: the hook decides which pages go in it
//! and whether it is based on a parent image, then runs the capture
//! ([`IncrementFn`]) with that choice. The checkpoint layer knows nothing
//! of soft-dirty bits or of where the parent is.

use super::capture::{ImageSink, Memory, Written};
use crate::proto::ctl::CtlReply;
use kernel::prelude::*;

/// The image an incremental image is based on.
pub(crate) struct ParentRef<'a> {
    /// Its image id (the child's header `parent_id`).
    pub(crate) image_id: u64,
    /// Where it was written (absolute path, no NUL).
    pub(crate) path: &'a [u8],
}

/// Writes the image of the frozen process into `sink` with the pages
/// `memory` selects, based on `parent` (`None`: a full image); what went
/// wrong in the reply.
pub(crate) type IncrementFn<'a> =
    dyn FnMut(&mut dyn ImageSink, Memory<'_>, Option<&ParentRef<'_>>, &mut CtlReply) -> Result<Written> + 'a;

/// Chooses what a checkpoint holds (see the module documentation).
pub(crate) trait Increment: Send + Sync {
    /// In the frozen process's context: runs `capture` once, into
    /// `sink`, with the memory and parent it chooses; its outcome.
    fn write(&self, sink: &mut dyn ImageSink, reply: &mut CtlReply, capture: &mut IncrementFn<'_>) -> Result<Written>;
}
