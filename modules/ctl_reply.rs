// SPDX-License-Identifier: GPL-2.0
//! The answer a `/dev/ssi` request gets (`proto::ctl::CtlReply`): every
//! layer that refuses a request says why in the reply's message, which
//! `ssi-ctl` prints, and returns the errno. One place for that pairing.

use crate::proto::ctl::{CtlReply, MessageWriter};
use core::fmt::Write;
use kernel::prelude::*;

/// Writes `args` as the reply's message (cut at its size) and returns
/// `err`, for `return Err(fail(reply, EINVAL, format_args!(...)))`.
pub(crate) fn fail(reply: &mut CtlReply, err: Error, args: core::fmt::Arguments<'_>) -> Error {
    say(reply, args);
    err
}

/// Writes `args` as the reply's message (cut at its size).
pub(crate) fn say(reply: &mut CtlReply, args: core::fmt::Arguments<'_>) {
    let _ = MessageWriter::new(reply).write_fmt(args);
}
