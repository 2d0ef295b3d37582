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
/// Bytes of the command line kept: the raw NUL-separated arguments of
/// `/proc/PID/cmdline`, cut there.
pub const CMDLINE_LEN: usize = 512;
/// Encoded length of one entry.
pub const ENTRY_LEN: usize = 4 * 4 // pid, ppid, uid, gid
    + 6 * 4 // euid, suid, fsuid, egid, sgid, fsgid
    + 4 * 4 // pgrp, session, tty_nr, tpgid
    + 2 * 4 // task_flags, processor
    + 1 + 1 + 2 // state, flags, threads
    + 5 * 4 // priority, nice, rt_priority, policy, exit_signal
    + 2 + 2 // umask, cmdline_len
    + 2 + 2 + 4 // home_node, zero, home_pid
    + 3 * 8 // utime_ns, stime_ns, start_ns
    + 2 * 8 // minflt, majflt
    + 6 * 8 // vsize, hiwater_vm, rss_anon, rss_file, rss_shmem, hiwater_rss
    + 8 * 8 // text, lib, data, stack, locked, pinned, swap, pte
    + 8 // rsslim
    + COMM_LEN
    + CMDLINE_LEN;
/// Most entries in one reply.
pub const MAX_ENTRIES: usize = 256;
/// Encoded length of a request.
pub const REQUEST_LEN: usize = 6;
/// Flag of an entry: the process migrated here; `home_node` and
/// `home_pid` say where its deputy keeps its place.
pub const ENTRY_MIGRATED: u8 = 1;
/// `umask` of a process that has none to show (no `fs`: it is exiting).
pub const UMASK_NONE: u16 = 0xffff;
/// Highest scheduling policy number (`SCHED_EXT`).
pub const MAX_POLICY: u32 = 7;

/// The states a process may be in, as `ps` shows them (the first letter of
/// `/proc/PID/stat`'s third field).
pub const STATES: &[u8] = b"RSDTtXZPI";

// A full reply fits well in a frame.
const _: () = assert!(4 + MAX_ENTRIES * ENTRY_LEN <= super::wire::MAX_BODY as usize / 4);

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

