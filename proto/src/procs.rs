//! The process space's snapshots (issue 20, first step): `ProcList` asks a
//! node for the user processes it runs, a batch at a time in pid order;
//! the reply carries fixed-size [`ProcEntry`] records. One call per node
//! and batch, never one per process or per file. [`ProcLine`] is the text
//! form of one entry in `/proc/ssi/ps`, which `ssi-ctl ps` reads.

use super::le::{Reader, Writer};
use super::wire::WireError;
use core::fmt::{self, Write as _};

/// Bytes of a process name (`comm`), NUL-padded.
pub const COMM_LEN: usize = 16;
/// Bytes of the command line kept (arguments separated by one space).
pub const CMDLINE_LEN: usize = 128;
/// Encoded length of one entry.
pub const ENTRY_LEN: usize = 4 * 4 + 1 + 1 + 2 + 3 * 8 + 2 + 2 + 4 + 2 + COMM_LEN + CMDLINE_LEN;
/// Most entries in one reply.
pub const MAX_ENTRIES: usize = 256;
/// Encoded length of a request.
pub const REQUEST_LEN: usize = 6;
/// Flag of an entry: the process migrated here; `home_node` and
/// `home_pid` say where its deputy keeps its place.
pub const ENTRY_MIGRATED: u8 = 1;

/// The states a process may be in, as `ps` shows them (the first letter of
/// `/proc/PID/stat`'s third field).
pub const STATES: &[u8] = b"RSDTtXZPI";

/// `ProcList`: the processes whose pid is above `after_pid`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcListRequest {
    /// Only pids above this (0: from the first).
    pub after_pid: u32,
    /// At most this many, 1 to [`MAX_ENTRIES`].
    pub max: u16,
}

impl ProcListRequest {
    /// Writes the request into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if self.max == 0 || usize::from(self.max) > MAX_ENTRIES {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u32(self.after_pid)?;
        w.u16(self.max)?;
        Ok(w.pos())
    }

    /// Decodes a request.
    pub fn decode(body: &[u8]) -> Result<ProcListRequest, WireError> {
        let mut r = Reader::new(body);
        let q = ProcListRequest {
            after_pid: r.u32()?,
            max: r.u16()?,
        };
        r.finish()?;
        if q.max == 0 || usize::from(q.max) > MAX_ENTRIES {
            return Err(WireError::InvalidValue);
        }
        Ok(q)
    }
}

/// One user process of a node, as its node saw it when it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcEntry {
    /// Its pid on the node that runs it.
    pub pid: u32,
    /// Its parent's pid there (0: none, or the parent is not a user process).
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// One of [`STATES`].
    pub state: u8,
    /// [`ENTRY_MIGRATED`] or 0.
    pub flags: u8,
    /// Threads (at least 1).
    pub threads: u16,
    /// User and system CPU time of all its threads, in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// When it started, in nanoseconds since the Unix epoch (the node's
    /// clock).
    pub start_ns: u64,
    /// Migrated: the node of its deputy (0 otherwise).
    pub home_node: u16,
    /// Bytes of `cmdline` used.
    pub cmdline_len: u16,
    /// Migrated: its pid on its home node (0 otherwise).
    pub home_pid: u32,
    /// Its name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// Its arguments joined by single spaces, the first `cmdline_len`
    /// bytes (empty for a zombie).
    pub cmdline: [u8; CMDLINE_LEN],
}

impl ProcEntry {
    /// An entry with every field zero, to fill.
    pub const EMPTY: ProcEntry = ProcEntry {
        pid: 0,
        ppid: 0,
        uid: 0,
        gid: 0,
        state: b'R',
        flags: 0,
        threads: 1,
        cpu_ns: 0,
        rss_bytes: 0,
        start_ns: 0,
        home_node: 0,
        cmdline_len: 0,
        home_pid: 0,
        comm: [0; COMM_LEN],
        cmdline: [0; CMDLINE_LEN],
    };

