// SPDX-License-Identifier: GPL-2.0
//! `/dev/ssi`: the request channel of `ssi-ctl` for work that needs a
//! reply (checkpoint, restart, restart on another node, migrate, migrate
//! a process another node runs). One ioctl carries a
//! fixed request block (`proto/src/ctl.rs`); the module writes the block
//! back with the outcome and a message, and fails the ioctl with the errno.

use crate::{
    checkpoint::page_store::PageStore,
    checkpoint::{
        self, remote,
        task::{self, File},
    },
    cluster::Cluster,
    ctl_reply::say,
    extra as raw,
    node::Node,
    proto::ctl::{CtlOp, CtlReply, CtlRequest, CTL_IOCTL, CTL_LEN, FLAG_ALL_PAGES_HERE, FLAG_CHECK_ONLY, FLAG_PAGES_LATER},
};
use kernel::{
    ffi::{c_long, c_uint, c_ulong, c_void},
    prelude::*,
    sync::Arc,
    uaccess::UserSlice,
};

/// The registered device; unregistered on drop.
pub(crate) struct CtlDevice {
    /// What the ioctl handler's data pointer points to, kept alive.
    _node: Arc<Node>,
}

impl CtlDevice {
    /// Creates `/dev/ssi`.
    pub(crate) fn register(node: Arc<Node>) -> Result<CtlDevice> {
        let data = {
            let r: &Node = &node;
            (r as *const Node).cast_mut().cast::<c_void>()
        };
        // SAFETY: `data` stays valid while registered: the device holds
        // `node` and unregisters before dropping it; the handler
        // matches the C prototype.
        kernel::error::to_result(unsafe { raw::ssi_ctl_register(Some(ctl_ioctl), data) })?;
        Ok(CtlDevice { _node: node })
    }
}

impl Drop for CtlDevice {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. Open files hold the module, so
        // no ioctl is running or can start once we get here.
        unsafe { raw::ssi_ctl_unregister() };
    }
}

