// SPDX-License-Identifier: GPL-2.0
//! A process lost with its node, resumed from a checkpoint image by its
//! deputy's node (high availability, `ha/`).
//!
//! The deputy at home stands for a process that ran on a node now lost.
//! [`resume`] sends that process's newest checkpoint image (written by
//! its caller, `ha/chain.rs`, from the shared file system), to another
//! node as an eager migration whose
//! source is the home node itself: `MigrateBegin` (the deputy's home id,
//! pid, family and start time, so the destination restarts it with the
//! same pid and follows the same deputy), the image's bytes as
//! `MigrateData`, `MigrateCommit`, the restore's outcome
//! (`RestartStatus`), then `MigrateGo`. The destination does what it does
//! for any migration (`incoming.rs`): its restart program rebuilds the
//! process from the image, stand-ins for the pipes and terminals the
//! deputy keeps on fds 0-2, and its leases renew the deputy. The deputy
//! is then re-pointed at it ([`Deputy::restarted_on`]). Any failure before
//! `MigrateGo` succeeded sends `MigrateAbort`; nothing runs there.
//!
//! The image is a checkpoint's (its pages carry CRCs), so the destination
//! keeps it whole in its image file rather than splitting off the pages,
//! and checks its CRCs as it restores it.

use super::{deputy::Deputy, stream::ImageStream, Direction, Migrations, Record};
use crate::{
    checkpoint::{capture::ImageSink, remote::await_outcome, task},
    cluster::Cluster,
    ctl_reply::fail,
    proto::{
        ctl::{CtlReply, STRATEGY_EAGER},
        migration::{Begin, Commit, Family},
        wire::{MsgType, RestartStarted},
    },
};
use core::sync::atomic::AtomicBool;
use kernel::{prelude::*, sync::Arc};

/// How long `MigrateBegin`, `MigrateCommit` and `MigrateGo` may take.
const CALL_TIMEOUT_MS: u32 = 10_000;

/// Writes a checkpoint image into the sink; why not in the reply.
pub(crate) type ImageFn<'a> = dyn FnMut(&mut dyn ImageSink, &mut CtlReply) -> Result + 'a;

/// Restarts the process of deputy `d` on `node` from the checkpoint image
/// `image` writes; its pid there (the same as at home when it is
/// cluster-wide). On success the deputy follows it there; on failure
/// nothing runs there and the reason is in `reply`.
pub(crate) fn resume(
    cluster: &Cluster,
    migrations: &Migrations,
    d: &Arc<Deputy>,
    image: &mut ImageFn<'_>,
    node: u16,
    reply: &mut CtlReply,
) -> Result<u32> {
    let start = task::mono_ns();
    let id = crate::kernel_ext::random_id();
    let Some(me) = task::Task::get(d.pid) else {
        return Err(fail(reply, ESRCH, format_args!("its deputy {} is gone", d.pid)));
    };
    let b = me.brief();
    drop(me);
    let begin = Begin {
        id,
        home_id: d.home_id,
        home_node: cluster.node_id(),
        home_pid: d.pid,
        home_family: Family { ppid: b.ppid, pgrp: b.pgrp, session: b.session },
        start_ns: crate::kernel_ext::real_time_ns().saturating_sub(b.age_ns),
        // Restarted by the system, as root asks.
        uid: 0,
        strategy: STRATEGY_EAGER,
        // Not known yet: the commit says.
        size: 0,
    };
    let record = |state: &'static str, bytes: u64| {
        migrations.record(Record {
            id,
            direction: Direction::Out,
            pid: d.pid,
            peer: node,
            strategy: STRATEGY_EAGER,
            state,
            bytes,
            rounds: 1,
            frozen_ns: 0,
            total_ns: task::mono_ns().saturating_sub(start),
        })
    };
    record("resuming", 0);
    let r = send_and_hand_over(cluster, &begin, image, node, reply);
    match r {
        Ok((pid, size)) => {
            record("resumed", size);
            d.restarted_on(node, pid);
            Ok(pid)
        }
        Err(e) => {
            record("failed", 0);
            super::send_abort(cluster, node, id);
            Err(e)
        }
    }
}

/// `MigrateBegin`, the image, `MigrateCommit`, the restore's outcome and
/// `MigrateGo`; the pid there and the image's size.
fn send_and_hand_over(
    cluster: &Cluster,
    begin: &Begin,
    image: &mut ImageFn<'_>,
    node: u16,
    reply: &mut CtlReply,
) -> Result<(u32, u64)> {
    let mut small = [0u8; Begin::LEN];
    let n = begin.encode(&mut small).map_err(|_| EINVAL)?;
    cluster
        .call_steady(node, MsgType::MigrateBegin, &small[..n], CALL_TIMEOUT_MS)
        .map_err(|e| fail(reply, e, format_args!("node {node} did not accept the process (error {})", e.to_errno())))?;
    let never = AtomicBool::new(false);
    let mut stream = ImageStream::new(cluster, node, begin.id, &never)?;
    image(&mut stream, reply).map_err(|e| {
        if stream.lost() {
            fail(reply, e, format_args!("lost node {node} while sending the image"))
        } else {
            e
        }
    })?;
    let size = stream.finish().map_err(|e| fail(reply, e, format_args!("lost node {node} while sending the image")))?;
    let mut c = [0u8; Commit::LEN];
    let n = (Commit { id: begin.id, size }).encode(&mut c).map_err(|_| EINVAL)?;
    let answer = cluster
        .call_steady(node, MsgType::MigrateCommit, &c[..n], CALL_TIMEOUT_MS)
        .map_err(|e| fail(reply, e, format_args!("node {node} could not start the restore (error {})", e.to_errno())))?;
    let started =
        RestartStarted::decode(&answer).map_err(|_| fail(reply, EIO, format_args!("bad answer from node {node}")))?;
    await_outcome(cluster, node, &started, reply, &|| false, true)?;
    super::send_go(cluster, node, begin.id, CALL_TIMEOUT_MS, &|| false)
        .map_err(|e| fail(reply, e, format_args!("node {node} did not take the process over (error {})", e.to_errno())))?;
    Ok((reply.pid, size))
}
