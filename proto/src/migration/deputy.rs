//! A migrated process and its deputy on its home node: how it ended
//! ([`WaitStatus`], the `MigrateExit` body [`Exit`]), signals for it
//! ([`Signal`]), its file I/O through the deputy ([`Io`], [`IoDone`]), its
//! moving on ([`Moved`]), and where the deputy finds a `syscall`
//! instruction ([`find_syscall`]).

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::transfer::nonzero;

/// How a process ended, in the encoding of `wait()`'s status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    /// `exit(code)`.
    Exited(u8),
    /// Killed by signal `sig` (1..=64), `core` if it dumped core.
    Signaled {
        /// The signal.
        sig: u8,
        /// Whether a core was dumped.
        core: bool,
    },
}

impl WaitStatus {
    /// The status of an ended process; None for anything else (stopped,
    /// continued, bits out of range).
    pub fn from_raw(raw: u32) -> Option<WaitStatus> {
        if raw & !0xffff != 0 {
            return None;
        }
        let low = (raw & 0x7f) as u8;
        if low == 0 {
            return Some(WaitStatus::Exited((raw >> 8) as u8));
        }
        if low == 0x7f || raw >> 8 != 0 || low > 64 {
            return None;
        }
        Some(WaitStatus::Signaled {
            sig: low,
            core: raw & 0x80 != 0,
        })
    }

    /// The raw status.
    pub fn raw(self) -> u32 {
        match self {
            WaitStatus::Exited(code) => u32::from(code) << 8,
            WaitStatus::Signaled { sig, core } => u32::from(sig) | if core { 0x80 } else { 0 },
        }
    }
}

/// The offset of the first `syscall` instruction (0f 05) in `text`, where
/// a deputy whose process exited returns to user mode to call
/// `exit_group` (the vDSO's system call fallbacks have one).
pub fn find_syscall(text: &[u8]) -> Option<usize> {
    text.windows(2).position(|w| w == [0x0f, 0x05])
}

/// Most bytes one `MigrateIo` read or write moves.
pub const MAX_IO: usize = 64 << 10;

/// `MigrateExit`: the migrated process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The deputy (home id).
    pub home_id: u64,
    /// How it ended, as `wait()` reports it ([`WaitStatus`]).
    pub status: u32,
}

impl Exit {
    /// Encoded length.
    pub const LEN: usize = 12;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        WaitStatus::from_raw(self.status).ok_or(WireError::InvalidValue)?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u32(self.status)?;
        Ok(w.pos())
    }

    /// Decodes a body; the status must be one of an ended process.
    pub fn decode(body: &[u8]) -> Result<Exit, WireError> {
        let mut r = Reader::new(body);
        let e = Exit {
            home_id: nonzero(r.u64()?)?,
            status: r.u32()?,
        };
        r.finish()?;
        WaitStatus::from_raw(e.status).ok_or(WireError::InvalidValue)?;
        Ok(e)
    }
}

/// `MigrateSignal`: a signal sent to the deputy, for the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// The deputy (home id).
    pub home_id: u64,
    /// 1..=64.
    pub signo: u32,
}

impl Signal {
    /// Encoded length.
    pub const LEN: usize = 12;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !(1..=64).contains(&self.signo) {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u32(self.signo)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Signal, WireError> {
        let mut r = Reader::new(body);
        let s = Signal {
            home_id: nonzero(r.u64()?)?,
            signo: r.u32()?,
        };
        r.finish()?;
        if !(1..=64).contains(&s.signo) {
            return Err(WireError::InvalidValue);
        }
        Ok(s)
    }
}

/// What a [`Io`] asks the deputy to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoOp {
    /// Read up to `len` bytes.
    Read,
    /// Write the data.
    Write,
}

/// `MigrateIo`: a read or write on a descriptor the deputy keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Io<'a> {
    /// The deputy (home id).
    pub home_id: u64,
    /// Matches the answer ([`IoDone`]) to the question; never 0.
    pub seq: u64,
    /// The descriptor in the deputy's table.
    pub fd: u32,
    /// Read or write.
    pub op: IoOp,
    /// Read: how many bytes at most (1..=[`MAX_IO`]).
    pub len: u32,
    /// Write: the bytes (at most [`MAX_IO`]); read: empty.
    pub data: &'a [u8],
}

impl<'a> Io<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 4 + 1 + 4 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = match self.op {
            IoOp::Read => self.data.is_empty() && self.len >= 1 && self.len as usize <= MAX_IO,
            IoOp::Write => self.data.len() <= MAX_IO && self.len as usize == self.data.len(),
        };
        if !ok || self.seq == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u64(self.seq)?;
        w.u32(self.fd)?;
        w.u8(match self.op {
            IoOp::Read => 1,
            IoOp::Write => 2,
        })?;
        w.u32(self.len)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<Io<'a>, WireError> {
        let mut r = Reader::new(body);
        let home_id = nonzero(r.u64()?)?;
        let seq = r.u64()?;
        let fd = r.u32()?;
        let op = match r.u8()? {
            1 => IoOp::Read,
            2 => IoOp::Write,
            _ => return Err(WireError::InvalidValue),
        };
        let len = r.u32()?;
        let n = r.u32()? as usize;
        if n > MAX_IO {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(n)?;
        r.finish()?;
        let io = Io {
            home_id,
            seq,
            fd,
            op,
            len,
            data,
        };
        io.check()?;
        Ok(io)
    }
}

/// `MigrateIoDone`: what the deputy's read or write gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoDone<'a> {
    /// The deputy (home id).
    pub home_id: u64,
    /// The question's `seq`.
    pub seq: u64,
    /// Bytes moved (>= 0) or a negative errno.
    pub result: i64,
    /// Read: the bytes read (`result` of them); write: empty.
    pub data: &'a [u8],
}

impl<'a> IoDone<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 8 + 4;

    fn check(&self) -> Result<(), WireError> {
        let ok = self.seq != 0
            && self.data.len() <= MAX_IO
            && (self.data.is_empty() || self.result == self.data.len() as i64)
            && self.result >= -4095
            && self.result <= MAX_IO as i64;
        if ok {
            Ok(())
        } else {
            Err(WireError::InvalidValue)
        }
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u64(self.seq)?;
        w.i64(self.result)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<IoDone<'a>, WireError> {
        let mut r = Reader::new(body);
        let home_id = nonzero(r.u64()?)?;
        let seq = r.u64()?;
        let result = r.i64()?;
        let n = r.u32()? as usize;
        if n > MAX_IO {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(n)?;
        r.finish()?;
        let d = IoDone {
            home_id,
            seq,
            result,
            data,
        };
        d.check()?;
        Ok(d)
    }
}

/// `MigrateMoved`: the process now runs on another node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// The deputy (home id).
    pub home_id: u64,
    /// The node it runs on now.
    pub node: u16,
    /// Its pid there.
    pub pid: u32,
}

impl Moved {
    /// Encoded length.
    pub const LEN: usize = 14;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.u64(nonzero(self.home_id)?)?;
        w.u16(self.node)?;
        w.u32(self.pid)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Moved, WireError> {
        let mut r = Reader::new(body);
        let m = Moved {
            home_id: nonzero(r.u64()?)?,
            node: r.u16()?,
            pid: r.u32()?,
        };
        r.finish()?;
        if m.node == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(m)
    }
}
