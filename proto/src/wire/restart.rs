//! Remote restart bodies: [`RestartRequest`], [`RestartStarted`],
//! [`RestartQuery`], [`RestartStatus`] and [`RestartState`].

use super::super::le::{Reader, Writer};
use super::error::WireError;

/// Longest image path a [`RestartRequest`] carries.
pub const MAX_RESTART_PATH: usize = 1024;
/// Longest message a [`RestartStatus`] carries.
pub const MAX_RESTART_MESSAGE: usize = 192;

/// Asks a node to restart the process saved in an image: the node starts
/// `ssi-ctl restart` on it as a new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartRequest<'a> {
    /// The asking user (the receiving node lets only root or the image's
    /// owner restart it).
    pub uid: u32,
    /// Absolute path of the image, the same on every node (shared file
    /// system); no NUL byte.
    pub path: &'a [u8],
}

impl<'a> RestartRequest<'a> {
    fn check(&self) -> Result<(), WireError> {
        if self.path.is_empty()
            || self.path.len() > MAX_RESTART_PATH
            || self.path.first() != Some(&b'/')
            || self.path.contains(&0)
        {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u32(self.uid)?;
        w.u16(self.path.len() as u16)?;
        w.bytes(self.path)?;
        Ok(w.pos())
    }

    /// Decodes a body; the path must be absolute, without NUL, at most
    /// [`MAX_RESTART_PATH`] bytes.
    pub fn decode(body: &'a [u8]) -> Result<RestartRequest<'a>, WireError> {
        let mut r = Reader::new(body);
        let uid = r.u32()?;
        let len = usize::from(r.u16()?);
        let path = r.bytes(len)?;
        r.finish()?;
        let req = RestartRequest { uid, path };
        req.check()?;
        Ok(req)
    }
}

/// Reply to [`RestartRequest`]: the restart has been started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartStarted {
    /// Names the restart in [`RestartQuery`]; never 0.
    pub token: u32,
    /// The process that is becoming the saved one.
    pub pid: u32,
}

impl RestartStarted {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.token == 0 {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(self.token)?;
        w.u32(self.pid)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`RestartStarted::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<RestartStarted, WireError> {
        let mut r = Reader::new(body);
        let s = RestartStarted {
            token: r.u32()?,
            pid: r.u32()?,
        };
        r.finish()?;
        if s.token == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(s)
    }
}

/// Asks how the restart `token` is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartQuery {
    /// From [`RestartStarted`]; never 0.
    pub token: u32,
}

impl RestartQuery {
    /// Encoded length.
    pub const LEN: usize = 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.token == 0 {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(self.token)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`RestartQuery::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<RestartQuery, WireError> {
        let mut r = Reader::new(body);
        let q = RestartQuery { token: r.u32()? };
        r.finish()?;
        if q.token == 0 {
            return Err(WireError::InvalidValue);
        }
        Ok(q)
    }
}

/// Where a remote restart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RestartState {
    /// The new process reads and checks the image.
    Starting = 1,
    /// The image passed every check: the process is the saved one now.
    Running = 2,
    /// The restart was refused or failed (errno and message say why).
    Failed = 3,
}

impl RestartState {
    pub(super) fn from_u8(v: u8) -> Option<RestartState> {
        Some(match v {
            1 => RestartState::Starting,
            2 => RestartState::Running,
            3 => RestartState::Failed,
            _ => return None,
        })
    }
}

/// Reply to [`RestartQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartStatus<'a> {
    /// Where it is.
    pub state: RestartState,
    /// The restarted (or restarting) process.
    pub pid: u32,
    /// For `Failed`: the error number (positive); 0 otherwise.
    pub errno: u32,
    /// For `Failed`: why, at most [`MAX_RESTART_MESSAGE`] bytes of UTF-8.
    pub message: &'a [u8],
}

impl<'a> RestartStatus<'a> {
    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.message.len() > MAX_RESTART_MESSAGE {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u8(self.state as u8)?;
        w.u32(self.pid)?;
        w.u32(self.errno)?;
        w.u16(self.message.len() as u16)?;
        w.bytes(self.message)?;
        Ok(w.pos())
    }

    /// Decodes a body.
    pub fn decode(body: &'a [u8]) -> Result<RestartStatus<'a>, WireError> {
        let mut r = Reader::new(body);
        let state = RestartState::from_u8(r.u8()?).ok_or(WireError::InvalidValue)?;
        let pid = r.u32()?;
        let errno = r.u32()?;
        let len = usize::from(r.u16()?);
        if len > MAX_RESTART_MESSAGE {
            return Err(WireError::InvalidValue);
        }
        let message = r.bytes(len)?;
        r.finish()?;
        Ok(RestartStatus {
            state,
            pid,
            errno,
            message,
        })
    }
}
