// SPDX-License-Identifier: GPL-2.0
//! A hosted process's forwarded I/O: the home node's answers
//! (`MigrateIoDone`) to the reads and writes its stand-in files forwarded
//! (`MigrateIo`, `forward.rs`), kept until the stand-in waiting for each
//! takes it.
//!
//! The answers have a lock of their own: nothing else is read or written
//! with them. The sequence numbers they are matched by are the hosted
//! process's (`Hosted::next_seq`, shared with page requests); the hosted
//! process's doorbell wakes the waiting stand-in.

use kernel::{new_mutex, prelude::*, sync::Mutex};

/// One answer: its request's sequence number, the result, the data read.
struct Answer {
    seq: u64,
    result: i64,
    data: KVec<u8>,
}

/// Answers to `MigrateIo` not yet taken.
#[pin_data]
pub(crate) struct IoAnswers {
    #[pin]
    answers: Mutex<KVec<Answer>>,
}

impl IoAnswers {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(IoAnswers { answers <- new_mutex!(KVec::new()) })
    }

    /// Keeps the answer to request `seq`.
    pub(crate) fn put(&self, seq: u64, result: i64, data: KVec<u8>) -> Result {
        self.answers.lock().push(Answer { seq, result, data }, GFP_KERNEL)?;
        Ok(())
    }

    /// Takes the answer to `seq`, if it came: its result and data.
    pub(crate) fn take(&self, seq: u64) -> Option<(i64, KVec<u8>)> {
        let mut answers = self.answers.lock();
        let at = answers.iter().position(|a| a.seq == seq)?;
        crate::kernel_ext::swap_remove(&mut *answers, at).map(|a| (a.result, a.data))
    }
}
