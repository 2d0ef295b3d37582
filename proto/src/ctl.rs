//! The request block of `/dev/ssi`'s ioctl: how `ssi-ctl` asks the module
//! to checkpoint or restart a process, and how the module answers.
//!
//! One fixed-size block of [`CTL_LEN`] bytes, explicitly little-endian,
//! passed by pointer with ioctl [`CTL_IOCTL`]. The caller fills the
//! request part; the module reads the block, does the work and writes the
//! whole block back with the reply part filled in, even on failure (the
//! ioctl then fails with the errno, and `message` says why in words).
//!
//! ```text
//! off len field
//! 0   4   magic = b"SSIC"
//! 4   2   version = 2 (CTL_VERSION)
//! 6   2   op: 1 checkpoint, 2 restore, 3 remote restart, 4 report,
//!             5 restore thread, 6 migrate, 7 migration image,
//!             8 migration pages, 9 pass on, 10 migrate elsewhere,
//!             11 protect, 12 flip a bit
//! 8   4   pid      (checkpoint: the target process; restore thread: the
//!                   thread's index in the image, 1..)
//! 12  4   image_fd (the caller's file descriptor of the image)
//! 16  4   flags    (checkpoint: bit0 KILL after capture;
//!                   restore: bit1 CHECK_ONLY, read and check, change nothing;
//!                   bit2 PAGES_LATER, the anonymous memory comes later
//!                   through the userfaultfd `uffd`;
//!                   migration pages: bit3 ALL_PAGES_HERE)
//! 20  4   token    (restore, report, migration image, migration pages:
//!                   the remote restart this process carries out, 0 if none;
//!                   migrate elsewhere: the node that runs `pid`)
//! 24  2   node     (remote restart, migrate: the other node;
//!                   protect: the copies to run, 0 or 1 for none)
//! 26  1   strategy (migrate: 0 eager, 1 pre-copy, 2 post-copy, 3 lazy)
//! 27  1   reserved, 0
//! 28  4   uffd     (restore with PAGES_LATER: the caller's userfaultfd;
//!                   migration pages with ALL_PAGES_HERE: the pages file)
//! --- reply, written by the module (report: by the caller) ---
//! 32  4   errno    (0 on success, else the positive errno)
//! 36  4   pid      (remote restart, migrate: the process on `node`;
//!                   migration image, migration pages: the installed
//!                   descriptor)
//! 40  8   image_bytes written or read
//! 48  8   pages    (memory pages stored or loaded)
//! 56  8   frozen_ns (time the target was stopped: checkpoint)
//! 64  8   total_ns
//! 72  184 message  (UTF-8, NUL padded)
//! ```
//!
//! A remote restart (`ssi-ctl restart --node N`) asks node N, over krpc, to
//! start `ssi-ctl restart --token T FILE` there; that process carries the
//! token in its restore request, or reports (op 4, with errno and message
//! in the reply part) why it could not get that far.

/// Length of the block.
pub const CTL_LEN: usize = 256;
/// Magic at offset 0.
pub const CTL_MAGIC: [u8; 4] = *b"SSIC";
/// Version of the block layout.
pub const CTL_VERSION: u16 = 2;
/// Bytes of the message field.
pub const MESSAGE_LEN: usize = 184;
/// Offset of the reply's message.
const REPLY_MESSAGE: usize = CTL_LEN - MESSAGE_LEN;
/// `_IOWR('S', 1, [u8; 256])`.
pub const CTL_IOCTL: u32 = (3 << 30) | ((CTL_LEN as u32) << 16) | ((b'S' as u32) << 8) | 1;
/// Checkpoint flag: kill the target once its image is written.
pub const FLAG_KILL: u32 = 1;
/// Restore flag: only check the image and its files (nothing changes).
pub const FLAG_CHECK_ONLY: u32 = 2;
/// Restore flag: the image has no anonymous memory; it comes later through
/// the userfaultfd `uffd` (post-copy, lazy).
pub const FLAG_PAGES_LATER: u32 = 4;
/// Migration pages flag: the page server got every page (`uffd` is its
/// pages file): the lending node may free them.
pub const FLAG_ALL_PAGES_HERE: u32 = 8;
/// Protect flag: stop protecting the process.
pub const FLAG_HA_OFF: u32 = 16;

