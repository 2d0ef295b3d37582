//! Control from anywhere (issue 20): the `MigrateAsk` bodies. A node asks
//! the node that runs a process to migrate it ([`AskRequest::Start`]), then
//! polls for the outcome ([`AskRequest::Query`]); both are answered with an
//! [`AskStatus`]. The migration runs on the running node in a thread of its
//! own, never in the handler: a `Start` is answered at once.
//!
//! ```text
//! Start  (16 bytes): kind=1 u8, strategy u8, node u16, pid u32, uid u32, euid u32
//! Query  (8 bytes):  kind=2 u8, 0 u8, 0 u16, token u32
//! Status (44 + n):   kind=3 u8, state u8, node u16, token u32, pid u32,
//!                    errno u32, image_bytes u64, frozen_ns u64, total_ns u64,
//!                    message_len u16, 0 u16, message (n bytes of UTF-8)
//! ```

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;

/// Request kind: migrate a process.
const KIND_START: u8 = 1;
/// Request kind: how is ask `token` doing.
const KIND_QUERY: u8 = 2;
/// Reply kind: a status.
const KIND_STATUS: u8 = 3;
/// The highest strategy number (`ctl::STRATEGY_LAZY`).
const MAX_STRATEGY: u8 = 3;
/// Longest message of a status (the reply message of `/dev/ssi`).
pub const MAX_ASK_MESSAGE: usize = super::super::ctl::MESSAGE_LEN;
/// Encoded length of a [`AskRequest::Start`].
pub const ASK_START_LEN: usize = 16;
/// Encoded length of a [`AskRequest::Query`].
pub const ASK_QUERY_LEN: usize = 8;
/// Encoded length of an [`AskStatus`] without its message.
pub const ASK_STATUS_HEADER: usize = 44;
/// Longest encoded [`AskStatus`].
pub const ASK_STATUS_MAX: usize = ASK_STATUS_HEADER + MAX_ASK_MESSAGE;

/// Migrate process `pid` of the receiving node to node `node`, on behalf of
/// a user (checked there: root, or the process's owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskStart {
    /// The process, by its pid on the receiving node; not 0.
    pub pid: u32,
    /// Where it should go; not 0.
    pub node: u16,
    /// `ctl::STRATEGY_*`.
    pub strategy: u8,
    /// The asker's real uid.
    pub uid: u32,
    /// The asker's effective uid (0: root).
    pub euid: u32,
}

/// A `MigrateAsk` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskRequest {
    /// Start a migration.
    Start(AskStart),
    /// The state of the ask `token` (one the receiver started for the
    /// sender); not 0.
    Query(u32),
}

impl AskRequest {
    /// Writes the request into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        match *self {
            AskRequest::Start(s) => {
                w.u8(KIND_START)?;
                w.u8(s.strategy)?;
                w.u16(s.node)?;
                w.u32(s.pid)?;
                w.u32(s.uid)?;
                w.u32(s.euid)?;
            }
            AskRequest::Query(token) => {
                w.u8(KIND_QUERY)?;
                w.u8(0)?;
                w.u16(0)?;
                w.u32(token)?;
            }
        }
        Ok(w.pos())
    }

    /// Decodes a request: a known kind, no zero pid, node or token, a
    /// known strategy, reserved bytes 0, nothing after.
    pub fn decode(body: &[u8]) -> Result<AskRequest, WireError> {
        let mut r = Reader::new(body);
        let q = match r.u8()? {
            KIND_START => {
                let strategy = r.u8()?;
                let node = r.u16()?;
                let pid = r.u32()?;
                AskRequest::Start(AskStart {
                    pid,
                    node,
                    strategy,
                    uid: r.u32()?,
                    euid: r.u32()?,
                })
            }
            KIND_QUERY => {
                if r.u8()? != 0 || r.u16()? != 0 {
                    return Err(WireError::InvalidValue);
                }
                AskRequest::Query(r.u32()?)
            }
            _ => return Err(WireError::InvalidValue),
        };
        r.finish()?;
        q.check()?;
        Ok(q)
    }

    fn check(&self) -> Result<(), WireError> {
        let ok = match *self {
            AskRequest::Start(s) => s.pid != 0 && s.node != 0 && s.strategy <= MAX_STRATEGY,
            AskRequest::Query(token) => token != 0,
        };
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }
}