/// One user process of a node, as its node saw it when it answered: what
/// `/proc/PID/{stat,statm,status,cmdline,comm}` show of it there
/// (`fs/proc/array.c`, `task_mmu.c`), pids, uids and gids of the initial
/// namespaces. Memory sizes are in bytes, times in nanoseconds.
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
    /// Effective uid (owner of `/proc/PID`, `ps`'s USER).
    pub euid: u32,
    /// Saved uid.
    pub suid: u32,
    /// File-system uid.
    pub fsuid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// File-system gid.
    pub fsgid: u32,
    /// Process group.
    pub pgrp: u32,
    /// Session.
    pub session: u32,
    /// Its controlling terminal's device (`new_encode_dev`; 0: none).
    pub tty_nr: u32,
    /// The terminal's foreground process group (-1: no terminal).
    pub tpgid: i32,
    /// The task's `PF_*` flags.
    pub task_flags: u32,
    /// The CPU it last ran on.
    pub processor: u32,
    /// One of [`STATES`].
    pub state: u8,
    /// [`ENTRY_MIGRATED`] or 0.
    pub flags: u8,
    /// Threads (at least 1).
    pub threads: u16,
    /// `stat`'s priority: `prio - MAX_RT_PRIO` (-101 to 39).
    pub priority: i32,
    /// Nice value (-20 to 19).
    pub nice: i32,
    /// Real-time priority (0 to 99).
    pub rt_priority: u32,
    /// Scheduling policy (`SCHED_*`, at most [`MAX_POLICY`]).
    pub policy: u32,
    /// Signal sent to the parent when it ends (-1 to 64).
    pub exit_signal: i32,
    /// Its umask (at most 0o777), or [`UMASK_NONE`].
    pub umask: u16,
    /// Bytes of `cmdline` used.
    pub cmdline_len: u16,
    /// Migrated: the node of its deputy (0 otherwise).
    pub home_node: u16,
    /// Migrated: its pid on its home node (0 otherwise).
    pub home_pid: u32,
    /// User CPU time of all its threads, dead ones too: `cpu_ns` split in
    /// the ratio of the raw user and system times, as `cputime_adjust`.
    pub utime_ns: u64,
    /// System CPU time, the rest of `cpu_ns`.
    pub stime_ns: u64,
    /// `utime_ns + stime_ns` (not encoded; decoding sets it).
    pub cpu_ns: u64,
    /// When it started, in nanoseconds since the Unix epoch (the node's
    /// clock).
    pub start_ns: u64,
    /// Minor page faults of all its threads, dead ones too.
    pub minflt: u64,
    /// Major page faults.
    pub majflt: u64,
    /// Virtual memory size (`total_vm`; VmSize; 0 without memory).
    pub vsize: u64,
    /// Peak virtual memory size (VmPeak; at least `vsize`).
    pub hiwater_vm: u64,
    /// Resident anonymous memory (RssAnon).
    pub rss_anon: u64,
    /// Resident file mappings (RssFile).
    pub rss_file: u64,
    /// Resident shared memory (RssShmem).
    pub rss_shmem: u64,
    /// `rss_anon + rss_file + rss_shmem` (VmRSS; not encoded, decoding
    /// sets it).
    pub rss_bytes: u64,
    /// Peak resident memory (VmHWM; at least `rss_bytes`).
    pub hiwater_rss: u64,
    /// Code (VmExe).
    pub text: u64,
    /// Other executable mappings (VmLib).
    pub lib: u64,
    /// Data (VmData).
    pub data: u64,
    /// Stack (VmStk).
    pub stack: u64,
    /// Locked (VmLck).
    pub locked: u64,
    /// Pinned (VmPin).
    pub pinned: u64,
    /// Swapped out (VmSwap).
    pub swap: u64,
    /// Page tables (VmPTE).
    pub pte: u64,
    /// Its resident-set limit (`RLIMIT_RSS`, bytes as set; `u64::MAX`:
    /// none).
    pub rsslim: u64,
    /// Its name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// Its arguments as `/proc/PID/cmdline` has them (NUL-separated), the
    /// first `cmdline_len` bytes (empty for a zombie).
    pub cmdline: [u8; CMDLINE_LEN],
}

impl ProcEntry {
    /// An entry with every field zero (or what a new process has), to fill.
    pub const EMPTY: ProcEntry = ProcEntry {
        pid: 0,
        ppid: 0,
        uid: 0,
        gid: 0,
        euid: 0,
        suid: 0,
        fsuid: 0,
        egid: 0,
        sgid: 0,
        fsgid: 0,
        pgrp: 0,
        session: 0,
        tty_nr: 0,
        tpgid: -1,
        task_flags: 0,
        processor: 0,
        state: b'R',
        flags: 0,
        threads: 1,
        priority: 20,
        nice: 0,
        rt_priority: 0,
        policy: 0,
        exit_signal: 17,
        umask: UMASK_NONE,
        cmdline_len: 0,
        home_node: 0,
        home_pid: 0,
        utime_ns: 0,
        stime_ns: 0,
        cpu_ns: 0,
        start_ns: 0,
        minflt: 0,
        majflt: 0,
        vsize: 0,
        hiwater_vm: 0,
        rss_anon: 0,
        rss_file: 0,
        rss_shmem: 0,
        rss_bytes: 0,
        hiwater_rss: 0,
        text: 0,
        lib: 0,
        data: 0,
        stack: 0,
        locked: 0,
        pinned: 0,
        swap: 0,
        pte: 0,
        rsslim: u64::MAX,
        comm: [0; COMM_LEN],
        cmdline: [0; CMDLINE_LEN],
    };