/// What the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtlOp {
    /// Write an image of process `pid` to `image_fd`.
    Checkpoint,
    /// Turn the calling process into the one saved in `image_fd`.
    Restore,
    /// Have node `node` restart the image `image_fd` names (by path).
    RemoteRestart,
    /// The process started for remote restart `token` tells why it
    /// failed before its restore request (reply part: errno, message).
    Report,
    /// An extra thread of a restarting process waits for its state
    /// (thread index `pid`) while the main thread restores.
    RestoreThread,
    /// Move process `pid` to node `node` with `strategy`.
    Migrate,
    /// The process started for incoming migration `token` asks for the
    /// image the module received (a descriptor is installed).
    MigrationImage,
    /// Post-copy, lazy: the process started for incoming migration `token`
    /// asks for its pages file (a descriptor is installed); with
    /// `FLAG_ALL_PAGES_HERE`, its page server says every page came.
    MigrationPages,
    /// The process started for incoming migration `token` made a copy of
    /// itself with the process's own pid (`pid`, clone3 `set_tid`): that
    /// copy carries the restart on (one pid for life).
    PassOn,
    /// Move process `pid` of node `token` (where it runs, another node) to
    /// node `node` with `strategy`: this node asks node `token`
    /// (`MigrateAsk`) and waits for the outcome.
    MigrateElsewhere,
    /// Protect process `pid` (high availability): checkpoints every
    /// `token` seconds (0: the node's default); with `FLAG_HA_OFF`, stop
    /// protecting it.
    Protect,
    /// Test aid (root only): flip bit `token` (0..32767) of the page at
    /// address `uffd << 32 | image_fd` of this node's process `pid`,
    /// without marking the page dirty.
    FlipBit,
}

/// A decoded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtlRequest {
    /// The operation.
    pub op: CtlOp,
    /// Target process (checkpoint).
    pub pid: u32,
    /// The caller's descriptor of the image file.
    pub image_fd: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// The remote restart this request belongs to (restore, report).
    pub token: u32,
    /// The node asked to restart (remote restart) or to run the process
    /// (migrate).
    pub node: u16,
    /// How to migrate (`STRATEGY_*`).
    pub strategy: u8,
    /// A descriptor: the userfaultfd (restore with `FLAG_PAGES_LATER`) or
    /// the pages file (migration pages with `FLAG_ALL_PAGES_HERE`).
    pub uffd: u32,
}

/// Migration strategy: freeze, send everything, resume at the destination.
pub const STRATEGY_EAGER: u8 = 0;
/// Migration strategy: copy while running, then rounds of dirty pages.
pub const STRATEGY_PRECOPY: u8 = 1;
/// Migration strategy: resume at once, push pages, fetch missing ones.
pub const STRATEGY_POSTCOPY: u8 = 2;
/// Migration strategy: resume at once, fetch pages only when touched.
pub const STRATEGY_LAZY: u8 = 3;

/// A strategy's name (as `ssi-ctl` and `/proc/ssi/migrations` spell it).
pub fn strategy_name(s: u8) -> &'static str {
    match s {
        STRATEGY_EAGER => "eager",
        STRATEGY_PRECOPY => "precopy",
        STRATEGY_POSTCOPY => "postcopy",
        STRATEGY_LAZY => "lazy",
        _ => "?",
    }
}

/// The strategy of a name.
pub fn strategy_of(name: &str) -> Option<u8> {
    (0..4).find(|&s| strategy_name(s) == name)
}

/// Why a request block is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtlError {
    /// Not an ssi request block.
    BadMagic,
    /// A block version this module does not speak.
    UnsupportedVersion,
    /// Unknown operation.
    BadOp,
    /// Unknown flag bits, or flags on an operation that takes none.
    BadFlags,
    /// Reserved bytes not zero.
    ReservedNotZero,
}

