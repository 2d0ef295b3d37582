// SPDX-License-Identifier: GPL-2.0
//! Pure logic shared with userspace: the files of the `ssi-proto` crate
//! (`proto/src/`), compiled into the module as they are.
#![allow(unreachable_pub, dead_code)]

#[path = "../proto/src/bench.rs"]
pub(crate) mod bench;
#[path = "../proto/src/classify.rs"]
pub(crate) mod classify;
#[path = "../proto/src/ctl.rs"]
pub(crate) mod ctl;
#[path = "../proto/src/frame_tag.rs"]
pub(crate) mod frame_tag;
#[path = "../proto/src/ha/mod.rs"]
pub(crate) mod ha;
#[path = "../proto/src/handover.rs"]
pub(crate) mod handover;
#[path = "../proto/src/identity.rs"]
pub(crate) mod identity;
// `image` is a directory whose `mod.rs` re-exports every public item of its
// files, as `image::Item`; the module uses only some of them.
#[allow(unused_imports)]
#[path = "../proto/src/image/mod.rs"]
pub(crate) mod image;
#[path = "../proto/src/image_split.rs"]
pub(crate) mod image_split;
#[path = "../proto/src/le.rs"]
pub(crate) mod le;
// `membership` is a directory module like `image`.
#[allow(unused_imports)]
#[path = "../proto/src/membership/mod.rs"]
pub(crate) mod membership;
// `migration` is a directory module like `image`.
#[allow(unused_imports)]
#[path = "../proto/src/migration/mod.rs"]
pub(crate) mod migration;
#[path = "../proto/src/node_stats.rs"]
pub(crate) mod node_stats;
#[path = "../proto/src/page.rs"]
pub(crate) mod page;
#[path = "../proto/src/pid_range.rs"]
pub(crate) mod pid_range;
#[path = "../proto/src/proc_text.rs"]
pub(crate) mod proc_text;
#[path = "../proto/src/procs.rs"]
pub(crate) mod procs;
#[path = "../proto/src/reliable.rs"]
pub(crate) mod reliable;
// `sched` is a directory module like `image`.
#[allow(unused_imports)]
#[path = "../proto/src/sched/mod.rs"]
pub(crate) mod sched;
#[path = "../proto/src/signal.rs"]
pub(crate) mod signal;
#[path = "../proto/src/version.rs"]
pub(crate) mod version;
// `wire` is a directory module like `image`.
#[allow(unused_imports)]
#[path = "../proto/src/wire/mod.rs"]
pub(crate) mod wire;

// The image format's page size is the kernel's.
const _: () = assert!(page::PAGE_SIZE == kernel::page::PAGE_SIZE);