    /// Its name, up to the first NUL.
    pub fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..n]
    }

    /// Its command line.
    pub fn cmdline(&self) -> &[u8] {
        &self.cmdline[..usize::from(self.cmdline_len).min(CMDLINE_LEN)]
    }

    /// Sets the command line from the NUL-separated arguments of
    /// `/proc/PID/cmdline` (cut at [`CMDLINE_LEN`]); NULs become spaces.
    pub fn set_cmdline(&mut self, raw: &[u8]) {
        let raw = match raw.iter().rposition(|&b| b != 0) {
            Some(last) => &raw[..=last],
            None => &[],
        };
        let n = raw.len().min(CMDLINE_LEN);
        for (d, s) in self.cmdline.iter_mut().zip(&raw[..n]) {
            *d = if *s == 0 { b' ' } else { *s };
        }
        self.cmdline[n..].fill(0);
        self.cmdline_len = n as u16;
    }

    /// Whether every field holds a value it may hold.
    pub fn is_valid(&self) -> bool {
        self.pid != 0
            && STATES.contains(&self.state)
            && self.flags & !ENTRY_MIGRATED == 0
            && self.threads != 0
            && usize::from(self.cmdline_len) <= CMDLINE_LEN
            && self.cmdline[usize::from(self.cmdline_len)..]
                .iter()
                .all(|&b| b == 0)
            && ((self.flags & ENTRY_MIGRATED != 0) == (self.home_node != 0 && self.home_pid != 0))
            && (self.flags & ENTRY_MIGRATED != 0 || (self.home_node == 0 && self.home_pid == 0))
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u32(self.pid)?;
        w.u32(self.ppid)?;
        w.u32(self.uid)?;
        w.u32(self.gid)?;
        w.u8(self.state)?;
        w.u8(self.flags)?;
        w.u16(self.threads)?;
        w.u64(self.cpu_ns)?;
        w.u64(self.rss_bytes)?;
        w.u64(self.start_ns)?;
        w.u16(self.home_node)?;
        w.u16(0)?;
        w.u32(self.home_pid)?;
        w.u16(self.cmdline_len)?;
        w.bytes(&self.comm)?;
        w.bytes(&self.cmdline)?;
        Ok(())
    }

    fn read_from(r: &mut Reader<'_>) -> Result<ProcEntry, WireError> {
        let mut e = ProcEntry::EMPTY;
        e.pid = r.u32()?;
        e.ppid = r.u32()?;
        e.uid = r.u32()?;
        e.gid = r.u32()?;
        e.state = r.u8()?;
        e.flags = r.u8()?;
        e.threads = r.u16()?;
        e.cpu_ns = r.u64()?;
        e.rss_bytes = r.u64()?;
        e.start_ns = r.u64()?;
        e.home_node = r.u16()?;
        if r.u16()? != 0 {
            return Err(WireError::InvalidValue);
        }
        e.home_pid = r.u32()?;
        e.cmdline_len = r.u16()?;
        e.comm = r.array()?;
        e.cmdline = r.array()?;
        if !e.is_valid() {
            return Err(WireError::InvalidValue);
        }
        Ok(e)
    }
}

/// The reply to `ProcList`: entries in increasing pid order, and whether
/// the node has more above the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcListReply<'a> {
    /// More processes follow the last entry: ask again after its pid.
    pub more: bool,
    entries: &'a [u8],
}

impl<'a> ProcListReply<'a> {
    /// Encoded length of a reply of `n` entries.
    pub const fn len_of(n: usize) -> usize {
        4 + n * ENTRY_LEN
    }

    /// Writes a reply of `entries` (in increasing pid order, at most
    /// [`MAX_ENTRIES`], each valid) into `out`; returns the bytes written.
    pub fn encode(more: bool, entries: &[ProcEntry], out: &mut [u8]) -> Result<usize, WireError> {
        if entries.len() > MAX_ENTRIES
            || entries.iter().any(|e| !e.is_valid())
            || entries.windows(2).any(|p| p[0].pid >= p[1].pid)
        {
            return Err(WireError::InvalidValue);
        }
        let mut w = Writer::new(out);
        w.u16(entries.len() as u16)?;
        w.u8(u8::from(more))?;
        w.u8(0)?;
        for e in entries {
            e.write_to(&mut w)?;
        }
        Ok(w.pos())
    }