impl CtlError {
    /// Words for the log and the reply message.
    pub fn describe(&self) -> &'static str {
        match self {
            CtlError::BadMagic => "not an ssi request block",
            CtlError::UnsupportedVersion => {
                "request block version not supported (ssi-ctl and ssi.ko differ)"
            }
            CtlError::BadOp => "unknown operation",
            CtlError::BadFlags => "unknown flags",
            CtlError::ReservedNotZero => "reserved fields not zero",
        }
    }
}

fn u16_at(b: &[u8; CTL_LEN], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8; CTL_LEN], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl CtlRequest {
    /// Writes the request part of a block (the reply part zeroed).
    pub fn encode(&self, out: &mut [u8; CTL_LEN]) {
        *out = [0; CTL_LEN];
        out[0..4].copy_from_slice(&CTL_MAGIC);
        out[4..6].copy_from_slice(&CTL_VERSION.to_le_bytes());
        let op: u16 = match self.op {
            CtlOp::Checkpoint => 1,
            CtlOp::Restore => 2,
            CtlOp::RemoteRestart => 3,
            CtlOp::Report => 4,
            CtlOp::RestoreThread => 5,
            CtlOp::Migrate => 6,
            CtlOp::MigrationImage => 7,
            CtlOp::MigrationPages => 8,
            CtlOp::PassOn => 9,
            CtlOp::MigrateElsewhere => 10,
            CtlOp::Protect => 11,
            CtlOp::FlipBit => 12,
        };
        out[6..8].copy_from_slice(&op.to_le_bytes());
        out[8..12].copy_from_slice(&self.pid.to_le_bytes());
        out[12..16].copy_from_slice(&self.image_fd.to_le_bytes());
        out[16..20].copy_from_slice(&self.flags.to_le_bytes());
        out[20..24].copy_from_slice(&self.token.to_le_bytes());
        out[24..26].copy_from_slice(&self.node.to_le_bytes());
        out[26] = self.strategy;
        out[28..32].copy_from_slice(&self.uffd.to_le_bytes());
    }

    /// Reads the request part of a block.
    pub fn decode(b: &[u8; CTL_LEN]) -> Result<CtlRequest, CtlError> {
        if b[0..4] != CTL_MAGIC {
            return Err(CtlError::BadMagic);
        }
        if u16_at(b, 4) != CTL_VERSION {
            return Err(CtlError::UnsupportedVersion);
        }
        let op = match u16_at(b, 6) {
            1 => CtlOp::Checkpoint,
            2 => CtlOp::Restore,
            3 => CtlOp::RemoteRestart,
            4 => CtlOp::Report,
            5 => CtlOp::RestoreThread,
            6 => CtlOp::Migrate,
            7 => CtlOp::MigrationImage,
            8 => CtlOp::MigrationPages,
            9 => CtlOp::PassOn,
            10 => CtlOp::MigrateElsewhere,
            11 => CtlOp::Protect,
            12 => CtlOp::FlipBit,
            _ => return Err(CtlError::BadOp),
        };
        if b[27] != 0 {
            return Err(CtlError::ReservedNotZero);
        }
        let flags = u32_at(b, 16);
        let allowed = match op {
            CtlOp::Checkpoint => FLAG_KILL,
            CtlOp::Restore => FLAG_CHECK_ONLY | FLAG_PAGES_LATER,
            CtlOp::MigrationPages => FLAG_ALL_PAGES_HERE,
            CtlOp::Protect => FLAG_HA_OFF,
            CtlOp::RemoteRestart
            | CtlOp::Report
            | CtlOp::RestoreThread
            | CtlOp::Migrate
            | CtlOp::MigrationImage
            | CtlOp::PassOn
            | CtlOp::MigrateElsewhere
            | CtlOp::FlipBit => 0,
        };
        if flags & !allowed != 0 {
            return Err(CtlError::BadFlags);
        }
        Ok(CtlRequest {
            op,
            pid: u32_at(b, 8),
            image_fd: u32_at(b, 12),
            flags,
            token: u32_at(b, 20),
            node: u16_at(b, 24),
            strategy: b[26],
            uffd: u32_at(b, 28),
        })
    }
}