    /// Its name, up to the first NUL.
    pub fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..n]
    }

    /// Its command line, raw: the NUL-separated arguments (with their
    /// final NUL) as `/proc/PID/cmdline` shows them.
    pub fn cmdline(&self) -> &[u8] {
        &self.cmdline[..usize::from(self.cmdline_len).min(CMDLINE_LEN)]
    }

    /// Its command line with the arguments joined by single spaces (the
    /// final NULs dropped), as `/proc/ssi/ps` shows it.
    pub fn cmdline_spaced(&self) -> impl Iterator<Item = u8> + '_ {
        let raw = self.cmdline();
        let n = raw.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
        raw[..n].iter().map(|&b| if b == 0 { b' ' } else { b })
    }

    /// Sets the command line from the raw bytes of `/proc/PID/cmdline`,
    /// cut at [`CMDLINE_LEN`].
    pub fn set_cmdline(&mut self, raw: &[u8]) {
        let n = raw.len().min(CMDLINE_LEN);
        self.cmdline[..n].copy_from_slice(&raw[..n]);
        self.cmdline[n..].fill(0);
        self.cmdline_len = n as u16;
    }

    /// Sets `utime_ns` and `stime_ns` from the total CPU time `cpu_ns` and
    /// the raw user and system times, in the ratio of the raw ones (as the
    /// kernel's `cputime_adjust`), and `cpu_ns`.
    pub fn set_cpu_time(&mut self, cpu_ns: u64, raw_utime: u64, raw_stime: u64) {
        let stime = if raw_stime == 0 {
            0
        } else if raw_utime == 0 {
            cpu_ns
        } else {
            scale(raw_stime, cpu_ns, raw_utime, raw_stime).min(cpu_ns)
        };
        self.stime_ns = stime;
        self.utime_ns = cpu_ns - stime;
        self.cpu_ns = cpu_ns;
    }

    /// Sets the resident memory (and `rss_bytes`, their sum, saturated).
    pub fn set_rss(&mut self, anon: u64, file: u64, shmem: u64) {
        self.rss_anon = anon;
        self.rss_file = file;
        self.rss_shmem = shmem;
        self.rss_bytes = anon.saturating_add(file).saturating_add(shmem);
    }

    /// Whether every field holds a value it may hold.
    pub fn is_valid(&self) -> bool {
        let rss = self
            .rss_anon
            .checked_add(self.rss_file)
            .and_then(|s| s.checked_add(self.rss_shmem));
        self.pid != 0
            && STATES.contains(&self.state)
            && self.flags & !ENTRY_MIGRATED == 0
            && self.threads != 0
            && (-101..=39).contains(&self.priority)
            && (-20..=19).contains(&self.nice)
            && self.rt_priority <= 99
            && self.policy <= MAX_POLICY
            && (-1..=64).contains(&self.exit_signal)
            && (self.umask <= 0o777 || self.umask == UMASK_NONE)
            && self.utime_ns.checked_add(self.stime_ns) == Some(self.cpu_ns)
            && rss == Some(self.rss_bytes)
            && self.hiwater_vm >= self.vsize
            && self.hiwater_rss >= self.rss_bytes
            && usize::from(self.cmdline_len) <= CMDLINE_LEN
            && self.cmdline[usize::from(self.cmdline_len)..]
                .iter()
                .all(|&b| b == 0)
            && ((self.flags & ENTRY_MIGRATED != 0) == (self.home_node != 0 && self.home_pid != 0))
            && (self.flags & ENTRY_MIGRATED != 0 || (self.home_node == 0 && self.home_pid == 0))
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        for v in [
            self.pid,
            self.ppid,
            self.uid,
            self.gid,
            self.euid,
            self.suid,
            self.fsuid,
            self.egid,
            self.sgid,
            self.fsgid,
            self.pgrp,
            self.session,
            self.tty_nr,
        ] {
            w.u32(v)?;
        }
        w.u32(self.tpgid as u32)?;
        w.u32(self.task_flags)?;
        w.u32(self.processor)?;
        w.u8(self.state)?;
        w.u8(self.flags)?;
        w.u16(self.threads)?;
        w.u32(self.priority as u32)?;
        w.u32(self.nice as u32)?;
        w.u32(self.rt_priority)?;
        w.u32(self.policy)?;
        w.u32(self.exit_signal as u32)?;
        w.u16(self.umask)?;
        w.u16(self.cmdline_len)?;
        w.u16(self.home_node)?;
        w.u16(0)?;
        w.u32(self.home_pid)?;
        for v in [
            self.utime_ns,
            self.stime_ns,
            self.start_ns,
            self.minflt,
            self.majflt,
            self.vsize,
            self.hiwater_vm,
            self.rss_anon,
            self.rss_file,
            self.rss_shmem,
            self.hiwater_rss,
            self.text,
            self.lib,
            self.data,
            self.stack,
            self.locked,
            self.pinned,
            self.swap,
            self.pte,
            self.rsslim,
        ] {
            w.u64(v)?;
        }
        w.bytes(&self.comm)?;
        w.bytes(&self.cmdline)?;
        Ok(())
    }

    fn read_from(r: &mut Reader<'_>) -> Result<ProcEntry, WireError> {
        let mut e = ProcEntry::EMPTY;
        for f in [
            &mut e.pid,
            &mut e.ppid,
            &mut e.uid,
            &mut e.gid,
            &mut e.euid,
            &mut e.suid,
            &mut e.fsuid,
            &mut e.egid,
            &mut e.sgid,
            &mut e.fsgid,
            &mut e.pgrp,
            &mut e.session,
            &mut e.tty_nr,
        ] {
            *f = r.u32()?;
        }
        e.tpgid = r.u32()? as i32;
        e.task_flags = r.u32()?;
        e.processor = r.u32()?;
        e.state = r.u8()?;
        e.flags = r.u8()?;
        e.threads = r.u16()?;
        e.priority = r.u32()? as i32;
        e.nice = r.u32()? as i32;
        e.rt_priority = r.u32()?;
        e.policy = r.u32()?;
        e.exit_signal = r.u32()? as i32;
        e.umask = r.u16()?;
        e.cmdline_len = r.u16()?;
        e.home_node = r.u16()?;
        if r.u16()? != 0 {
            return Err(WireError::InvalidValue);
        }
        e.home_pid = r.u32()?;
        for f in [
            &mut e.utime_ns,
            &mut e.stime_ns,
            &mut e.start_ns,
            &mut e.minflt,
            &mut e.majflt,
            &mut e.vsize,
            &mut e.hiwater_vm,
            &mut e.rss_anon,
            &mut e.rss_file,
            &mut e.rss_shmem,
            &mut e.hiwater_rss,
            &mut e.text,
            &mut e.lib,
            &mut e.data,
            &mut e.stack,
            &mut e.locked,
            &mut e.pinned,
            &mut e.swap,
            &mut e.pte,
            &mut e.rsslim,
        ] {
            *f = r.u64()?;
        }
        e.comm = r.array()?;
        e.cmdline = r.array()?;
        // The sums; an overflow fails the checks below.
        e.cpu_ns = e.utime_ns.wrapping_add(e.stime_ns);
        e.rss_bytes = e
            .rss_anon
            .wrapping_add(e.rss_file)
            .wrapping_add(e.rss_shmem);
        if !e.is_valid() {
            return Err(WireError::InvalidValue);
        }
        Ok(e)
    }
}

