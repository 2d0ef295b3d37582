// SPDX-License-Identifier: GPL-2.0
//! The krpc benchmark behind `/sys/kernel/config/ssi/bench`: request/reply
//! round trips (`echo`) and one-way throughput (`stream`) to one node,
//! timed in the kernel. `make bench-krpc` compares it with sockperf and
//! iperf3 between the same nodes.

use crate::krpc::handlers::{Handler, Incoming};
use crate::{
    cluster::Cluster,
    proto::{
        bench::{BenchKind, BenchSpec},
        wire::MsgType,
    },
};
use core::fmt;
use kernel::{prelude::*, sync::Arc};

/// How long one echo may take before the run stops.
const CALL_TIMEOUT_MS: u32 = 5000;

/// The outcome of one run.
#[derive(Clone, Copy)]
pub(crate) struct BenchResult {
    spec: BenchSpec,
    completed: u32,
    elapsed_ns: u64,
    /// 0, or the errno that stopped the run.
    error: i32,
}

/// Runs `spec` against `cluster`; blocks the caller until done.
pub(crate) fn run(cluster: &Cluster, spec: BenchSpec) -> Result<BenchResult> {
    let node = spec.node as u16;
    let body = KVec::from_elem(0xa5u8, spec.size as usize, GFP_KERNEL)?;
    let mut result = BenchResult { spec, completed: 0, elapsed_ns: 0, error: 0 };
    let start = crate::kernel_ext::mono_ns();
    for _ in 0..spec.count {
        let r = match spec.kind {
            BenchKind::Echo => cluster.call(node, MsgType::Echo, &body, CALL_TIMEOUT_MS).and_then(|reply| {
                if reply.len() == body.len() {
                    Ok(())
                } else {
                    Err(EIO) // a reply of the wrong size
                }
            }),
            BenchKind::Stream => cluster.send_to(node, MsgType::Stream, &body),
        };
        if let Err(e) = r {
            result.error = e.to_errno();
            break;
        }
        result.completed += 1;
    }
    // Streamed frames travel in order on one connection: a round trip
    // after them returns when the peer has received them all.
    if spec.kind == BenchKind::Stream && result.error == 0 {
        if let Err(e) = cluster.call(node, MsgType::Echo, &[], CALL_TIMEOUT_MS * 4) {
            result.error = e.to_errno();
        }
    }
    result.elapsed_ns = crate::kernel_ext::mono_ns().saturating_sub(start).max(1);
    Ok(result)
}

/// Registers the benchmark's handlers (`Echo`, `Stream`) with the cluster
/// service, at its start.
pub(crate) fn register(cluster: &Arc<Cluster>) -> Result {
    cluster.register_handler(MsgType::Echo, Arc::new(EchoHandler, GFP_KERNEL)?)?;
    cluster.register_handler(MsgType::Stream, Arc::new(StreamHandler, GFP_KERNEL)?)
}

/// Answers an Echo request with its own body (benchmark round trips and
/// the RTT probes of every connection).
pub(crate) struct EchoHandler;

impl Handler<Cluster> for EchoHandler {
    fn handle(&self, _cluster: &Cluster, msg: &Incoming<'_>) -> Result<KVec<u8>> {
        let mut reply = KVec::with_capacity(msg.body.len(), GFP_KERNEL)?;
        reply.extend_from_slice(msg.body, GFP_KERNEL)?;
        Ok(reply)
    }
}

/// Takes throughput test traffic: counted on arrival, nothing to do.
pub(crate) struct StreamHandler;

impl Handler<Cluster> for StreamHandler {
    fn handle(&self, _cluster: &Cluster, _msg: &Incoming<'_>) -> Result<KVec<u8>> {
        Ok(KVec::new())
    }
}

impl BenchResult {
    /// The error that stopped the run, if one did.
    pub(crate) fn error(&self) -> Option<Error> {
        (self.error != 0).then(|| Error::from_errno(self.error))
    }
}

impl fmt::Display for BenchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        let kind = match s.kind {
            BenchKind::Echo => "echo",
            BenchKind::Stream => "stream",
        };
        let bytes = u64::from(s.size) * u64::from(self.completed);
        let us = (self.elapsed_ns / 1000).max(1);
        // bytes per microsecond = MB/s; kept in hundredths, integers only.
        let mbps_x100 = bytes.saturating_mul(100) / us;
        let avg_ns = self.elapsed_ns / u64::from(self.completed.max(1));
        write!(
            f,
            "kind: {kind}\nnode: {}\nsize: {}\ncount: {}\ncompleted: {}\nelapsed_ns: {}\navg_ns: {}\n\
             mb_per_s: {}.{:02}\nerror: {}\n",
            s.node,
            s.size,
            s.count,
            self.completed,
            self.elapsed_ns,
            avg_ns,
            mbps_x100 / 100,
            mbps_x100 % 100,
            self.error
        )
    }
}