/// The reply part of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtlReply {
    /// 0 on success, else the positive errno.
    pub errno: u32,
    /// The restarted process (remote restart).
    pub pid: u32,
    /// Image bytes written (checkpoint) or read (restore).
    pub image_bytes: u64,
    /// Memory pages stored or loaded.
    pub pages: u64,
    /// Nanoseconds the target was stopped (checkpoint).
    pub frozen_ns: u64,
    /// Nanoseconds the whole operation took.
    pub total_ns: u64,
    /// Why it failed, or a short summary; NUL padded.
    pub message: [u8; MESSAGE_LEN],
}

impl CtlReply {
    /// An empty reply.
    pub const EMPTY: CtlReply = CtlReply {
        errno: 0,
        pid: 0,
        image_bytes: 0,
        pages: 0,
        frozen_ns: 0,
        total_ns: 0,
        message: [0; MESSAGE_LEN],
    };

    /// Sets the message to `text`, cut at a character boundary to fit.
    pub fn set_message(&mut self, text: &str) {
        self.message = [0; MESSAGE_LEN];
        let mut n = text.len().min(MESSAGE_LEN - 1);
        while !text.is_char_boundary(n) {
            n -= 1;
        }
        self.message[..n].copy_from_slice(&text.as_bytes()[..n]);
    }

    /// The message up to its first NUL (lossy: invalid UTF-8 gives "").
    pub fn message(&self) -> &str {
        let end = self
            .message
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(MESSAGE_LEN);
        core::str::from_utf8(&self.message[..end]).unwrap_or("")
    }

    /// Writes the reply part into a block that holds a request.
    pub fn encode_into(&self, b: &mut [u8; CTL_LEN]) {
        b[32..36].copy_from_slice(&self.errno.to_le_bytes());
        b[36..40].copy_from_slice(&self.pid.to_le_bytes());
        b[40..48].copy_from_slice(&self.image_bytes.to_le_bytes());
        b[48..56].copy_from_slice(&self.pages.to_le_bytes());
        b[56..64].copy_from_slice(&self.frozen_ns.to_le_bytes());
        b[64..72].copy_from_slice(&self.total_ns.to_le_bytes());
        b[REPLY_MESSAGE..].copy_from_slice(&self.message);
    }

    /// Reads the reply part of a block.
    pub fn decode(b: &[u8; CTL_LEN]) -> CtlReply {
        let u64_at = |off: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[off..off + 8]);
            u64::from_le_bytes(w)
        };
        let mut message = [0u8; MESSAGE_LEN];
        message.copy_from_slice(&b[REPLY_MESSAGE..]);
        CtlReply {
            errno: u32_at(b, 32),
            pid: u32_at(b, 36),
            image_bytes: u64_at(40),
            pages: u64_at(48),
            frozen_ns: u64_at(56),
            total_ns: u64_at(64),
            message,
        }
    }
}

/// A `fmt::Write` into a reply message.
pub struct MessageWriter<'a> {
    reply: &'a mut CtlReply,
    len: usize,
}

impl<'a> MessageWriter<'a> {
    /// Starts an empty message in `reply`.
    pub fn new(reply: &'a mut CtlReply) -> Self {
        reply.message = [0; MESSAGE_LEN];
        MessageWriter { reply, len: 0 }
    }
}

