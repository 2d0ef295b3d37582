//! Moving the image: the `MigrateBegin`, `MigrateData` (and
//! `MigratePages`), `MigrateCommit` bodies and [`Ref`], the body of the
//! messages that only name a migration; the data limits; and the rule
//! every body shares, that a migration or home id is never 0. The lowest
//! of the migration files: it uses none of the others.

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;

/// Most data bytes in one `MigrateData` or `MigratePages` frame: 256 KiB
/// less [`MAX_DATA_HEADER`], so that
/// the whole body, header and data, fits a 256 KiB allocation where it is
/// received (a body one byte over 256 KiB takes 512 KiB of contiguous
/// memory).
pub const MAX_DATA: usize = (256 << 10) - MAX_DATA_HEADER;
/// Room for the header in front of the data of those frames.
pub const MAX_DATA_HEADER: usize = 64;
const _: () = assert!(Data::HEADER_LEN <= MAX_DATA_HEADER);

pub(super) fn nonzero(id: u64) -> Result<u64, WireError> {
    if id == 0 {
        Err(WireError::InvalidValue)
    } else {
        Ok(id)
    }
}

/// A process's parent pid, process group and session on its home node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Family {
    /// The parent's pid (0: none that is a user process).
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
    /// The session.
    pub session: u32,
}

/// `MigrateBegin`: the destination prepares to receive an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// This move's id.
    pub id: u64,
    /// The id of the process's deputy on its home node (the same on every
    /// hop; equal to `id` on the first).
    pub home_id: u64,
    /// The process's home node.
    pub home_node: u16,
    /// Its pid there (the deputy's).
    pub home_pid: u32,
    /// Its parent's pid, process group and session there (the deputy's:
    /// what every node lists for it).
    pub home_family: Family,
    /// When it started, ns since the epoch (its home node's clock; 0:
    /// unknown), so that it keeps its start time where it runs.
    pub start_ns: u64,
    /// The user asking (root or the process's owner).
    pub uid: u32,
    /// `ctl::STRATEGY_*`.
    pub strategy: u8,
    /// Bytes of the image that follows.
    pub size: u64,
}

impl Begin {
    /// Encoded length.
    pub const LEN: usize = 8 + 8 + 2 + 4 + 3 * 4 + 8 + 4 + 1 + 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        nonzero(self.home_id)?;
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.home_id)?;
        w.u16(self.home_node)?;
        w.u32(self.home_pid)?;
        w.u32(self.home_family.ppid)?;
        w.u32(self.home_family.pgrp)?;
        w.u32(self.home_family.session)?;
        w.u64(self.start_ns)?;
        w.u32(self.uid)?;
        w.u8(self.strategy)?;
        w.u64(self.size)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Begin, WireError> {
        let mut r = Reader::new(body);
        let b = Begin {
            id: nonzero(r.u64()?)?,
            home_id: nonzero(r.u64()?)?,
            home_node: r.u16()?,
            home_pid: r.u32()?,
            home_family: Family {
                ppid: r.u32()?,
                pgrp: r.u32()?,
                session: r.u32()?,
            },
            start_ns: r.u64()?,
            uid: r.u32()?,
            strategy: r.u8()?,
            size: r.u64()?,
        };
        r.finish()?;
        if b.strategy > 3 || b.home_node == 0 || b.home_pid == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(b)
    }
}

/// `MigrateData`: image bytes at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// The move.
    pub id: u64,
    /// Where the bytes go in the image.
    pub offset: u64,
    /// At most [`MAX_DATA`] bytes.
    pub data: &'a [u8],
}

impl<'a> Data<'a> {
    /// Bytes before the data.
    pub const HEADER_LEN: usize = 8 + 8 + 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        if self.data.len() > MAX_DATA {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.offset)?;
        w.u32(self.data.len() as u32)?;
        w.bytes(self.data)?;
        Ok(w.pos())
    }

    /// Encodes only the bytes before `len` bytes of data, into
    /// `out[..HEADER_LEN]`: for a sender that put the data right after
    /// them already (the result equals [`Data::encode`]'s).
    pub fn encode_header(
        id: u64,
        offset: u64,
        len: usize,
        out: &mut [u8],
    ) -> Result<usize, WireError> {
        nonzero(id)?;
        if len > MAX_DATA {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u64(id)?;
        w.u64(offset)?;
        w.u32(len as u32)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<Data<'a>, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        let offset = r.u64()?;
        let len = r.u32()? as usize;
        if len > MAX_DATA || offset.checked_add(len as u64).is_none() {
            return Err(WireError::InvalidValue);
        }
        let data = r.bytes(len)?;
        r.finish()?;
        Ok(Data { id, offset, data })
    }
}

/// `MigrateCommit`: every byte was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// The move.
    pub id: u64,
    /// The image's size (as in [`Begin`]).
    pub size: u64,
}

impl Commit {
    /// Encoded length.
    pub const LEN: usize = 16;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        nonzero(self.id)?;
        let mut w = Writer::new(out);
        w.u64(self.id)?;
        w.u64(self.size)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Commit, WireError> {
        let mut r = Reader::new(body);
        let c = Commit {
            id: nonzero(r.u64()?)?,
            size: r.u64()?,
        };
        r.finish()?;
        Ok(c)
    }
}

/// `MigrateGo` and `MigrateAbort`: only the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    /// The move (`MigrateGo`, `MigrateAbort`).
    pub id: u64,
}

impl Ref {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        w.u64(nonzero(self.id)?)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &[u8]) -> Result<Ref, WireError> {
        let mut r = Reader::new(body);
        let id = nonzero(r.u64()?)?;
        r.finish()?;
        Ok(Ref { id })
    }
}
