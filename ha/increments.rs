// SPDX-License-Identifier: GPL-2.0
//! Incremental checkpoints: the checkpoint layer's [`Increment`] hook,
//! filled for high availability's images.
//!
//! The node that writes a protected process's images keeps, per process,
//! what it needs to base the next image on the last one it wrote
//! ([`Chain`]): that image's number and id, the token of the clear of the
//! process's soft-dirty bits made when it was written, and the pages that
//! were in memory then. In the frozen process's context ([`Since::write`])
//! it reads the process's page states and clears its soft-dirty bits
//! (`migration::precopy::scan_current`), then writes:
//! - an incremental image based on the parent asked for, if this node
//!   wrote that parent and the last clear of the bits was its own (a
//!   pre-copy round clears them too: then the dirty set is unknown), with
//!   the pages written since (soft-dirty), the pages that were in memory
//!   then and are not now (as zero pages: they were discarded), and every
//!   page of mappings the scan does not follow (shared ones);
//! - otherwise a full image.

use super::copies::Copy;
use crate::{
    checkpoint::{
        capture::{DirtyPages, ImageSink, Memory, Written},
        increment::{Increment, IncrementFn, ParentRef},
    },
    ctl_reply::fail,
    migration::precopy::{self, Scan},
    proto::{ctl::CtlReply, migration::Run},
};
use kernel::{new_mutex, prelude::*, sync::Arc, sync::Mutex};

/// What the node that writes a process's images keeps to base the next
/// one on the last.
pub(crate) struct Chain {
    /// The process: its home id (0: it runs at home) and pid.
    pub(crate) home_id: u64,
    pub(crate) pid: u32,
    /// The last image written here, and its id.
    pub(crate) seq: u32,
    pub(crate) image_id: u64,
    /// The token of the clear of the soft-dirty bits made with it.
    pub(crate) token: u32,
    /// The pages in memory then, sorted runs.
    pub(crate) present: KVec<Run>,
}

/// The outcome of [`Since::write`]: what the next image may be based on.
pub(crate) struct Outcome {
    /// The parent the image is based on (0: a full image).
    pub(crate) parent: u32,
    /// A replicated process's point at the capture (0 otherwise).
    pub(crate) point: u64,
    pub(crate) token: u32,
    pub(crate) present: KVec<Run>,
}

/// One checkpoint of a protected process: based on `parent` if it can be.
#[pin_data]
pub(crate) struct Since {
    pid: u32,
    /// The parent asked for: its chain state here and its path (no NUL).
    parent: Option<(Chain, KVec<u8>)>,
    /// The process's copy here, when it is a replicated primary.
    copy: Option<Arc<Copy>>,
    #[pin]
    outcome: Mutex<Option<Outcome>>,
}

impl Since {
    /// A checkpoint of process `pid` (this node's pid) based on `parent`
    /// (its chain state and path) if it can be; `copy`: the process is a
    /// replicated primary (the image's point is its).
    pub(crate) fn new(pid: u32, parent: Option<(Chain, KVec<u8>)>, copy: Option<Arc<Copy>>) -> Result<Arc<Since>> {
        Arc::pin_init(pin_init!(Since { pid, parent, copy, outcome <- new_mutex!(None) }), GFP_KERNEL)
    }

    /// What the checkpoint was based on, once written.
    pub(crate) fn take_outcome(&self) -> Option<Outcome> {
        self.outcome.lock().take()
    }
}

impl Increment for Since {
    fn write(&self, sink: &mut dyn ImageSink, reply: &mut CtlReply, capture: &mut IncrementFn<'_>) -> Result<Written> {
        // In the frozen process: the point the image holds.
        let point = self.copy.as_ref().map_or(0, |c| c.captured());
        // Before the scan clears them: was the last clear ours?
        let parent = self.parent.as_ref().filter(|(c, _)| precopy::clear_token(self.pid) == Some(c.token));
        let scan = precopy::scan_current(true)
            .map_err(|e| fail(reply, e, format_args!("cannot read the process's page states (error {})", e.to_errno())))?;
        let present = scan.present()?;
        let r = match parent {
            Some((c, path)) => {
                let pages = SinceParent { scan: &scan, before: &c.present };
                let p = ParentRef { image_id: c.image_id, path };
                capture(sink, Memory::Dirty(&pages), Some(&p), reply)
            }
            None => capture(sink, Memory::All, None, reply),
        };
        *self.outcome.lock() =
            Some(Outcome { parent: parent.map_or(0, |(c, _)| c.seq), point, token: scan.cleared, present });
        r
    }
}

/// The pages of an incremental image (see the module documentation).
struct SinceParent<'a> {
    scan: &'a Scan,
    before: &'a [Run],
}

impl DirtyPages for SinceParent<'_> {
    fn is_dirty(&self, addr: u64) -> bool {
        self.scan.is_dirty(addr)
            || (!self.scan.is_present(addr) && (Scan::in_runs(self.before, addr) || !self.scan.was_scanned(addr)))
    }
}