impl core::fmt::Write for MessageWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // Keep one NUL at the end; cut quietly at a character boundary.
        let room = MESSAGE_LEN - 1 - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.reply.message[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ioctl_number_is_iowr_s_1_256() {
        assert_eq!(CTL_IOCTL, 0xc100_5301);
    }

    proptest! {
        #[test]
        fn request_round_trip(pid in any::<u32>(), fd in any::<u32>(), flag in any::<bool>(), op in 1u16..=12,
                              token in any::<u32>(), node in any::<u16>(), strategy in any::<u8>(), uffd in any::<u32>()) {
            let op = match op {
                1 => CtlOp::Checkpoint,
                2 => CtlOp::Restore,
                3 => CtlOp::RemoteRestart,
                4 => CtlOp::Report,
                5 => CtlOp::RestoreThread,
                6 => CtlOp::Migrate,
                7 => CtlOp::MigrationImage,
                8 => CtlOp::MigrationPages,
                9 => CtlOp::PassOn,
                10 => CtlOp::MigrateElsewhere,
                11 => CtlOp::Protect,
                _ => CtlOp::FlipBit,
            };
            let flags = match op {
                CtlOp::Checkpoint if flag => FLAG_KILL,
                CtlOp::Protect if flag => FLAG_HA_OFF,
                CtlOp::Restore if flag => FLAG_CHECK_ONLY | FLAG_PAGES_LATER,
                CtlOp::MigrationPages if flag => FLAG_ALL_PAGES_HERE,
                _ => 0,
            };
            let r = CtlRequest { op, pid, image_fd: fd, flags, token, node, strategy, uffd };
            let mut b = [0u8; CTL_LEN];
            r.encode(&mut b);
            prop_assert_eq!(CtlRequest::decode(&b), Ok(r));
        }

        #[test]
        fn any_block_decodes_or_errors(bytes in proptest::collection::vec(any::<u8>(), CTL_LEN)) {
            let mut b = [0u8; CTL_LEN];
            b.copy_from_slice(&bytes);
            let _ = CtlRequest::decode(&b);
            let _ = CtlReply::decode(&b).message();
        }

        #[test]
        fn reply_round_trip(errno in any::<u32>(), n in any::<u64>(), text in "\\PC{0,300}") {
            let mut reply = CtlReply { errno, pid: errno ^ 1, image_bytes: n, pages: n / 7, frozen_ns: 3, total_ns: 4, ..CtlReply::EMPTY };
            reply.set_message(&text);
            let mut b = [0u8; CTL_LEN];
            reply.encode_into(&mut b);
            let back = CtlReply::decode(&b);
            prop_assert_eq!(back, reply);
            prop_assert!(text.starts_with(back.message()));
        }
    }

    #[test]
    fn bad_blocks_are_refused() {
        let mut b = [0u8; CTL_LEN];
        CtlRequest {
            op: CtlOp::Checkpoint,
            pid: 1,
            image_fd: 3,
            flags: 0,
            token: 0,
            node: 0,
            strategy: 0,
            uffd: 0,
        }
        .encode(&mut b);
        let mut x = b;
        x[0] = b'X';
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::BadMagic));
        let mut x = b;
        x[4] = 9;
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::UnsupportedVersion));
        let mut x = b;
        x[6] = 200;
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::BadOp));
        let mut x = b;
        x[16] = 2;
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::BadFlags));
        let mut x = b;
        x[27] = 1;
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::ReservedNotZero));
        let mut x = [0u8; CTL_LEN];
        CtlRequest {
            op: CtlOp::Restore,
            pid: 0,
            image_fd: 3,
            flags: 0,
            token: 0,
            node: 0,
            strategy: 0,
            uffd: 0,
        }
        .encode(&mut x);
        x[16] = 1; // KILL is a checkpoint flag
        assert_eq!(CtlRequest::decode(&x), Err(CtlError::BadFlags));
    }

    #[test]
    fn message_writer_cuts_and_keeps_nul() {
        use core::fmt::Write;
        let mut r = CtlReply::EMPTY;
        let mut w = MessageWriter::new(&mut r);
        for _ in 0..100 {
            let _ = write!(w, "fd {} is a socket; ", 3);
        }
        assert_eq!(r.message[MESSAGE_LEN - 1], 0);
        assert!(r.message().starts_with("fd 3 is a socket"));
    }
}