/// `part * total / (a + b)`, `part` being `a` or `b`, exactly, in 64-bit
/// arithmetic only (the kernel has no 128-bit division): the 128-bit
/// product divided bit by bit. A sum beyond 64 bits halves all three.
fn scale(part: u64, total: u64, a: u64, b: u64) -> u64 {
    let (mut part, mut a, mut b) = (part, a, b);
    while a.checked_add(b).is_none() {
        (part, a, b) = (part >> 1, a >> 1, b >> 1);
    }
    let div = a + b;
    if div == 0 {
        return 0;
    }
    // part * total as hi:lo.
    let (p1, p0) = (part >> 32, part & 0xffff_ffff);
    let (t1, t0) = (total >> 32, total & 0xffff_ffff);
    let mid = ((p1 * t0) & 0xffff_ffff) + ((p0 * t1) & 0xffff_ffff) + ((p0 * t0) >> 32);
    let lo = (mid << 32) | ((p0 * t0) & 0xffff_ffff);
    let hi = p1 * t1 + ((p1 * t0) >> 32) + ((p0 * t1) >> 32) + (mid >> 32);
    // Restoring division; the quotient fits 64 bits (part <= div).
    let (mut rem, mut q) = (0u64, 0u64);
    for i in (0..128).rev() {
        let bit = if i >= 64 {
            hi >> (i - 64) & 1
        } else {
            lo >> i & 1
        };
        let carry = rem >> 63;
        rem = (rem << 1) | bit;
        if carry == 1 || rem >= div {
            rem = rem.wrapping_sub(div);
            if i < 64 {
                q |= 1 << i;
            }
        }
    }
    q
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

fn write_shown(
    out: &mut impl fmt::Write,
    bytes: impl IntoIterator<Item = u8>,
    space_ok: bool,
) -> fmt::Result {
    for b in bytes {
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
            write_shown(f, e.comm().iter().copied(), false)?;
        }
        f.write_char(' ')?;
        let mut args = e.cmdline_spaced().peekable();
        if args.peek().is_none() {
            return f.write_char('-');
        }
        write_shown(f, args, true)
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
            ..ProcEntry::EMPTY
        };
        e.set_cpu_time(5_000_000, 3, 1);
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
    fn cmdline_raw_and_spaced() {
        let e = entry(7);
        assert_eq!(e.cmdline(), b"sleep\x00600\x00");
        assert_eq!(e.cmdline_spaced().collect::<Vec<u8>>(), b"sleep 600");
        assert_eq!(e.comm(), b"sleep");
        let mut long = ProcEntry::EMPTY;
        long.set_cmdline(&[b'a'; 600]);
        assert_eq!(long.cmdline().len(), CMDLINE_LEN);
        long.set_cmdline(b"\0\0");
        assert_eq!(long.cmdline(), b"\0\0");
        assert_eq!(long.cmdline_spaced().count(), 0);
    }

    #[test]
    fn cpu_time_split_as_cputime_adjust() {
        let mut e = ProcEntry::EMPTY;
        e.set_cpu_time(1000, 3, 1);
        assert_eq!((e.utime_ns, e.stime_ns, e.cpu_ns), (750, 250, 1000));
        e.set_cpu_time(1000, 0, 0);
        assert_eq!((e.utime_ns, e.stime_ns), (1000, 0));
        e.set_cpu_time(1000, 0, 7);
        assert_eq!((e.utime_ns, e.stime_ns), (0, 1000));
        e.set_cpu_time(u64::MAX, u64::MAX, u64::MAX);
        assert_eq!(e.utime_ns + e.stime_ns, u64::MAX);
        assert!(e.stime_ns.abs_diff(u64::MAX / 2) < u64::MAX / 1000);
        e.set_rss(4096, 8192, 0);
        assert_eq!(e.rss_bytes, 12288);
    }

    #[test]
    fn a_full_reply_fits_a_frame() {
        assert_eq!(ENTRY_LEN, 788);
        assert!(ProcListReply::len_of(MAX_ENTRIES) < super::super::wire::MAX_BODY as usize / 4);
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
        // Sums that do not add up, a nice value out of range, a peak below
        // its current value, a umask beyond 0o777.
        let mut e = entry(3);
        e.cpu_ns += 1;
        assert!(!e.is_valid());
        for bad in [
            ProcEntry {
                nice: 20,
                ..entry(3)
            },
            ProcEntry {
                hiwater_rss: 1,
                rss_anon: 2,
                rss_bytes: 2,
                ..entry(3)
            },
            ProcEntry {
                umask: 0o1000,
                ..entry(3)
            },
            ProcEntry {
                policy: 8,
                ..entry(3)
            },
        ] {
            assert!(!bad.is_valid(), "{bad:?}");
            assert!(ProcListReply::encode(false, &[bad], &mut buf).is_err());
        }
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
        // utime + stime overflowing on the wire.
        let n = ProcListReply::encode(false, &[entry(5)], &mut buf).unwrap();
        let utime_at = 4 + 100;
        buf[utime_at..utime_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
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
            (
                1u32..,
                any::<u32>(),
                any::<[u32; 6]>(),
                any::<[u32; 5]>(),
                any::<i32>(),
                prop::sample::select(STATES.to_vec()),
                1u16..,
                prop::option::of((1u16.., 1u32..)),
            ),
            (
                -101i32..=39,
                -20i32..=19,
                0u32..=99,
                0u32..=MAX_POLICY,
                -1i32..=64,
                prop_oneof![Just(UMASK_NONE), 0u16..=0o777],
            ),
            (
                any::<(u64, u64, u64)>(),
                any::<[u64; 4]>(),
                any::<[u64; 8]>(),
                any::<[u32; 3]>(),
                any::<(u64, u64)>(),
            ),
            any::<[u8; COMM_LEN]>(),
            prop::collection::vec(any::<u8>(), 0..600),
        )
            .prop_map(
                |(
                    (
                        pid,
                        ppid,
                        ids,
                        [pgrp, session, tty_nr, task_flags, processor],
                        tpgid,
                        state,
                        threads,
                        home,
                    ),
                    (priority, nice, rt_priority, policy, exit_signal, umask),
                    (
                        (cpu_ns, raw_u, raw_s),
                        [start_ns, minflt, majflt, rsslim],
                        sizes,
                        [anon, file, shmem],
                        (vm_more, hwm_more),
                    ),
                    comm,
                    cmd,
                )| {
                    let [uid, gid, euid, egid, suid, sgid] = ids;
                    let [vsize, text, lib, data, stack, locked, swap, pte] = sizes;
                    let mut e = ProcEntry {
                        pid,
                        ppid,
                        uid,
                        gid,
                        euid,
                        egid,
                        suid,
                        sgid,
                        fsuid: euid,
                        fsgid: egid,
                        pgrp,
                        session,
                        tty_nr,
                        tpgid,
                        task_flags,
                        processor,
                        state,
                        threads,
                        priority,
                        nice,
                        rt_priority,
                        policy,
                        exit_signal,
                        umask,
                        start_ns,
                        minflt,
                        majflt,
                        vsize,
                        hiwater_vm: vsize.saturating_add(vm_more),
                        text,
                        lib,
                        data,
                        stack,
                        locked,
                        pinned: locked / 2,
                        swap,
                        pte,
                        rsslim,
                        comm,
                        ..ProcEntry::EMPTY
                    };
                    e.set_cpu_time(cpu_ns, raw_u, raw_s);
                    e.set_rss(
                        u64::from(anon) << 12,
                        u64::from(file) << 12,
                        u64::from(shmem) << 12,
                    );
                    e.hiwater_rss = e.rss_bytes.saturating_add(hwm_more);
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
                prop_assert!(e.is_valid());
                let line = ProcLine { node: 1, entry: e }.to_string();
                prop_assert!(!line.contains('\n'));
                prop_assert!(line.splitn(14, ' ').count() == 14);
            }
        }

        #[test]
        fn cpu_split_close_to_exact(cpu in any::<u64>(), u in 1u64.., s in 1u64..) {
            let mut e = ProcEntry::EMPTY;
            e.set_cpu_time(cpu, u, s);
            prop_assert_eq!(e.utime_ns + e.stime_ns, cpu);
            let exact = (u128::from(cpu) * u128::from(s) / (u128::from(u) + u128::from(s))) as u64;
            // Exact, but for sums of the raw times beyond 64 bits.
            let slack = if u.checked_add(s).is_none() { (cpu >> 60) + 2 } else { 0 };
            prop_assert!(e.stime_ns.abs_diff(exact) <= slack, "{} vs {}", e.stime_ns, exact);
        }

        #[test]
        fn decode_never_panics(body in prop::collection::vec(any::<u8>(), 0..2000)) {
            let _ = ProcListReply::decode(&body).map(|r| r.iter().count());
            let _ = ProcListRequest::decode(&body);
        }
    }
}