    /// Decodes a reply; every entry is checked, pids must increase.
    pub fn decode(body: &'a [u8]) -> Result<ProcListReply<'a>, WireError> {
        let mut r = Reader::new(body);
        let n = usize::from(r.u16()?);
        let more = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::InvalidValue),
        };
        if r.u8()? != 0 || n > MAX_ENTRIES {
            return Err(WireError::InvalidValue);
        }
        let entries = r.bytes(n * ENTRY_LEN)?;
        r.finish()?;
        let reply = ProcListReply { more, entries };
        let mut last = 0u32;
        for e in reply.iter() {
            let e = e?;
            if e.pid <= last {
                return Err(WireError::InvalidValue);
            }
            last = e.pid;
        }
        Ok(reply)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_LEN
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries (each already checked by [`decode`](Self::decode)).
    pub fn iter(&self) -> impl Iterator<Item = Result<ProcEntry, WireError>> + 'a {
        self.entries
            .chunks_exact(ENTRY_LEN)
            .map(|c| ProcEntry::read_from(&mut Reader::new(c)))
    }
}

/// The header line of `/proc/ssi/ps`.
pub const PS_HEADER: &str =
    "node pid ppid uid gid state threads cpu_ms rss_kb start_s home_node home_pid comm cmdline";

/// One line of `/proc/ssi/ps`: an entry and the node that runs it. Fields
/// are separated by one space; `comm` has its spaces and control bytes
/// shown as `?`; the command line is the rest of the line (control bytes
/// as `?`), or `-` when empty.
pub struct ProcLine<'a> {
    /// The node that runs it.
    pub node: u16,
    /// The process.
    pub entry: &'a ProcEntry,
}

fn write_shown(out: &mut impl fmt::Write, bytes: &[u8], space_ok: bool) -> fmt::Result {
    for &b in bytes {
        let c = if b.is_ascii_graphic() || (space_ok && b == b' ') {
            b as char
        } else {
            '?'
        };
        out.write_char(c)?;
    }
    Ok(())
}

