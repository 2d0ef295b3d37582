// SPDX-License-Identifier: GPL-2.0
//! Replicated processes: the messages (`HaDigest`, `HaVerdict`,
//! `HaReplica`) and the starts of copies, between the home node's
//! [`ReplicaSet`](super::replicas::ReplicaSet)s and the copies of
//! `copies.rs`.

use super::{
    chain, copies, images,
    replicas::{Outbox, ReplicaSet, Start},
    Entry, HaService,
};
use crate::{
    checkpoint::{capture::ImageSink, remote::await_outcome},
    cluster::Cluster,
    ctl_reply::fail,
    migration::{resume, sys::kill_pid},
    proto::{
        ctl::CtlReply,
        ha::replica::{Action, Digest, ReplicaAsk, Verdict, MAX_REPLICA_PATH},
        wire::{MsgType, RestartStarted},
    },
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

const CALL_TIMEOUT_MS: u32 = 10_000;
const SIGKILL: u32 = 9;

impl HaService {
    /// Makes entry `e` replicated with `n` copies: its process must run on
    /// another node (its writes to fds 0-2 then go through stand-ins,
    /// where its points are); that node follows its writes from now on.
    pub(crate) fn replicate(&self, cluster: Option<&Cluster>, mut e: Entry, n: u8, reply: &mut CtlReply) -> Result<Entry> {
        let pid = e.prot.pid;
        let cluster = cluster.ok_or_else(|| fail(reply, crate::kernel_ext::enotconn(), format_args!("not in a cluster")))?;
        let Some(d) = self.migrations.deputy_of_pid(pid) else {
            return Err(fail(
                reply,
                EINVAL,
                format_args!("replicas need process {pid} to run on another node than its home: migrate it first"),
            ));
        };
        let (node, there) = d.location();
        let peers = cluster.connections().map_or(0, |c| c.iter().filter(|c| cluster.is_connected(c.peer.node_id)).count());
        // N copies on distinct nodes (the home may hold a replica), and a
        // node other than the home and its own for a primary replaced.
        if peers + 1 < usize::from(n) || peers < 2 {
            return Err(fail(
                reply,
                EAGAIN,
                format_args!("{n} copies need {} nodes; {} are connected", usize::from(n).max(3), peers + 1),
            ));
        }
        // It stops at points from its first checkpoint on.
        let ask = ReplicaAsk {
            copy: 0,
            generation: 1,
            home_id: d.home_id,
            point: 0,
            emitted: 0,
            home_pid: pid,
            armed: false,
            path: &[],
        };
        let mut b = [0u8; ReplicaAsk::HEADER_LEN];
        let len = ask.encode(&mut b).map_err(|_| EINVAL)?;
        cluster
            .call_steady(node, MsgType::HaReplica, &b[..len], CALL_TIMEOUT_MS)
            .map_err(|err| fail(reply, err, format_args!("node {node} cannot follow process {pid}'s writes")))?;
        e.prot.full_every = 1;
        e.home_id = d.home_id;
        e.node = node;
        e.replicas = Some(KBox::new(ReplicaSet::new(n, node, there), GFP_KERNEL)?);
        Ok(e)
    }

    /// The replicated entry `e` is no longer protected (`disarm`: `ha
    /// off`, its primary goes on unchecked) or its process ended: its
    /// replicas are stopped, its images removed with the others'.
    pub(crate) fn end_replicas(&self, cluster: &Cluster, mut e: Entry, disarm: bool) {
        let Some(set) = e.replicas.as_mut() else { return };
        let mut out = Outbox::default();
        let _ = set.end(e.home_id, &mut out);
        if disarm {
            let v = Verdict {
                copy: 0,
                generation: set.generation,
                home_id: e.home_id,
                point: copies::ANY_POINT,
                action: Action::Go { emit: true },
            };
            let _ = out.verdicts.push((set.slots[0].node, v), GFP_KERNEL);
        }
        self.send_outbox(cluster, e.prot.pid, out);
    }

    /// Sends `out`'s verdicts and removes its images (of process `pid`).
    pub(crate) fn send_outbox(&self, cluster: &Cluster, pid: u32, out: Outbox) {
        let own = self.own_node();
        for (node, v) in out.verdicts.iter() {
            if *node == own {
                let _ = self.copies.on_verdict(own, v);
                continue;
            }
            let mut b = [0u8; Verdict::LEN];
            if let Ok(n) = v.encode(&mut b) {
                let _ = cluster.send_reliable(*node, MsgType::HaVerdict, &b[..n]);
            }
        }
        let dir = self.dir();
        for &seq in out.remove.iter() {
            images::remove(dir.as_str(), pid, seq);
        }
    }

    /// `HaDigest` from `from` (this node for a copy that runs here).
    pub(crate) fn on_digest(&self, cluster: &Cluster, from: u16, body: &[u8]) -> Result {
        let d = Digest::decode(body).map_err(|e| self.malformed(from, "HaDigest", e))?;
        let mut out = Outbox::default();
        let mut why = None;
        let pid = {
            let mut st = self.state.lock();
            let e = st.entries.iter_mut().find(|e| e.home_id == d.head.home_id && e.replicas.is_some()).ok_or(ESRCH)?;
            let pid = e.prot.pid;
            e.replicas.as_mut().ok_or(ESRCH)?.digest(&d, body, from, &mut out, &mut why)?;
            pid
        };
        if let Some(w) = why {
            self.stats.corruptions.fetch_add(1, Ordering::Relaxed);
            w.log(pid);
        }
        self.send_outbox(cluster, pid, out);
        Ok(())
    }

    /// `HaReplica` from `from`: follows the primary's writes, or restarts
    /// a replica here.
    pub(crate) fn on_replica(&self, from: u16, body: &[u8]) -> Result<KVec<u8>> {
        let ask = ReplicaAsk::decode(body).map_err(|e| self.malformed(from, "HaReplica", e))?;
        if ask.copy == 0 {
            // A primary restarted here is registered before it comes.
            let h = self.migrations.find_hosted(|h| h.home_id == ask.home_id && h.home_node == from);
            self.copies.register(from, &ask, 0, h.map_or(0, |h| h.pid()))?;
            return Ok(KVec::new());
        }
        let started = self.start_replica(from, &ask)?;
        let mut b = [0u8; 16];
        let n = started.encode(&mut b).map_err(|_| EINVAL)?;
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        v.extend_from_slice(&b[..n], GFP_KERNEL)?;
        Ok(v)
    }

    /// Restarts replica `ask.copy` here for `from`, from the image
    /// `ask.path` (`ssi-ctl restart`, as a remote restart is; its restore
    /// gives it the stand-ins of `replica_io.rs`).
    pub(crate) fn start_replica(&self, from: u16, ask: &ReplicaAsk<'_>) -> Result<RestartStarted> {
        let mut path = KVec::with_capacity(ask.path.len() + 1, GFP_KERNEL)?;
        path.extend_from_slice(ask.path, GFP_KERNEL)?;
        path.push(0, GFP_KERNEL)?;
        let mut registered = Err(EINVAL);
        let started = self.migrations.restarts.start_program(from, &[b"--as-uid\0", b"0\0", &path], |token| {
            registered = self.copies.register(from, ask, token, 0).map(|_| ());
        })?;
        if let Err(e) = registered {
            // Not a replica without its stand-ins.
            let _ = kill_pid(started.pid, SIGKILL);
            return Err(e);
        }
        pr_info!(
            "ha: copy {} of node {}'s process {} restarting here as pid {} from {} at point {}\n",
            ask.copy,
            from,
            ask.home_pid,
            started.pid,
            core::str::from_utf8(ask.path).unwrap_or("?"),
            ask.point
        );
        Ok(started)
    }

    /// Starts copy `s.copy` of process `pid` (the `ssi-ha` thread): on
    /// `node`, from image `s.seq`; where it runs, or why not.
    pub(crate) fn start_copy(&self, cluster: &Cluster, pid: u32, home_id: u64, s: &Start, node: u16) -> Result<u32> {
        let dir = self.dir();
        let mut path_buf = [0u8; MAX_REPLICA_PATH + 1];
        let image = images::image_path(dir.as_str(), pid, s.seq)?;
        let path = image.get(..image.len().min(MAX_REPLICA_PATH)).unwrap_or(&[]);
        path_buf[..path.len()].copy_from_slice(path);
        let ask = ReplicaAsk {
            copy: s.copy,
            generation: s.generation,
            home_id,
            point: s.point,
            emitted: s.emitted,
            home_pid: pid,
            armed: true,
            path: if s.copy == 0 { &[] } else { &path_buf[..path.len()] },
        };
        let mut body = [0u8; ReplicaAsk::HEADER_LEN + MAX_REPLICA_PATH];
        let len = ask.encode(&mut body).map_err(|_| EINVAL)?;
        let own = self.own_node();
        let mut reply = CtlReply::EMPTY;
        if s.copy != 0 {
            if node == own {
                return self.start_replica(own, &ask).map(|st| st.pid);
            }
            let answer = cluster.call_steady(node, MsgType::HaReplica, &body[..len], CALL_TIMEOUT_MS)?;
            let started = RestartStarted::decode(&answer).map_err(|_| EIO)?;
            await_outcome(cluster, node, &started, &mut reply, &|| false, true).inspect_err(|_| {
                pr_warn!("ha: copy {} of process {} did not start on node {}: {}\n", s.copy, pid, node, reply.message());
            })?;
            return Ok(started.pid);
        }
        // The primary: through its deputy, whose node is then `node`.
        let d = self.migrations.deputy_of_pid(pid).ok_or(ESRCH)?;
        cluster.call_steady(node, MsgType::HaReplica, &body[..len], CALL_TIMEOUT_MS)?;
        let seqs = [s.seq];
        let mut image =
            |sink: &mut dyn ImageSink, reply: &mut CtlReply| chain::stream(dir.as_str(), pid, &seqs, sink, reply);
        let there = resume::resume(cluster, &self.migrations, &d, &mut image, node, &mut reply).inspect_err(|_| {
            pr_warn!("ha: the primary of process {} did not restart on node {}: {}\n", pid, node, reply.message());
        })?;
        if let Some((old, generation, point)) = s.old {
            // The copy it replaces waits at its point: it stops now that
            // the deputy no longer believes its node.
            let v = Verdict { copy: 0, generation, home_id, point, action: Action::Stop };
            let mut out = Outbox::default();
            if out.verdicts.push((old, v), GFP_KERNEL).is_ok() {
                self.send_outbox(cluster, pid, out);
            }
        }
        Ok(there)
    }
}

impl copies::Home for HaService {
    fn take_digest(&self, cluster: &Cluster, body: &[u8]) -> Result {
        self.on_digest(cluster, self.own_node(), body)
    }
}