/// Where an ask stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskState {
    /// The migration runs: poll again.
    Running,
    /// It succeeded: the process runs on `node` as `pid`.
    Done,
    /// It failed or was refused: `errno` and the message say why (the
    /// process goes on where it was).
    Failed,
}

impl AskState {
    fn code(self) -> u8 {
        match self {
            AskState::Running => 1,
            AskState::Done => 2,
            AskState::Failed => 3,
        }
    }

    fn of(code: u8) -> Option<AskState> {
        match code {
            1 => Some(AskState::Running),
            2 => Some(AskState::Done),
            3 => Some(AskState::Failed),
            _ => None,
        }
    }
}

/// The reply to either request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskStatus<'a> {
    /// Where it stands.
    pub state: AskState,
    /// The ask, to query (0 only for a `Start` refused at once).
    pub token: u32,
    /// Done: the node the process runs on now (else 0).
    pub node: u16,
    /// Done: its pid there (else 0).
    pub pid: u32,
    /// Failed: the positive errno, below 4096 (else 0).
    pub errno: u32,
    /// Done: image bytes sent; frozen and total time, as a local
    /// migration reports them.
    pub image_bytes: u64,
    /// Nanoseconds the process was stopped.
    pub frozen_ns: u64,
    /// Nanoseconds the migration took.
    pub total_ns: u64,
    /// Done: the strategy that ran; Failed: why; UTF-8, at most
    /// [`MAX_ASK_MESSAGE`] bytes.
    pub message: &'a str,
}

impl<'a> AskStatus<'a> {
    /// A status with every number 0.
    pub const fn new(state: AskState, token: u32, message: &'a str) -> AskStatus<'a> {
        AskStatus {
            state,
            token,
            node: 0,
            pid: 0,
            errno: 0,
            image_bytes: 0,
            frozen_ns: 0,
            total_ns: 0,
            message,
        }
    }

    fn check(&self) -> Result<(), WireError> {
        let ok = self.message.len() <= MAX_ASK_MESSAGE
            && match self.state {
                AskState::Running => {
                    self.token != 0 && self.errno == 0 && self.node == 0 && self.pid == 0
                }
                AskState::Done => {
                    self.token != 0 && self.errno == 0 && self.node != 0 && self.pid != 0
                }
                AskState::Failed => {
                    (1..4096).contains(&self.errno) && self.node == 0 && self.pid == 0
                }
            };
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }

    /// Writes the status into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u8(KIND_STATUS)?;
        w.u8(self.state.code())?;
        w.u16(self.node)?;
        w.u32(self.token)?;
        w.u32(self.pid)?;
        w.u32(self.errno)?;
        w.u64(self.image_bytes)?;
        w.u64(self.frozen_ns)?;
        w.u64(self.total_ns)?;
        w.u16(self.message.len() as u16)?;
        w.u16(0)?;
        w.bytes(self.message.as_bytes())?;
        Ok(w.pos())
    }

    /// Decodes a status: a known state whose fields agree with it, the
    /// message UTF-8 and not too long, nothing after it.
    pub fn decode(body: &'a [u8]) -> Result<AskStatus<'a>, WireError> {
        let mut r = Reader::new(body);
        if r.u8()? != KIND_STATUS {
            return Err(WireError::InvalidValue);
        }
        let state = AskState::of(r.u8()?).ok_or(WireError::InvalidValue)?;
        let node = r.u16()?;
        let token = r.u32()?;
        let pid = r.u32()?;
        let errno = r.u32()?;
        let image_bytes = r.u64()?;
        let frozen_ns = r.u64()?;
        let total_ns = r.u64()?;
        let len = usize::from(r.u16()?);
        if r.u16()? != 0 || len > MAX_ASK_MESSAGE {
            return Err(WireError::InvalidValue);
        }
        let message = core::str::from_utf8(r.bytes(len)?).map_err(|_| WireError::InvalidValue)?;
        r.finish()?;
        let s = AskStatus {
            state,
            token,
            node,
            pid,
            errno,
            image_bytes,
            frozen_ns,
            total_ns,
            message,
        };
        s.check()?;
        Ok(s)
    }
}
