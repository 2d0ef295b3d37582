// SPDX-License-Identifier: GPL-2.0
//! Restart on another node: `ssi-ctl restart --node N FILE`.
//!
//! The asking node sends node N a `RestartRequest` (the image's path, the
//! same on every node of the shared file system, and the asking user).
//! Node N starts `ssi-ctl restart --token T --as-uid U FILE` as a usermode
//! helper (a new root process, no open files, reaped by the kernel; the
//! program's path is the `ctl_path` setting) and answers with the token and
//! the new process's pid. The new process reads the image, refuses it if
//! user U may not restart it, drops to the saved user and asks its module
//! to restore it, carrying the token: once the image passed every check the
//! restart is `Running`; a refusal before or during the checks is
//! `Failed`, with the errno and message. The asking node polls with
//! `RestartStatus` (each poll waits up to [`POLL_WAIT_MS`] on node N) until
//! the restart is no longer `Starting`, and hands the outcome to its
//! caller.
//!
//! Node N keeps the last [`SLOTS`] restarts in a table; only the process a
//! restart started may report on it.

use super::task::{self, File};
use crate::{
    cluster::Cluster,
    ctl_reply::fail,
    krpc::handlers::{Handler, Incoming},
    proto::{
        ctl::{CtlReply, MESSAGE_LEN},
        wire::{
            MsgType, RestartQuery, RestartRequest, RestartStarted, RestartState, RestartStatus, MAX_RESTART_MESSAGE,
            MAX_RESTART_PATH,
        },
    },
};
use core::{
    fmt::Write,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

/// Restarts remembered per node.
const SLOTS: usize = 32;
/// How long a `RestartStatus` waits on this node for news.
const POLL_WAIT_MS: u32 = 250;
/// A finished restart's slot may be reused after this long.
const KEEP_FINISHED_NS: u64 = 60_000_000_000;
/// A restart still starting after this long is forgotten.
const FORGET_STARTING_NS: u64 = 600_000_000_000;
/// How long the asking side waits for the outcome.
const OUTCOME_TIMEOUT_NS: u64 = 600_000_000_000;
/// Longest `ctl_path`.
pub(crate) const MAX_CTL_PATH: usize = 255;
/// Default `ctl_path`.
const DEFAULT_CTL_PATH: &[u8] = b"/usr/sbin/ssi-ctl";

#[derive(Clone, Copy)]
struct Slot {
    token: u32,
    from_node: u16,
    /// The process started for it (0 until known).
    pid: u32,
    state: RestartState,
    errno: u32,
    message: [u8; MESSAGE_LEN],
    message_len: usize,
    since_ns: u64,
}

impl Slot {
    fn reusable(&self, now: u64) -> bool {
        let age = now.saturating_sub(self.since_ns);
        match self.state {
            RestartState::Starting => age > FORGET_STARTING_NS,
            _ => age > KEEP_FINISHED_NS,
        }
    }

    fn finish(&mut self, state: RestartState, errno: u32, message: &str) {
        self.state = state;
        self.errno = errno;
        let mut n = message.len().min(MESSAGE_LEN);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        self.message[..n].copy_from_slice(&message.as_bytes()[..n]);
        self.message_len = n;
        self.since_ns = task::mono_ns();
    }
}

struct CtlPath {
    bytes: [u8; MAX_CTL_PATH],
    len: usize,
}

/// The restarts this node carries out for others, and the program it
/// starts for them.
#[pin_data]
pub(crate) struct RemoteRestarts {
    #[pin]
    slots: Mutex<[Option<Slot>; SLOTS]>,
    #[pin]
    changed: CondVar,
    next_token: AtomicU32,
    #[pin]
    ctl_path: Mutex<CtlPath>,
}

impl RemoteRestarts {
    /// An empty table, `ctl_path` at its default.
    pub(crate) fn new() -> Result<Arc<Self>> {
        let mut first = [0u8; 4];
        crate::kernel_ext::random_bytes(&mut first);
        let mut path = CtlPath { bytes: [0; MAX_CTL_PATH], len: DEFAULT_CTL_PATH.len() };
        path.bytes[..path.len].copy_from_slice(DEFAULT_CTL_PATH);
        Arc::pin_init(
            pin_init!(RemoteRestarts {
                slots <- new_mutex!([None; SLOTS]),
                changed <- new_condvar!(),
                next_token: AtomicU32::new(u32::from_le_bytes(first)),
                ctl_path <- new_mutex!(path),
            }),
            GFP_KERNEL,
        )
    }

    /// The program started for a remote restart (configfs `ctl_path`).
    pub(crate) fn ctl_path(&self, out: &mut [u8; MAX_CTL_PATH]) -> usize {
        let p = self.ctl_path.lock();
        out[..p.len].copy_from_slice(&p.bytes[..p.len]);
        p.len
    }

    /// Sets `ctl_path`: an absolute path without NUL or newline.
    pub(crate) fn set_ctl_path(&self, path: &[u8]) -> Result {
        if path.is_empty() || path.len() > MAX_CTL_PATH || path[0] != b'/' || path.iter().any(|&c| c == 0 || c == b'\n') {
            return Err(EINVAL);
        }
        let mut p = self.ctl_path.lock();
        p.bytes[..path.len()].copy_from_slice(path);
        p.len = path.len();
        Ok(())
    }

    fn new_token(&self) -> u32 {
        loop {
            let t = self.next_token.fetch_add(1, Ordering::Relaxed);
            if t != 0 {
                return t;
            }
        }
    }

    /// Starts the restart of `req` asked by `from_node`.
    fn start(&self, from_node: u16, req: &RestartRequest<'_>) -> Result<RestartStarted> {
        let mut uid_arg = Decimal::new();
        write!(uid_arg, "{}\0", req.uid).map_err(|_| EINVAL)?;
        let mut path = KVec::with_capacity(req.path.len() + 1, GFP_KERNEL)?;
        path.extend_from_slice(req.path, GFP_KERNEL)?;
        path.push(0, GFP_KERNEL)?;
        let started = self.start_program(from_node, &[b"--as-uid\0", uid_arg.as_bytes(), &path], |_| {})?;
        pr_info!(
            "node {}: restarting {} as pid {} (token {})\n",
            from_node,
            core::str::from_utf8(req.path).unwrap_or("?"),
            started.pid,
            started.token
        );
        Ok(started)
    }

    /// A new slot, starting, for `from_node`; its token.
    fn open_slot(&self, from_node: u16, pid: u32) -> Result<u32> {
        let token = self.new_token();
        let now = task::mono_ns();
        let mut slots = self.slots.lock();
        let free = slots.iter_mut().find(|s| s.as_ref().map_or(true, |s| s.reusable(now))).ok_or(EBUSY)?;
        *free = Some(Slot {
            token,
            from_node,
            pid,
            state: RestartState::Starting,
            errno: 0,
            message: [0; MESSAGE_LEN],
            message_len: 0,
            since_ns: now,
        });
        Ok(token)
    }

    /// A slot for a restart that process `pid` of this node carries out
    /// itself (a deputy taking its process back), for `from_node`.
    pub(crate) fn open_for(&self, from_node: u16, pid: u32) -> Result<RestartStarted> {
        Ok(RestartStarted { token: self.open_slot(from_node, pid)?, pid })
    }

    /// Starts `ctl_path restart --token T ARGS...` for `from_node` in a new
    /// slot; `on_token` learns the token before the program starts.
    pub(crate) fn start_program(
        &self,
        from_node: u16,
        args: &[&[u8]],
        on_token: impl FnOnce(u32),
    ) -> Result<RestartStarted> {
        let token = self.open_slot(from_node, 0)?;
        on_token(token);
        let spawned = self.spawn(token, args);
        let mut slots = self.slots.lock();
        let slot = slots.iter_mut().flatten().find(|s| s.token == token);
        match (spawned, slot) {
            (Ok(pid), Some(slot)) => {
                slot.pid = pid;
                self.changed.notify_all();
                Ok(RestartStarted { token, pid })
            }
            (Err(e), slot) => {
                if let Some(slot) = slot {
                    slot.finish(RestartState::Failed, e.to_errno().unsigned_abs(), "cannot start ctl_path");
                }
                pr_warn!("node {}: cannot start the restart program (ctl_path): error {}\n", from_node, e.to_errno());
                Err(e)
            }
            (Ok(_), None) => Err(EAGAIN),
        }
    }

    /// Starts `ctl_path restart --token T ARGS...`.
    fn spawn(&self, token: u32, args: &[&[u8]]) -> Result<u32> {
        let mut prog = [0u8; MAX_CTL_PATH + 1];
        let n = self.ctl_path((&mut prog[..MAX_CTL_PATH]).try_into().map_err(|_| EINVAL)?);
        let mut token_arg = Decimal::new();
        write!(token_arg, "{token}\0").map_err(|_| EINVAL)?;
        let mut argv: KVec<&[u8]> = KVec::with_capacity(4 + args.len(), GFP_KERNEL)?;
        for a in [&prog[..=n], b"restart\0", b"--token\0", token_arg.as_bytes()] {
            argv.push(a, GFP_KERNEL)?;
        }
        for a in args {
            argv.push(a, GFP_KERNEL)?;
        }
        task::spawn_usermode(&argv)
    }

    /// The slot of `token`, for the process that carries it out, while it
    /// is starting (or, `after_running`, running too): waits briefly for
    /// the spawner to record the pid.
    fn with_own_slot(&self, token: u32, after_running: bool, f: impl FnOnce(&mut Slot)) -> Result {
        let me = task::current_pid();
        let mut slots = self.slots.lock();
        for _ in 0..8 {
            let Some(slot) = slots.iter_mut().flatten().find(|s| s.token == token) else {
                return Err(ENOENT);
            };
            if slot.pid == me {
                let open = slot.state == RestartState::Starting || (after_running && slot.state == RestartState::Running);
                if open {
                    f(slot);
                    self.changed.notify_all();
                }
                return Ok(());
            }
            if slot.pid != 0 {
                return Err(EPERM);
            }
            let _ = self.changed.wait_interruptible_timeout(&mut slots, msecs_to_jiffies(125));
        }
        Err(EPERM)
    }

    /// Whether the caller is the process started for restart `token`.
    pub(crate) fn check_own(&self, token: u32) -> Result {
        self.with_own_slot(token, false, |_| {})
    }

    /// The process of restart `token` made a copy of itself, `pid`, with
    /// the restarted process's own pid (clone3 `set_tid`), which carries
    /// the restart on: from now on that copy is the slot's process.
    pub(crate) fn pass_on(&self, token: u32, pid: u32) -> Result {
        if pid == 0 || !task::process_alive(pid) {
            return Err(ESRCH);
        }
        let mut passed = false;
        self.with_own_slot(token, false, |s| {
            s.pid = pid;
            passed = true;
        })?;
        if passed {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// The process of restart `token` passed the checks: it runs.
    pub(crate) fn running(&self, token: u32) {
        let _ = self.with_own_slot(token, false, |s| {
            s.finish(RestartState::Running, 0, "");
        });
    }

    /// The process of restart `token` failed with `errno` and `message`
    /// (also after it said it runs: a migration's prepared restore says so
    /// before the hand-over, which may still fail, and the source then
    /// asks why).
    pub(crate) fn failed(&self, token: u32, errno: u32, message: &str) -> Result {
        self.with_own_slot(token, true, |s| s.finish(RestartState::Failed, errno.max(1), message))
    }

    /// The state of restart `token` asked by `from_node`, waiting a little
    /// for news while it is starting.
    fn status(&self, from_node: u16, token: u32, out: &mut [u8]) -> Result<usize> {
        let mut slots = self.slots.lock();
        let mut waited = false;
        loop {
            let slot = slots.iter_mut().flatten().find(|s| s.token == token && s.from_node == from_node).ok_or(ENOENT)?;
            if slot.state == RestartState::Starting && slot.pid != 0 && !task::process_alive(slot.pid) {
                slot.finish(
                    RestartState::Failed,
                    ECHILD.to_errno().unsigned_abs(),
                    "the restarting process ended before it reported (see this node's dmesg)",
                );
            }
            if slot.state != RestartState::Starting || waited {
                let len = slot.message_len.min(MAX_RESTART_MESSAGE);
                let st =
                    RestartStatus { state: slot.state, pid: slot.pid, errno: slot.errno, message: &slot.message[..len] };
                return st.encode(out).map_err(|_| EINVAL);
            }
            waited = true;
            let _ = self.changed.wait_interruptible_timeout(&mut slots, msecs_to_jiffies(POLL_WAIT_MS));
        }
    }
}

/// A short NUL-terminated decimal argument.
type Decimal = crate::kernel_ext::StackStr<16>;

/// Handles `RestartRequest` and `RestartStatus` from other nodes.
pub(crate) struct RestartHandler {
    pub(crate) restarts: Arc<RemoteRestarts>,
}

/// Registers the handlers of remote restarts with the cluster service
/// (at its start).
pub(crate) fn register(cluster: &Arc<Cluster>, restarts: &Arc<RemoteRestarts>) -> Result {
    let restarts = restarts.clone();
    let handler: Arc<dyn Handler<Cluster>> = Arc::new(RestartHandler { restarts }, GFP_KERNEL)?;
    for kind in RESTART_MESSAGES {
        cluster.register_handler(kind, handler.clone())?;
    }
    Ok(())
}

/// The message types [`RestartHandler`] handles.
pub(crate) const RESTART_MESSAGES: [MsgType; 2] = [MsgType::RestartRequest, MsgType::RestartStatus];

impl Handler<Cluster> for RestartHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        if !msg.is_request() {
            return Err(EINVAL);
        }
        let mut buf = [0u8; 16 + MAX_RESTART_MESSAGE];
        let n = match msg.header.kind() {
            Some(MsgType::RestartRequest) => {
                let req = RestartRequest::decode(msg.body).map_err(|_| EINVAL)?;
                self.restarts.start(msg.from_node(), &req)?.encode(&mut buf).map_err(|_| EINVAL)?
            }
            Some(MsgType::RestartStatus) => {
                let q = RestartQuery::decode(msg.body).map_err(|_| EINVAL)?;
                self.restarts.status(msg.from_node(), q.token, &mut buf)?
            }
            _ => return Err(EINVAL),
        };
        let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
        out.extend_from_slice(&buf[..n], GFP_KERNEL)?;
        Ok(out)
    }
}

/// Has node `node` restart the image `image` (by its path): returns once
/// the restarted process runs there (its pid in `reply.pid`) or the
/// restart failed (the remote errno and message).
pub(crate) fn restart_on_node(cluster: &Cluster, own_node: u32, node: u16, image: &File, reply: &mut CtlReply) -> Result {
    if u32::from(node) == own_node {
        return Err(fail(reply, EINVAL, format_args!("node {node} is this node: run ssi-ctl restart without --node")));
    }
    let mut path_buf = KVec::from_elem(0u8, MAX_RESTART_PATH + 1, GFP_KERNEL)?;
    let path = image.path(&mut path_buf).map_err(|e| fail(reply, e, format_args!("cannot name the image file")))?;
    let (is_root, uid) = task::caller_identity();
    let req = RestartRequest { uid: if is_root { 0 } else { uid }, path };
    let mut body = KVec::from_elem(0u8, 8 + MAX_RESTART_PATH, GFP_KERNEL)?;
    let n = req
        .encode(&mut body)
        .map_err(|_| fail(reply, EINVAL, format_args!("the image's path is not absolute or too long")))?;
    let answer = cluster.call(node, MsgType::RestartRequest, &body[..n], 10_000).map_err(|e| {
        if e == crate::kernel_ext::enotconn() {
            fail(reply, e, format_args!("node {node} is not connected to this node"))
        } else {
            fail(reply, e, format_args!("node {node} could not start the restart"))
        }
    })?;
    let started =
        RestartStarted::decode(&answer).map_err(|_| fail(reply, EIO, format_args!("bad answer from node {node}")))?;
    reply.pid = started.pid;
    await_outcome(cluster, node, &started, reply, &|| kernel::current!().signal_pending(), false)
}

/// Polls node `node` until the restart `started` runs there (`Ok`) or
/// failed (its errno and message in `reply`); `EINTR` once `interrupted`.
/// `steady`: the polls are not interrupted by a signal (only a fatal one).
pub(crate) fn await_outcome(
    cluster: &Cluster,
    node: u16,
    started: &RestartStarted,
    reply: &mut CtlReply,
    interrupted: &dyn Fn() -> bool,
    steady: bool,
) -> Result {
    let mut q = [0u8; RestartQuery::LEN];
    RestartQuery { token: started.token }.encode(&mut q).map_err(|_| EINVAL)?;
    let deadline = task::mono_ns() + OUTCOME_TIMEOUT_NS;
    loop {
        let answer = if steady {
            cluster.call_steady(node, MsgType::RestartStatus, &q, 10_000)
        } else {
            cluster.call(node, MsgType::RestartStatus, &q, 10_000)
        };
        let answer = answer.map_err(|e| {
            fail(reply, e, format_args!("lost node {node} while it restarted the image (pid {} there)", started.pid))
        })?;
        let st =
            RestartStatus::decode(&answer).map_err(|_| fail(reply, EIO, format_args!("bad answer from node {node}")))?;
        match st.state {
            RestartState::Running => {
                reply.pid = st.pid;
                return Ok(());
            }
            RestartState::Failed => {
                let why = core::str::from_utf8(st.message).unwrap_or("?");
                let errno = i32::try_from(st.errno).ok().filter(|e| (1..4096).contains(e)).unwrap_or(5);
                return Err(fail(reply, Error::from_errno(-errno), format_args!("node {node}: {why}")));
            }
            RestartState::Starting => {}
        }
        if interrupted() {
            return Err(fail(
                reply,
                EINTR,
                format_args!("interrupted; the restart goes on on node {node} (pid {})", started.pid),
            ));
        }
        if task::mono_ns() > deadline {
            return Err(fail(reply, crate::kernel_ext::etimedout(), format_args!("node {node} took too long")));
        }
    }
}
