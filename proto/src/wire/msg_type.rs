//! [`MsgType`], the message types this version knows, their wire values
//! and names.

use super::error::WireError;

/// Message types. The header keeps the raw byte
/// ([`FrameHeader::msg_type`](super::FrameHeader::msg_type)) so that unknown types
/// decode and can be refused at dispatch; values not listed here are free for later
/// versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// First frame of each side of a connection; body [`Hello`](super::Hello).
    Hello = 1,
    /// Handshake proof; body [`HelloAuth`](super::HelloAuth).
    HelloAuth = 2,
    /// Periodic liveness and load report; body [`Heartbeat`](super::Heartbeat).
    Heartbeat = 3,
    /// A node asks to join; body [`Heartbeat`](super::Heartbeat) describing the
    /// joiner.
    JoinRequest = 4,
    /// Answer to JoinRequest; body [`JoinReply`](super::JoinReply).
    JoinReply = 5,
    /// A node leaves the cluster; body [`Leave`](super::Leave).
    Leave = 6,
    /// A node was found dead; body [`NodeDead`](super::NodeDead).
    NodeDead = 7,
    /// Request/reply test and benchmark; the reply echoes the body.
    Echo = 8,
    /// One-way throughput test; the body is discarded.
    Stream = 9,
    /// Start a restart from an image on the shared file system; body
    /// [`RestartRequest`](super::RestartRequest), reply
    /// [`RestartStarted`](super::RestartStarted).
    RestartRequest = 10,
    /// How a remote restart is going; body [`RestartQuery`](super::RestartQuery),
    /// reply [`RestartStatus`](super::RestartStatus).
    RestartStatus = 11,
    /// A migration starts: the destination prepares to receive the image; body
    /// [`migration::Begin`](super::super::migration::Begin), empty reply.
    MigrateBegin = 12,
    /// A piece of a migrating process's image (one-way); body
    /// [`migration::Data`](super::super::migration::Data).
    MigrateData = 13,
    /// The whole image was sent: restore it; body
    /// [`migration::Commit`](super::super::migration::Commit), reply
    /// [`RestartStarted`](super::RestartStarted) (the outcome is polled with
    /// `RestartStatus`).
    MigrateCommit = 14,
    /// The source hands the process over: run it; body
    /// [`migration::Ref`](super::super::migration::Ref), empty reply.
    MigrateGo = 15,
    /// The source gave up a migration (one-way); body
    /// [`migration::Ref`](super::super::migration::Ref).
    MigrateAbort = 16,
    /// A migrated process ended (one-way, to its home node); body
    /// [`migration::Exit`](super::super::migration::Exit).
    MigrateExit = 17,
    /// A signal for a migrated process (one-way, from its home node); body
    /// [`migration::Signal`](super::super::migration::Signal).
    MigrateSignal = 18,
    /// A migrated process reads or writes a file its deputy keeps (one-way, to its
    /// home node); body [`migration::Io`](super::super::migration::Io).
    MigrateIo = 19,
    /// The deputy's answer to [`MsgType::MigrateIo`] (one-way); body
    /// [`migration::IoDone`](super::super::migration::IoDone).
    MigrateIoDone = 20,
    /// A migrated process moved on to another node (one-way, to its home node);
    /// body [`migration::Moved`](super::super::migration::Moved).
    MigrateMoved = 21,
    /// Pre-copy: pages of the running process (one-way); body
    /// [`migration::Data`](super::super::migration::Data) with the pages' address
    /// as `offset`.
    MigratePages = 22,
    /// Pre-copy: the pages the destination keeps from the pre-copy rounds (one-way,
    /// before `MigrateCommit`); body
    /// [`migration::Keep`](super::super::migration::Keep).
    MigrateKeep = 23,
    /// Post-copy and lazy: pages of a process that resumed at the destination,
    /// asked of the node holding its memory (one-way); body
    /// [`migration::PageRequest`](super::super::migration::PageRequest).
    MigratePageRequest = 24,
    /// The answer to [`MsgType::MigratePageRequest`] (one-way); body
    /// [`migration::PageData`](super::super::migration::PageData).
    MigratePageData = 25,
    /// Post-copy and lazy: the destination needs no more pages (all came, or the
    /// process ended or moved on): the source frees the memory it kept (one-way);
    /// body [`migration::Ref`](super::super::migration::Ref).
    MigrateRelease = 26,
    /// The node running a migrated process renews its lease with the process's
    /// deputy (request, to the home node); body
    /// [`migration::Lease`](super::super::migration::Lease), reply a `Lease` of the
    /// home ids it has no deputy for.
    MigrateLease = 27,
    /// The process space: the user processes a node runs, a batch at a time
    /// in pid order (request); body
    /// [`procs::ProcListRequest`](super::super::procs::ProcListRequest), reply
    /// [`procs::ProcListReply`](super::super::procs::ProcListReply).
    ProcList = 28,
    /// Control from anywhere: migrate a process the receiving node runs, on
    /// behalf of a user of the sending node (`Start`), or how that goes
    /// (`Query`); body [`migration::AskRequest`](super::super::migration::AskRequest),
    /// reply [`migration::AskStatus`](super::super::migration::AskStatus).
    MigrateAsk = 29,
    /// Signals anywhere: deliver a `kill` of a pid or process group of the
    /// receiving node's slot there, with the sender's identity (request, to
    /// the pid's home node); body
    /// [`signal::SignalRequest`](super::super::signal::SignalRequest), reply
    /// [`signal::SignalReply`](super::super::signal::SignalReply).
    ProcSignal = 30,
    /// Merged resources: what a node's `/proc/meminfo`, `stat`, `loadavg`
    /// and `cpuinfo` say (request); body a
    /// [`node_stats`](super::super::node_stats) request (its version),
    /// reply a [`node_stats::NodeStats`](super::super::node_stats::NodeStats)
    /// record.
    NodeStats = 31,
    /// The scheduler: a node's load, broadcast every time its report filter
    /// lets one out (one-way); body a
    /// [`sched::LoadReport`](super::super::sched::LoadReport).
    SchedLoad = 32,
    /// The scheduler: the cluster-wide configuration, sent to every node
    /// after a change and to a node that joins (one-way); body a
    /// [`sched::Config`](super::super::sched::Config).
    SchedConfig = 33,
    /// The scheduler: a change of the configuration, sent to the
    /// coordinator (request); body a command's text
    /// ([`sched::encode_request`](super::super::sched::encode_request)),
    /// reply a [`sched::ChangeReply`](super::super::sched::ChangeReply).
    SchedChange = 34,
    /// The scheduler: a move offered to its destination before it starts
    /// (request); body a [`sched::Offer`](super::super::sched::Offer),
    /// reply a [`sched::OfferReply`](super::super::sched::OfferReply).
    SchedOffer = 35,
    /// High availability: the home node of a protected process asks the
    /// node running it for a checkpoint (request); body a
    /// [`ha::CheckpointAsk`](super::super::ha::CheckpointAsk), empty reply
    /// once the capture is queued.
    HaCheckpoint = 36,
    /// High availability: how a checkpoint asked for ended (one-way,
    /// reliable); body a [`ha::CheckpointDone`](super::super::ha::CheckpointDone).
    HaDone = 37,
    /// Replicas: a copy's digest at a point (request); body a
    /// [`ha::replica::Digest`](super::super::ha::replica::Digest), empty
    /// reply once the home node has it (the verdict comes as `HaVerdict`).
    HaDigest = 38,
    /// Replicas: the home node's verdict at a point (one-way, reliable);
    /// body a [`ha::replica::Verdict`](super::super::ha::replica::Verdict).
    HaVerdict = 39,
    /// Replicas: run a copy (request); body a
    /// [`ha::replica::ReplicaAsk`](super::super::ha::replica::ReplicaAsk),
    /// reply a [`RestartStarted`](super::RestartStarted) for a restarted
    /// copy, empty for the primary.
    HaReplica = 40,
}

