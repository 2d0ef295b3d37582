//! Pure logic shared by the ssi kernel module and userspace.
//!
//! Everything here is `no_std` and allocation-free. The kernel module pulls
//! each file in with `#[path = "../proto/src/<file>.rs"] mod <file>;`, so a
//! file must stand alone: no `crate::` paths, no dependencies; it may use a
//! sibling file only as `super::<file>::Item`, which resolves both here and
//! inside the module's `mod proto`. A module split into a directory
//! (`image/`) is pulled in by its `mod.rs`; its files use each other as
//! `super::<file>::Item` and the crate's files as `super::super::<file>`.
//! Userspace (ssi-ctl, tests, fuzzers) uses this crate normally.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod classify;
pub mod ctl;
pub mod frame_tag;
pub mod ha;
pub mod handover;
pub mod identity;
pub mod image;
pub mod image_split;
pub mod le;
pub mod membership;
pub mod migration;
pub mod node_stats;
pub mod page;
pub mod pid_range;
pub mod proc_text;
pub mod procs;
pub mod reliable;
pub mod sched;
pub mod signal;
pub mod version;
pub mod wire;
