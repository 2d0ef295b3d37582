//! Live migration: the bodies of the `Migrate*` krpc messages
//! (`docs/protocol.md`) and the small pieces of pure logic the module's
//! migration code needs (wait statuses, the exit trampoline search).
//!
//! Every body starts with the migration's id: a random 64-bit number the
//! source picks, never 0, that names one move of one process between two
//! nodes. A process that has migrated carries a second id, its *home* id,
//! which stays the same over every hop and names its deputy on its home
//! node.
//!
//! # Files
//!
//! Each file depends only on the ones listed before it:
//!
//! - `transfer.rs`: the id rule every body shares, the data limits,
//!   [`Begin`], [`Data`], [`Commit`], [`Ref`];
//! - `precopy.rs`: [`PAGE`], [`USER_TOP`], [`Run`], [`Keep`],
//!   [`keep_follows`], [`overlap`], [`gaps`], [`page_state`],
//!   [`precopy_continue`];
//! - `deputy.rs`: [`WaitStatus`], [`Exit`], [`Signal`], [`Io`],
//!   [`IoDone`], [`Moved`], [`find_syscall`];
//! - `lease.rs`: [`Lease`];
//! - `postcopy.rs`: [`PageRequest`], [`PageData`], [`is_push_read`] and
//!   their limits;
//! - `ask.rs`: [`AskRequest`], [`AskStart`], [`AskStatus`], [`AskState`]
//!   (`MigrateAsk`: migrate a process that runs on another node);
//! - `tests.rs`: unit and property tests.
//!
//! This file only declares them and re-exports their public items, so
//! that every item is reached as `migration::Item`; the files are
//! private.

mod ask;
mod deputy;
mod lease;
mod postcopy;
mod precopy;
mod transfer;

#[cfg(test)]
mod tests;

pub use ask::{
    AskRequest, AskStart, AskState, AskStatus, ASK_QUERY_LEN, ASK_START_LEN, ASK_STATUS_HEADER,
    ASK_STATUS_MAX, MAX_ASK_MESSAGE,
};
pub use deputy::{find_syscall, Exit, Io, IoDone, IoOp, Moved, Signal, WaitStatus, MAX_IO};
pub use lease::{Lease, MAX_LEASES};
pub use postcopy::{
    is_push_read, PageData, PageRequest, MAX_PAGES_READ, MAX_PAGE_BYTES, MAX_PAGE_REQUESTS_PER_READ,
};
pub use precopy::{
    gaps, keep_follows, overlap, page_state, precopy_continue, Keep, PageState, Run, MAX_KEEP_RUNS,
    PAGE, USER_TOP,
};
pub use transfer::{Begin, Commit, Data, Family, Ref, MAX_DATA, MAX_DATA_HEADER};
