//! Body of the File section: [`FileBody`], one open file descriptor and
//! what it refers to ([`FileKind`], [`FileTarget`]).

use super::super::le::{Reader, Writer};
use super::codec::*;
use super::consts::*;
use super::error::ImageError;

/// What a file descriptor refers to (the wire byte of a File section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileKind {
    /// A regular file.
    Regular = 1,
    /// A directory.
    Directory = 2,
    /// One of the [`ALLOWED_CHAR_DEVICES`].
    CharDev = 3,
    /// A terminal (restart attaches the restarting caller's terminal).
    Tty = 4,
    /// The read end of a pipe.
    PipeRead = 5,
    /// The write end of a pipe.
    PipeWrite = 6,
}

impl FileKind {
    /// The kind with wire value `v`, if this version knows it.
    pub fn from_u8(v: u8) -> Option<FileKind> {
        Some(match v {
            1 => FileKind::Regular,
            2 => FileKind::Directory,
            3 => FileKind::CharDev,
            4 => FileKind::Tty,
            5 => FileKind::PipeRead,
            6 => FileKind::PipeWrite,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// What a File section's descriptor refers to, with the data its kind
/// needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileTarget<'a> {
    /// A regular file.
    Regular(FileRef<'a>),
    /// A directory.
    Directory(FileRef<'a>),
    /// A character device, one of [`ALLOWED_CHAR_DEVICES`].
    CharDev {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A terminal: its settings, as raw kernel structures (opaque here).
    Tty {
        /// Raw x86_64 `struct termios2`.
        termios: [u8; TERMIOS2_LEN],
        /// Raw `struct winsize`.
        winsize: [u8; WINSIZE_LEN],
    },
    /// The read end of a pipe.
    PipeRead {
        /// Identifies the pipe within the image (its inode number at
        /// checkpoint time), to pair the ends; not 0.
        pipe_id: u64,
    },
    /// The write end of a pipe.
    PipeWrite {
        /// As for [`FileTarget::PipeRead`].
        pipe_id: u64,
    },
}

impl FileTarget<'_> {
    /// The wire kind.
    pub fn kind(&self) -> FileKind {
        match self {
            FileTarget::Regular(_) => FileKind::Regular,
            FileTarget::Directory(_) => FileKind::Directory,
            FileTarget::CharDev { .. } => FileKind::CharDev,
            FileTarget::Tty { .. } => FileKind::Tty,
            FileTarget::PipeRead { .. } => FileKind::PipeRead,
            FileTarget::PipeWrite { .. } => FileKind::PipeWrite,
        }
    }

    /// The file, for kinds that name one.
    pub fn file(&self) -> Option<&FileRef<'_>> {
        match self {
            FileTarget::Regular(f) | FileTarget::Directory(f) => Some(f),
            _ => None,
        }
    }
}

/// File section: one open file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBody<'a> {
    /// Descriptor number (below [`MAX_FDS`]).
    pub fd: u32,
    /// `f_flags` (`O_*`); the access mode is not 3, and is `O_RDONLY` for
    /// a pipe's read end, `O_WRONLY` for its write end.
    pub open_flags: u32,
    /// File position (at most `i64::MAX`).
    pub pos: u64,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
    /// What it refers to.
    pub target: FileTarget<'a>,
}

impl<'a> FileBody<'a> {
    /// Encoded length before the kind-specific part.
    pub const FIXED_LEN: usize = 4 + 4 + 8 + 1 + 1;
    /// Largest encoded length.
    pub const MAX_LEN: usize = FileBody::FIXED_LEN + FileRef::MAX_LEN;

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.fd >= MAX_FDS || self.pos > i64::MAX as u64 {
            return Err(ImageError::InvalidValue);
        }
        let access = self.open_flags & O_ACCMODE;
        if access == O_ACCMODE {
            return Err(ImageError::InvalidFlags);
        }
        match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.validate(),
            FileTarget::CharDev { major, minor } => {
                if ALLOWED_CHAR_DEVICES.contains(&(*major, *minor)) {
                    Ok(())
                } else {
                    Err(ImageError::InvalidValue)
                }
            }
            FileTarget::Tty { .. } => Ok(()),
            FileTarget::PipeRead { pipe_id } | FileTarget::PipeWrite { pipe_id } => {
                let wanted = if self.target.kind() == FileKind::PipeRead {
                    O_RDONLY
                } else {
                    O_WRONLY
                };
                if access != wanted {
                    Err(ImageError::InvalidFlags)
                } else if *pipe_id == 0 {
                    Err(ImageError::InvalidValue)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        let extra = match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.encoded_len(),
            FileTarget::CharDev { .. }
            | FileTarget::PipeRead { .. }
            | FileTarget::PipeWrite { .. } => 8,
            FileTarget::Tty { .. } => TERMIOS2_LEN + WINSIZE_LEN,
        };
        FileBody::FIXED_LEN.saturating_add(extra)
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.fd)?;
        w.u32(self.open_flags)?;
        w.u64(self.pos)?;
        w.u8(self.target.kind().as_u8())?;
        w.u8(u8::from(self.cloexec))?;
        match &self.target {
            FileTarget::Regular(f) | FileTarget::Directory(f) => f.write_to(w),
            FileTarget::CharDev { major, minor } => {
                w.u32(*major)?;
                Ok(w.u32(*minor)?)
            }
            FileTarget::Tty { termios, winsize } => {
                w.bytes(termios)?;
                Ok(w.bytes(winsize)?)
            }
            FileTarget::PipeRead { pipe_id } | FileTarget::PipeWrite { pipe_id } => {
                Ok(w.u64(*pipe_id)?)
            }
        }
    }

    fn read_from(r: &mut Reader<'a>) -> Result<FileBody<'a>, ImageError> {
        let fd = r.u32()?;
        let open_flags = r.u32()?;
        let pos = r.u64()?;
        let kind = FileKind::from_u8(r.u8()?).ok_or(ImageError::InvalidKind)?;
        let cloexec = r.bool()?;
        let target = match kind {
            FileKind::Regular => FileTarget::Regular(FileRef::read_from(r)?),
            FileKind::Directory => FileTarget::Directory(FileRef::read_from(r)?),
            FileKind::CharDev => FileTarget::CharDev {
                major: r.u32()?,
                minor: r.u32()?,
            },
            FileKind::Tty => FileTarget::Tty {
                termios: r.array()?,
                winsize: r.array()?,
            },
            FileKind::PipeRead => FileTarget::PipeRead { pipe_id: r.u64()? },
            FileKind::PipeWrite => FileTarget::PipeWrite { pipe_id: r.u64()? },
        };
        Ok(FileBody {
            fd,
            open_flags,
            pos,
            cloexec,
            target,
        })
    }
}

body_codec!(FileBody);