impl fmt::Display for ProcLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.entry;
        write!(
            f,
            "{} {} {} {} {} {} {} {} {} {} {} {} ",
            self.node,
            e.pid,
            e.ppid,
            e.uid,
            e.gid,
            e.state as char,
            e.threads,
            e.cpu_ns / 1_000_000,
            e.rss_bytes / 1024,
            e.start_ns / 1_000_000_000,
            e.home_node,
            e.home_pid
        )?;
        if e.comm().is_empty() {
            f.write_char('-')?;
        } else {
            write_shown(f, e.comm(), false)?;
        }
        f.write_char(' ')?;
        if e.cmdline().is_empty() {
            f.write_char('-')
        } else {
            write_shown(f, e.cmdline(), true)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::{string::ToString, vec::Vec};

    fn entry(pid: u32) -> ProcEntry {
        let mut e = ProcEntry {
            pid,
            ppid: 1,
            uid: 1000,
            gid: 1000,
            state: b'S',
            cpu_ns: 5_000_000,
            ..ProcEntry::EMPTY
        };
        e.comm[..5].copy_from_slice(b"sleep");
        e.set_cmdline(b"sleep\x00600\x00");
        e
    }

    #[test]
    fn request_round_trip_and_limits() {
        let mut buf = [0u8; REQUEST_LEN];
        let q = ProcListRequest {
            after_pid: 300,
            max: 256,
        };
        assert_eq!(q.encode(&mut buf), Ok(REQUEST_LEN));
        assert_eq!(ProcListRequest::decode(&buf), Ok(q));
        assert!(ProcListRequest {
            after_pid: 0,
            max: 0
        }
        .encode(&mut buf)
        .is_err());
        assert!(ProcListRequest {
            after_pid: 0,
            max: 257
        }
        .encode(&mut buf)
        .is_err());
        assert_eq!(
            ProcListRequest::decode(&buf[..5]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn cmdline_joins_arguments() {
        let e = entry(7);
        assert_eq!(e.cmdline(), b"sleep 600");
        assert_eq!(e.comm(), b"sleep");
        let mut long = ProcEntry::EMPTY;
        long.set_cmdline(&[b'a'; 300]);
        assert_eq!(long.cmdline().len(), CMDLINE_LEN);
        long.set_cmdline(b"\0\0");
        assert!(long.cmdline().is_empty());
    }

    #[test]
    fn reply_round_trip() {
        let es = [
            entry(5),
            entry(9),
            ProcEntry {
                flags: ENTRY_MIGRATED,
                home_node: 2,
                home_pid: 77,
                ..entry(12)
            },
        ];
        let mut buf = [0u8; ProcListReply::len_of(3)];
        assert_eq!(ProcListReply::encode(true, &es, &mut buf), Ok(buf.len()));
        let r = ProcListReply::decode(&buf).unwrap();
        assert!(r.more);
        let back: Vec<ProcEntry> = r.iter().map(Result::unwrap).collect();
        assert_eq!(back, es);
    }

    #[test]
    fn reply_refuses_bad_entries() {
        let mut buf = [0u8; ProcListReply::len_of(2)];
        // Not in pid order.
        assert!(ProcListReply::encode(false, &[entry(9), entry(5)], &mut buf).is_err());
        // A migrated flag without its home, a state no process has.
        assert!(ProcListReply::encode(
            false,
            &[ProcEntry {
                flags: ENTRY_MIGRATED,
                ..entry(3)
            }],
            &mut buf
        )
        .is_err());
        assert!(ProcListReply::encode(
            false,
            &[ProcEntry {
                state: b'Q',
                ..entry(3)
            }],
            &mut buf
        )
        .is_err());
        // Decoding checks what encoding checks: a pid order broken on the wire.
        let n = ProcListReply::encode(false, &[entry(5), entry(9)], &mut buf).unwrap();
        buf[4..8].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(
            ProcListReply::decode(&buf[..n]),
            Err(WireError::InvalidValue)
        );
    }

    #[test]
    fn line_format() {
        let mut e = entry(42);
        e.comm[2] = b' ';
        let line = ProcLine { node: 3, entry: &e }.to_string();
        assert_eq!(line, "3 42 1 1000 1000 S 1 5 0 0 0 0 sl?ep sleep 600");
        assert_eq!(PS_HEADER.split(' ').count(), line.splitn(14, ' ').count());
        let empty = ProcEntry {
            pid: 8,
            state: b'Z',
            ..ProcEntry::EMPTY
        };
        assert!(ProcLine {
            node: 1,
            entry: &empty
        }
        .to_string()
        .ends_with(" - -"));
    }

    fn any_entry() -> impl Strategy<Value = ProcEntry> {
        (
            1u32..,
            any::<u32>(),
            any::<(u32, u32)>(),
            prop::sample::select(STATES.to_vec()),
            1u16..,
            any::<(u64, u64, u64)>(),
            prop::option::of((1u16.., 1u32..)),
            any::<[u8; COMM_LEN]>(),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(
                |(
                    pid,
                    ppid,
                    (uid, gid),
                    state,
                    threads,
                    (cpu_ns, rss_bytes, start_ns),
                    home,
                    comm,
                    cmd,
                )| {
                    let mut e = ProcEntry {
                        pid,
                        ppid,
                        uid,
                        gid,
                        state,
                        threads,
                        cpu_ns,
                        rss_bytes,
                        start_ns,
                        comm,
                        ..ProcEntry::EMPTY
                    };
                    if let Some((node, pid)) = home {
                        e.flags = ENTRY_MIGRATED;
                        e.home_node = node;
                        e.home_pid = pid;
                    }
                    e.set_cmdline(&cmd);
                    e
                },
            )
    }

    proptest! {
        #[test]
        fn any_reply_round_trips(mut es in prop::collection::vec(any_entry(), 0..20), more: bool) {
            es.sort_by_key(|e| e.pid);
            es.dedup_by_key(|e| e.pid);
            let mut buf = std::vec![0u8; ProcListReply::len_of(es.len())];
            prop_assert_eq!(ProcListReply::encode(more, &es, &mut buf), Ok(buf.len()));
            let r = ProcListReply::decode(&buf).unwrap();
            prop_assert_eq!(r.more, more);
            let back: Vec<ProcEntry> = r.iter().map(Result::unwrap).collect();
            prop_assert_eq!(back, es.clone());
            for e in &es {
                let line = ProcLine { node: 1, entry: e }.to_string();
                prop_assert!(!line.contains('\n'));
                prop_assert!(line.splitn(14, ' ').count() == 14);
            }
        }

        #[test]
        fn decode_never_panics(body in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = ProcListReply::decode(&body).map(|r| r.iter().count());
            let _ = ProcListRequest::decode(&body);
        }
    }
}