/// Every message type this version knows, with its name.
const NAMES: [(MsgType, &str); 40] = [
    (MsgType::Hello, "Hello"),
    (MsgType::HelloAuth, "HelloAuth"),
    (MsgType::Heartbeat, "Heartbeat"),
    (MsgType::JoinRequest, "JoinRequest"),
    (MsgType::JoinReply, "JoinReply"),
    (MsgType::Leave, "Leave"),
    (MsgType::NodeDead, "NodeDead"),
    (MsgType::Echo, "Echo"),
    (MsgType::Stream, "Stream"),
    (MsgType::RestartRequest, "RestartRequest"),
    (MsgType::RestartStatus, "RestartStatus"),
    (MsgType::MigrateBegin, "MigrateBegin"),
    (MsgType::MigrateData, "MigrateData"),
    (MsgType::MigrateCommit, "MigrateCommit"),
    (MsgType::MigrateGo, "MigrateGo"),
    (MsgType::MigrateAbort, "MigrateAbort"),
    (MsgType::MigrateExit, "MigrateExit"),
    (MsgType::MigrateSignal, "MigrateSignal"),
    (MsgType::MigrateIo, "MigrateIo"),
    (MsgType::MigrateIoDone, "MigrateIoDone"),
    (MsgType::MigrateMoved, "MigrateMoved"),
    (MsgType::MigratePages, "MigratePages"),
    (MsgType::MigrateKeep, "MigrateKeep"),
    (MsgType::MigratePageRequest, "MigratePageRequest"),
    (MsgType::MigratePageData, "MigratePageData"),
    (MsgType::MigrateRelease, "MigrateRelease"),
    (MsgType::MigrateLease, "MigrateLease"),
    (MsgType::ProcList, "ProcList"),
    (MsgType::MigrateAsk, "MigrateAsk"),
    (MsgType::ProcSignal, "ProcSignal"),
    (MsgType::NodeStats, "NodeStats"),
    (MsgType::SchedLoad, "SchedLoad"),
    (MsgType::SchedConfig, "SchedConfig"),
    (MsgType::SchedChange, "SchedChange"),
    (MsgType::SchedOffer, "SchedOffer"),
    (MsgType::HaCheckpoint, "HaCheckpoint"),
    (MsgType::HaDone, "HaDone"),
    (MsgType::HaDigest, "HaDigest"),
    (MsgType::HaVerdict, "HaVerdict"),
    (MsgType::HaReplica, "HaReplica"),
];