/// The ioctl handler of `/dev/ssi`.
///
/// # Safety
///
/// `data` is the `Node` registered with the device, alive while it is.
unsafe extern "C" fn ctl_ioctl(data: *mut c_void, cmd: c_uint, arg: c_ulong) -> c_long {
    if cmd != CTL_IOCTL {
        return ENOTTY.to_errno() as c_long;
    }
    // SAFETY: per the contract.
    let node = unsafe { &*data.cast_const().cast::<Node>() };
    let (mut reader, mut writer) = UserSlice::new(arg as usize, CTL_LEN).reader_writer();
    let mut block = [0u8; CTL_LEN];
    if let Err(e) = reader.read_slice(&mut block) {
        return e.to_errno() as c_long;
    }
    let mut reply = CtlReply::EMPTY;
    let start = task::mono_ns();
    let result = match CtlRequest::decode(&block) {
        Err(e) => {
            say(&mut reply, format_args!("{}", e.describe()));
            Err(EINVAL)
        }
        Ok(req) => match req.op {
            CtlOp::Checkpoint => match node.migrations.deputy_of_pid(req.pid).map(|d| d.location()) {
                // A deputy has no process to capture: it runs elsewhere.
                Some((there, pid)) => {
                    say(
                        &mut reply,
                        format_args!("process {} runs on node {there} as pid {pid}: checkpoint it there", req.pid),
                    );
                    Err(EBUSY)
                }
                None => checkpoint::checkpoint(node.node_id(), &req, &mut reply),
            },
            CtlOp::RemoteRestart => restart_remote(node, &req, &mut reply),
            CtlOp::Migrate => {
                let cluster = node.with_service(|s| s.map(|s| s.cluster()));
                match node.migrations.deputy_of_pid(req.pid).map(|d| d.location()) {
                    // The home node's pid of a process that runs elsewhere:
                    // the node that runs it migrates it.
                    Some((there, there_pid)) => {
                        let there_req = CtlRequest { pid: there_pid, ..req };
                        crate::migration::ask::migrate_elsewhere(cluster, &node.migrations, there, &there_req, &mut reply)
                    }
                    None => crate::migration::source::migrate(cluster, &node.migrations, &req, &mut reply, None),
                }
            }
            CtlOp::MigrateElsewhere => match u16::try_from(req.token) {
                Ok(there) if there != 0 => {
                    let cluster = node.with_service(|s| s.map(|s| s.cluster()));
                    crate::migration::ask::migrate_elsewhere(cluster, &node.migrations, there, &req, &mut reply)
                }
                _ => {
                    say(&mut reply, format_args!("node {} is not a node id", req.token));
                    Err(EINVAL)
                }
            },
            CtlOp::MigrationImage => migration_image(node, &req, &mut reply),
            CtlOp::Protect => {
                let cluster = node.with_service(|s| s.map(|s| s.cluster()));
                node.ha.protect(cluster.as_deref(), &req, &mut reply)
            }
            CtlOp::FlipBit => node.ha.flip_bit(&req, &mut reply),
            CtlOp::MigrationPages => migration_pages(node, &req, &mut reply),
            CtlOp::PassOn => pass_on(node, &req, &mut reply),
            CtlOp::Report => report(node, &req, &block),
            CtlOp::RestoreThread => match restore_thread(node, &req) {
                // This thread is the saved one now (rax set on the way out).
                Ok(ax) => return ax as c_long,
                Err(e) => Err(e),
            },
            CtlOp::Restore => match restore_image(node, &req, &mut reply) {
                // The caller is now the restored process: its memory is not
                // the block's any more (its rax is set on the way out).
                Ok(CHECKED) => Ok(()),
                Ok(ax) => {
                    pr_info!(
                        "pid {}: restarted from an image: {} pages, {} us in the kernel, {} us after the process started\n",
                        task::current_pid(),
                        reply.pages,
                        task::mono_ns().saturating_sub(start) / 1000,
                        task::current_age_ns() / 1000
                    );
                    return ax as c_long;
                }
                Err(e) => Err(e),
            },
        },
    };
    if result.is_ok() && req_is_checkpoint(&block) {
        pr_info!(
            "pid {}: checkpoint done: {} bytes, {} pages, frozen {} us\n",
            task::current_pid(),
            reply.image_bytes,
            reply.pages,
            reply.frozen_ns / 1000
        );
    }
    if let Err(e) = &result {
        reply.errno = (-e.to_errno()) as u32;
        pr_info!("request from pid {} refused: {}\n", task::current_pid(), reply.message());
    }
    reply.encode_into(&mut block);
    if let Err(e) = writer.write_slice(&block) {
        return e.to_errno() as c_long;
    }
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

fn req_is_checkpoint(block: &[u8; CTL_LEN]) -> bool {
    CtlRequest::decode(block).is_ok_and(|r| r.op == CtlOp::Checkpoint)
}

/// The caller's image descriptor, a regular file open for reading.
fn image_for_reading(req: &CtlRequest, reply: &mut CtlReply) -> Result<File> {
    let file = File::from_fd(req.image_fd).ok_or(EBADF)?;
    let info = file.info();
    if info.kind != task::FileClass::Regular || info.readable == 0 {
        say(reply, format_args!("the image must be a regular file open for reading"));
        return Err(EBADF);
    }
    Ok(file)
}

fn restore_image(node: &Node, req: &CtlRequest, reply: &mut CtlReply) -> Result<i64> {
    // The restart of an incoming migration: stand-ins for the files the
    // deputy keeps, and the process runs only once the source hands it over.
    let hosted = if req.token != 0 { node.migrations.find_hosted(|h| h.token() == req.token) } else { None };
    if hosted.is_some() {
        // Only the program started for this migration restores it.
        node.restarts.check_own(req.token).inspect_err(|_| {
            say(reply, format_args!("this restart token belongs to another process"));
        })?;
    }
    // A replica of a replicated process (high availability): its fds 0-2
    // are the replica's stand-ins.
    let replica = if hosted.is_none() { node.ha.copies.pending(req.token) } else { None };
    if replica.is_some() {
        // Only the program started for this replica restores it.
        node.restarts.check_own(req.token).inspect_err(|_| {
            say(reply, format_args!("this restart token belongs to another process"));
        })?;
    }
    let cluster: Option<Arc<Cluster>> = node.with_service(|s| s.map(|s| s.cluster()));
    let make_stand_in = |fd: u32, r: bool, w: bool| -> Result<File> {
        match (&hosted, &cluster, &replica) {
            (Some(h), Some(c), _) => crate::migration::forward::stand_in(c, h, fd, r, w, node.migrations.write_gate()),
            (None, Some(c), Some(copy)) => crate::ha::replica_io::stand_in(c, &node.ha, copy, r, w),
            _ => Err(crate::kernel_ext::enotconn()),
        }
    };
    let forward: Option<checkpoint::restore::Forwarder<'_>> =
        if hosted.is_some() || replica.is_some() { Some(&make_stand_in) } else { None };
    // Post-copy, lazy: the memory comes later, through the caller's
    // userfaultfd (registered once the mappings exist, in `preload`).
    let pages_later = hosted.as_ref().is_some_and(|h| h.pages_later());
    if req.flags & FLAG_CHECK_ONLY == 0 && (req.flags & FLAG_PAGES_LATER != 0) != pages_later {
        say(reply, format_args!("pages-later restore without a post-copy or lazy migration (or the reverse)"));
        return Err(EINVAL);
    }
    if let (true, Some(h), 0) = (pages_later, &hosted, req.flags & FLAG_CHECK_ONLY) {
        match File::from_fd(req.uffd) {
            Some(f) if crate::migration::sys::is_userfaultfd(&f) => h.set_uffd(f),
            _ => {
                say(reply, format_args!("uffd is not a userfaultfd"));
                return Err(EBADF);
            }
        }
    }
    let outcome = image_for_reading(req, reply).and_then(|file| {
        if hosted.as_ref().is_some_and(|h| !h.is_image(&file)) {
            say(reply, format_args!("the image is not the one of this migration"));
            return Err(EBADF);
        }
        if req.flags & FLAG_CHECK_ONLY != 0 {
            return checkpoint::restore::check(&file, reply).map(|()| CHECKED);
        }
        // A migration's pages that came before its image (pre-copy), or its
        // userfaultfd registration (post-copy, lazy).
        let preload = |step| -> Result { hosted.as_ref().map_or(Ok(()), |h| h.preload(step)) };
        let preload: Option<checkpoint::restore::Preload<'_>> = if hosted.is_some() { Some(&preload) } else { None };
        // Post-copy, lazy, pre-copy: the image came while the process ran
        // on; the restore tells the source it is prepared and waits for the
        // final state (pre-copy: writing the rounds' pages meanwhile).
        let prepared = hosted.as_ref().is_some_and(|h| h.prepares());
        let wait_final = || -> Result<(File, Option<PageStore>)> {
            let h = hosted.as_ref().ok_or(EINVAL)?;
            h.await_final(|| {
                if req.token != 0 {
                    node.restarts.running(req.token);
                }
            })
        };
        // Eager: the image may still be arriving; its page data comes to
        // the restore as it needs it. A checkpoint image sent as a
        // migration (high availability's restart) is not split: it came
        // whole into the file, its pages with it.
        let (incoming, pages) = match &hosted {
            Some(h) if h.streams() && h.splits() => (checkpoint::restore::Incoming::Arriving(&**h), Some(PageStore::new())),
            Some(h) if h.streams() => (checkpoint::restore::Incoming::Whole, None),
            Some(h) if prepared => {
                let memory_before = h.is_precopy();
                (checkpoint::restore::Incoming::Prepared { wait_final: &wait_final, memory_before }, h.take_pages())
            }
            Some(h) => (checkpoint::restore::Incoming::Whole, h.take_pages()),
            None => (checkpoint::restore::Incoming::Whole, None),
        };
        checkpoint::restore::restore(&file, reply, &node.restore_groups, forward, preload, pages, incoming, || {
            if req.token != 0 && !prepared {
                node.restarts.running(req.token);
            }
            match &hosted {
                Some(h) => h.await_go(),
                None => Ok(()),
            }
        })
    });
    match &outcome {
        Err(e) => {
            if req.token != 0 && req.flags & FLAG_CHECK_ONLY == 0 {
                let _ = node.restarts.failed(req.token, e.to_errno().unsigned_abs(), reply.message());
            }
            if let Some(h) = &hosted {
                h.fail();
            }
        }
        Ok(_) => {
            if let Some(h) = &hosted {
                h.set_running();
            }
            if let (Some(c), 0) = (&replica, req.flags & FLAG_CHECK_ONLY) {
                c.restored(task::current_pid());
            }
        }
    }
    outcome
}

/// The process started for incoming migration `req.token` asks for the
/// image: a descriptor of it (in `reply.pid`), once all of it came (the
/// program is started when the migration begins and waits here).
fn migration_image(node: &Node, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let (is_root, _) = task::caller_identity();
    if !is_root {
        return Err(EPERM);
    }
    let h = node.migrations.find_hosted(|h| h.token() == req.token).ok_or_else(|| {
        say(reply, format_args!("no incoming migration has this token"));
        ENOENT
    })?;
    node.restarts.check_own(req.token)?;
    reply.pid = h.image_fd().inspect_err(|e| {
        if *e == crate::kernel_ext::ecanceled() {
            say(reply, format_args!("the migration was given up before its image was complete"));
        }
    })?;
    Ok(())
}

/// The restarting process of incoming migration `req.token` made the copy
/// of itself (pid `req.pid`) that keeps the process's own pid: that copy
/// carries the restart on.
fn pass_on(node: &Node, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let (is_root, _) = task::caller_identity();
    if !is_root {
        return Err(EPERM);
    }
    node.restarts.pass_on(req.token, req.pid).inspect_err(|_| {
        say(reply, format_args!("cannot pass restart {} on to pid {}", req.token, req.pid));
    })
}

/// Post-copy, lazy: the restarting process of incoming migration
/// `req.token` asks for its pages file (a descriptor in `reply.pid`); its
/// page server says every page came (`FLAG_ALL_PAGES_HERE`, `req.uffd` the
/// pages file).
fn migration_pages(node: &Node, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let cluster: Option<Arc<Cluster>> = node.with_service(|s| s.map(|s| s.cluster()));
    let cluster = cluster.ok_or_else(crate::kernel_ext::enotconn)?;
    // "All pages are here" comes from the page server, which runs without
    // privilege (ssi-pager drops root once set up): holding the pages file
    // is what allows it.
    if req.flags & FLAG_ALL_PAGES_HERE != 0 {
        let file = File::from_fd(req.uffd).ok_or(EBADF)?;
        let h = crate::migration::pages::hosted_of(&file).ok_or_else(|| {
            say(reply, format_args!("uffd is not a pages file"));
            EBADF
        })?;
        h.all_pages_here(&cluster, &node.migrations);
        return Ok(());
    }
    let (is_root, _) = task::caller_identity();
    if !is_root {
        return Err(EPERM);
    }
    let h = node.migrations.find_hosted(|h| h.token() == req.token && h.pages_later()).ok_or_else(|| {
        say(reply, format_args!("no post-copy or lazy incoming migration has this token"));
        ENOENT
    })?;
    node.restarts.check_own(req.token)?;
    let file = crate::migration::pages::open(&cluster, &h)?;
    reply.pid = crate::migration::sys::install_new_fd(&file)?;
    Ok(())
}

/// Thread `req.pid` of a restarting process: waits for the main thread to
/// rebuild the process, then becomes saved thread `req.pid`.
fn restore_thread(node: &Node, req: &CtlRequest) -> Result<i64> {
    let plans = node.restore_groups.join(req.pid)?;
    // Past this point the process's memory is the restored one: a failure
    // cannot return to the code that called.
    let applied = plans.threads.get(req.pid as usize).ok_or(EINVAL).and_then(checkpoint::thread_plan::apply_thread);
    if let Err(e) = &applied {
        pr_err!("restart: thread {} could not take its state (error {}): process killed\n", req.pid, e.to_errno());
        task::kill_current();
    }
    applied
}

/// `ssi-ctl restart --node N FILE`.
fn restart_remote(node: &Node, req: &CtlRequest, reply: &mut CtlReply) -> Result {
    let file = image_for_reading(req, reply)?;
    let cluster: Option<Arc<Cluster>> = node.with_service(|s| s.map(|s| s.cluster()));
    let Some(cluster) = cluster else {
        say(reply, format_args!("this node is not in a cluster (enabled is 0)"));
        return Err(crate::kernel_ext::enotconn());
    };
    remote::restart_on_node(&cluster, node.node_id(), req.node, &file, reply)?;
    pr_info!("image restarted on node {} as pid {} there\n", req.node, reply.pid);
    Ok(())
}

/// The process of a remote restart says why it failed.
fn report(node: &Node, req: &CtlRequest, block: &[u8; CTL_LEN]) -> Result {
    let said = CtlReply::decode(block);
    node.restarts.failed(req.token, said.errno, said.message())
}

/// What `restore_image` returns for a check (never a restored rax: a check
/// writes its reply like any other request).
const CHECKED: i64 = i64::MIN;
