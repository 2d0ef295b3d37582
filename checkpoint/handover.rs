// SPDX-License-Identifier: GPL-2.0
//! The hook through which a capture hands its process over to another
//! node: a migration's (`migration/source.rs` fills it).
//!
//! A capture either writes its image into a file (a checkpoint) or is
//! given a [`Handover`] (the `handover` argument of `capture` in
//! `mod.rs`): the image then goes wherever the hand-over sends it, and,
//! unless it is only sent ahead, the process follows it. The capture knows nothing of how: this
//! trait is all it calls. (Not to be confused with `proto::handover`, the
//! comparison of a post-copy's two images at the destination.)
//!
//! Every method but [`Handover::retire_thread`] runs on the thread of the
//! target that writes the image (the last one to stop), in the frozen
//! process's own context (a task work on its way back to user mode),
//! while the other threads are parked: in this order, [`send_image`],
//! then, once an image that is not only sent ahead went out whole,
//! [`hand_over`], [`total_bytes`] and, once the caller has the outcome
//! and the parked threads were released, [`finish`].
//!
//! [`send_image`]: Handover::send_image
//! [`hand_over`]: Handover::hand_over
//! [`total_bytes`]: Handover::total_bytes
//! [`finish`]: Handover::finish

use super::capture::{ImageSink, Memory, Written};
use crate::proto::ctl::CtlReply;
use core::sync::atomic::AtomicBool;
use kernel::prelude::*;

/// Writes the image of the frozen process into `sink` with the pages
/// `memory` selects; what went wrong in the reply.
pub(crate) type CaptureFn<'a> = dyn FnMut(&mut dyn ImageSink, Memory<'_>, &mut CtlReply) -> Result<Written> + 'a;

/// Where a captured process goes instead of a file: another node.
///
/// Implemented by `migration::source::Outgoing`, which `migration` passes
/// to `checkpoint::capture` as `Arc<dyn Handover>` (once with `ahead` for
/// an image sent ahead of the freeze, then for the freeze itself).
pub(crate) trait Handover: Send + Sync {
    /// Has `capture` write the image: chooses which pages go in it
    /// (`ahead`: the image is sent ahead of the freeze and the process
    /// goes on here afterwards) and the sink its bytes go into; the
    /// capture's outcome. `cancelled` is set when the caller stopped
    /// waiting. Called once per capture.
    fn send_image(
        &self,
        ahead: bool,
        cancelled: &AtomicBool,
        reply: &mut CtlReply,
        capture: &mut CaptureFn<'_>,
    ) -> Result<Written>;

    /// After [`Handover::send_image`] sent the image (`image_bytes` long),
    /// not ahead: hands the process over to the other node, frozen since
    /// `frozen_since` (`task::mono_ns`); its pid there. On `Err` the
    /// process goes on here, unharmed (the reason is in `reply`).
    fn hand_over(&self, image_bytes: u64, frozen_since: u64, cancelled: &AtomicBool, reply: &mut CtlReply) -> Result<u32>;

    /// The bytes the caller is told went to the other node: the image's
    /// `image_bytes` and whatever went before it.
    fn total_bytes(&self, image_bytes: u64) -> u64;

    /// After [`Handover::hand_over`], once the caller has the outcome and
    /// the parked threads were released: `handed` (the pid on the other
    /// node) ends the process here the hand-over's way (the current task
    /// may stay as the process's deputy); `None` lets it go on here.
    /// `image_bytes` and `frozen_ns` are for the log.
    fn finish(&self, handed: Option<u32>, image_bytes: u64, frozen_ns: u64);

    /// On every other thread of the process, once released, after a
    /// successful [`Handover::hand_over`]: ends the calling thread (in its
    /// own context, on its way back to user mode).
    fn retire_thread(&self);
}