impl MsgType {
    /// The type with wire value `v`, if this version knows it.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        Some(match v {
            1 => MsgType::Hello,
            2 => MsgType::HelloAuth,
            3 => MsgType::Heartbeat,
            4 => MsgType::JoinRequest,
            5 => MsgType::JoinReply,
            6 => MsgType::Leave,
            7 => MsgType::NodeDead,
            8 => MsgType::Echo,
            9 => MsgType::Stream,
            10 => MsgType::RestartRequest,
            11 => MsgType::RestartStatus,
            12 => MsgType::MigrateBegin,
            13 => MsgType::MigrateData,
            14 => MsgType::MigrateCommit,
            15 => MsgType::MigrateGo,
            16 => MsgType::MigrateAbort,
            17 => MsgType::MigrateExit,
            18 => MsgType::MigrateSignal,
            19 => MsgType::MigrateIo,
            20 => MsgType::MigrateIoDone,
            21 => MsgType::MigrateMoved,
            22 => MsgType::MigratePages,
            23 => MsgType::MigrateKeep,
            24 => MsgType::MigratePageRequest,
            25 => MsgType::MigratePageData,
            26 => MsgType::MigrateRelease,
            27 => MsgType::MigrateLease,
            28 => MsgType::ProcList,
            29 => MsgType::MigrateAsk,
            30 => MsgType::ProcSignal,
            31 => MsgType::NodeStats,
            32 => MsgType::SchedLoad,
            33 => MsgType::SchedConfig,
            34 => MsgType::SchedChange,
            35 => MsgType::SchedOffer,
            36 => MsgType::HaCheckpoint,
            37 => MsgType::HaDone,
            38 => MsgType::HaDigest,
            39 => MsgType::HaVerdict,
            40 => MsgType::HaReplica,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The type's name (`MigrateExit`).
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("?", |(_, n)| n)
    }

    /// The type named `name` (ASCII case ignored).
    pub fn from_name(name: &[u8]) -> Option<MsgType> {
        NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(k, _)| *k)
    }

    /// Whether frames of this type belong to the handshake (sent before a
    /// session key exists, `src_node` may be 0).
    pub fn is_handshake(self) -> bool {
        matches!(self, MsgType::Hello | MsgType::HelloAuth)
    }
}

impl TryFrom<u8> for MsgType {
    type Error = WireError;

    fn try_from(v: u8) -> Result<MsgType, WireError> {
        MsgType::from_u8(v).ok_or(WireError::UnknownType)
    }
}

impl From<MsgType> for u8 {
    fn from(t: MsgType) -> u8 {
        t as u8
    }
}
