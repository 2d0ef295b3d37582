//! Bodies of the per-process and per-thread sections: [`ProcessBody`]
//! (identity, credentials, limits, timers), [`ThreadBody`] (registers
//! and per-thread state) and [`SignalsBody`] (handlers and pending
//! signals).

use super::super::le::{Reader, Writer};
use super::codec::*;
use super::consts::*;
use super::error::ImageError;

/// Credentials of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Creds {
    /// Real uid.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Saved uid.
    pub suid: u32,
    /// File-system uid.
    pub fsuid: u32,
    /// Real gid.
    pub gid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved gid.
    pub sgid: u32,
    /// File-system gid.
    pub fsgid: u32,
}

/// Capability sets (bit `n` is capability `n`). Not checked against one
/// another here: restart applies the kernel's own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    /// Inheritable set.
    pub inheritable: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Effective set.
    pub effective: u64,
    /// Bounding set.
    pub bounding: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// One resource limit (`RLIM_INFINITY` is `u64::MAX`); `cur <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rlimit {
    /// Soft limit.
    pub cur: u64,
    /// Hard limit.
    pub max: u64,
}

/// One interval timer, in nanoseconds (0 value = disarmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Itimer {
    /// Reload interval.
    pub interval_ns: u64,
    /// Time left until it fires.
    pub value_ns: u64,
}

/// The three interval timers of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Itimers {
    /// `ITIMER_REAL`.
    pub real: Itimer,
    /// `ITIMER_VIRTUAL`.
    pub virt: Itimer,
    /// `ITIMER_PROF`.
    pub prof: Itimer,
}

/// Process section: identity, credentials, limits and file-system context
/// of the process (the thread group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessBody<'a> {
    /// Original pid (the thread-group id as userspace sees it); equals
    /// [`ImageHeader::pid`](super::ImageHeader::pid); not 0.
    pub pid: u32,
    /// Thread-group id in the kernel; not 0.
    pub tgid: u32,
    /// Cluster-wide pid.
    pub global_pid: u64,
    /// Node the process belongs to.
    pub home_node: u32,
    /// Number of Thread sections (1..=[`MAX_THREADS`]).
    pub nr_threads: u32,
    /// Task name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// When the checkpoint was taken (`CLOCK_MONOTONIC`, ns), to rebase
    /// timers.
    pub checkpoint_ns: u64,
    /// Credentials; `creds.uid` equals [`ImageHeader::uid`](super::ImageHeader::uid).
    pub creds: Creds,
    /// Capability sets.
    pub caps: Caps,
    /// Resource limits, in `RLIMIT_*` order.
    pub rlimits: [Rlimit; RLIM_NLIMITS],
    /// Interval timers.
    pub itimers: Itimers,
    /// `securebits`.
    pub securebits: u32,
    /// `personality`.
    pub personality: u32,
    /// File-mode creation mask (at most 0o777).
    pub umask: u32,
    /// Signal sent to the parent on exit (0..=NSIG).
    pub exit_signal: u32,
    /// Signal received when the parent dies (0..=NSIG).
    pub pdeath_signal: u32,
    /// `no_new_privs`.
    pub no_new_privs: bool,
    /// Supplementary groups (at most [`MAX_GROUPS`]).
    pub groups: RecordList<'a, u32>,
    /// The executable.
    pub exe: FileRef<'a>,
    /// Current directory (absolute path).
    pub cwd: &'a [u8],
    /// Root directory (absolute path).
    pub root: &'a [u8],
    /// When the process started, in ns of the wall clock
    /// (`CLOCK_REALTIME`; 0: unknown): a restart keeps its age, so `ps`
    /// shows its own start time.
    pub start_ns: u64,
}

impl<'a> ProcessBody<'a> {
    /// Encoded length of the fixed fields, up to and including the group
    /// count.
    pub const FIXED_LEN: usize =
        4 + 4 + 8 + 4 + 4 + COMM_LEN + 8 + 32 + 40 + RLIM_NLIMITS * 16 + 48 + 5 * 4 + 1 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize =
        ProcessBody::FIXED_LEN + MAX_GROUPS * 4 + FileRef::MAX_LEN + 2 * (2 + MAX_PATH) + 8;

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.pid == 0 || self.tgid == 0 || self.nr_threads == 0 {
            return Err(ImageError::InvalidValue);
        }
        if self.nr_threads > MAX_THREADS {
            return Err(ImageError::CountTooLarge);
        }
        if self.umask > 0o777 || !signal_ok(self.exit_signal) || !signal_ok(self.pdeath_signal) {
            return Err(ImageError::InvalidValue);
        }
        if self.rlimits.iter().any(|l| l.cur > l.max) {
            return Err(ImageError::InvalidValue);
        }
        if !self.groups.is_whole() {
            return Err(ImageError::InvalidValue);
        }
        if self.groups.len() > MAX_GROUPS {
            return Err(ImageError::CountTooLarge);
        }
        self.exe.validate()?;
        check_path(self.cwd)?;
        check_path(self.root)
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        ProcessBody::FIXED_LEN
            .saturating_add(self.groups.encoded_len())
            .saturating_add(self.exe.encoded_len())
            .saturating_add(path_len(self.cwd))
            .saturating_add(path_len(self.root))
            .saturating_add(8)
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.pid)?;
        w.u32(self.tgid)?;
        w.u64(self.global_pid)?;
        w.u32(self.home_node)?;
        w.u32(self.nr_threads)?;
        w.bytes(&self.comm)?;
        w.u64(self.checkpoint_ns)?;
        let c = &self.creds;
        for v in [
            c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid,
        ] {
            w.u32(v)?;
        }
        let c = &self.caps;
        for v in [
            c.inheritable,
            c.permitted,
            c.effective,
            c.bounding,
            c.ambient,
        ] {
            w.u64(v)?;
        }
        for l in &self.rlimits {
            w.u64(l.cur)?;
            w.u64(l.max)?;
        }
        let t = &self.itimers;
        for timer in [t.real, t.virt, t.prof] {
            w.u64(timer.interval_ns)?;
            w.u64(timer.value_ns)?;
        }
        w.u32(self.securebits)?;
        w.u32(self.personality)?;
        w.u32(self.umask)?;
        w.u32(self.exit_signal)?;
        w.u32(self.pdeath_signal)?;
        w.u8(u8::from(self.no_new_privs))?;
        w.count(self.groups.len())?;
        self.groups.write(w)?;
        self.exe.write_to(w)?;
        w.path(self.cwd)?;
        w.path(self.root)?;
        w.u64(self.start_ns)?;
        Ok(())
    }

    fn read_from(r: &mut Reader<'a>) -> Result<ProcessBody<'a>, ImageError> {
        let pid = r.u32()?;
        let tgid = r.u32()?;
        let global_pid = r.u64()?;
        let home_node = r.u32()?;
        let nr_threads = r.u32()?;
        let comm = r.array()?;
        let checkpoint_ns = r.u64()?;
        let creds = Creds {
            uid: r.u32()?,
            euid: r.u32()?,
            suid: r.u32()?,
            fsuid: r.u32()?,
            gid: r.u32()?,
            egid: r.u32()?,
            sgid: r.u32()?,
            fsgid: r.u32()?,
        };
        let caps = Caps {
            inheritable: r.u64()?,
            permitted: r.u64()?,
            effective: r.u64()?,
            bounding: r.u64()?,
            ambient: r.u64()?,
        };
        let mut rlimits = [Rlimit::default(); RLIM_NLIMITS];
        for l in rlimits.iter_mut() {
            l.cur = r.u64()?;
            l.max = r.u64()?;
        }
        let mut timers = [Itimer::default(); 3];
        for t in timers.iter_mut() {
            t.interval_ns = r.u64()?;
            t.value_ns = r.u64()?;
        }
        let [real, virt, prof] = timers;
        let securebits = r.u32()?;
        let personality = r.u32()?;
        let umask = r.u32()?;
        let exit_signal = r.u32()?;
        let pdeath_signal = r.u32()?;
        let no_new_privs = r.bool()?;
        let ngroups = r.count(MAX_GROUPS)?;
        let groups = RecordList::read(r, ngroups)?;
        let exe = FileRef::read_from(r)?;
        let cwd = r.path()?;
        let root = r.path()?;
        let start_ns = r.u64()?;
        Ok(ProcessBody {
            pid,
            tgid,
            global_pid,
            home_node,
            nr_threads,
            comm,
            checkpoint_ns,
            creds,
            caps,
            rlimits,
            itimers: Itimers { real, virt, prof },
            securebits,
            personality,
            umask,
            exit_signal,
            pdeath_signal,
            no_new_privs,
            groups,
            exe,
            cwd,
            root,
            start_ns,
        })
    }
}

body_codec!(ProcessBody);

/// A thread's alternate signal stack (`sigaltstack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AltStack {
    /// `ss_sp`.
    pub sp: u64,
    /// `ss_size`.
    pub size: u64,
    /// `ss_flags` (only [`KNOWN_ALTSTACK_FLAGS`]).
    pub flags: u32,
}

/// A thread's registered restartable-sequences area (`rseq`); all zero if
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rseq {
    /// User address of `struct rseq`.
    pub addr: u64,
    /// Registered length.
    pub len: u32,
    /// Signature.
    pub sig: u32,
}

/// Thread section: one thread's registers and per-thread state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadBody<'a> {
    /// Original thread id; not 0.
    pub tid: u32,
    /// Position in the image's thread list: 0 is the thread-group leader,
    /// then 1, 2, ... (below [`MAX_THREADS`]).
    pub index: u32,
    /// Thread name, NUL-padded.
    pub comm: [u8; COMM_LEN],
    /// General registers in `user_regs_struct` order; see `REG_*`. Checked
    /// by restart as `PTRACE_SETREGS` would check them, not here.
    pub regs: [u64; NR_REGS],
    /// Blocked signals: bit `n - 1` is signal `n`.
    pub sigmask: u64,
    /// `clear_child_tid` address.
    pub clear_child_tid: u64,
    /// `set_robust_list` head address (0 if none).
    pub robust_list_head: u64,
    /// `set_robust_list` length.
    pub robust_list_len: u64,
    /// Registered `rseq` area.
    pub rseq: Rseq,
    /// Alternate signal stack.
    pub altstack: AltStack,
    /// Signals pending for this thread only (at most
    /// [`MAX_PENDING_SIGNALS`]).
    pub pending: SigInfoList<'a>,
    /// FPU/vector state, in `NT_X86_XSTATE` regset layout (opaque here; at
    /// most [`MAX_XSTATE`] bytes).
    pub xstate: &'a [u8],
}

impl<'a> ThreadBody<'a> {
    /// Encoded length of the fixed fields, up to and including the pending
    /// count.
    pub const FIXED_LEN: usize = 4 + 4 + COMM_LEN + NR_REGS * 8 + 5 * 8 + 4 + 4 + 8 + 8 + 4 + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize =
        ThreadBody::FIXED_LEN + MAX_PENDING_SIGNALS * SIGINFO_LEN + 4 + MAX_XSTATE;

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), ImageError> {
        if self.tid == 0 || self.index >= MAX_THREADS {
            return Err(ImageError::InvalidValue);
        }
        if self.altstack.flags & !KNOWN_ALTSTACK_FLAGS != 0 {
            return Err(ImageError::InvalidFlags);
        }
        check_pending(&self.pending)?;
        if self.xstate.len() > MAX_XSTATE {
            return Err(ImageError::CountTooLarge);
        }
        Ok(())
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        ThreadBody::FIXED_LEN
            .saturating_add(self.pending.encoded_len())
            .saturating_add(4)
            .saturating_add(self.xstate.len())
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        w.u32(self.tid)?;
        w.u32(self.index)?;
        w.bytes(&self.comm)?;
        for reg in &self.regs {
            w.u64(*reg)?;
        }
        w.u64(self.sigmask)?;
        w.u64(self.clear_child_tid)?;
        w.u64(self.robust_list_head)?;
        w.u64(self.robust_list_len)?;
        w.u64(self.rseq.addr)?;
        w.u32(self.rseq.len)?;
        w.u32(self.rseq.sig)?;
        w.u64(self.altstack.sp)?;
        w.u64(self.altstack.size)?;
        w.u32(self.altstack.flags)?;
        w.count(self.pending.len())?;
        self.pending.write(w)?;
        w.count(self.xstate.len())?;
        Ok(w.bytes(self.xstate)?)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<ThreadBody<'a>, ImageError> {
        let tid = r.u32()?;
        let index = r.u32()?;
        let comm = r.array()?;
        let mut regs = [0u64; NR_REGS];
        for reg in regs.iter_mut() {
            *reg = r.u64()?;
        }
        let sigmask = r.u64()?;
        let clear_child_tid = r.u64()?;
        let robust_list_head = r.u64()?;
        let robust_list_len = r.u64()?;
        let rseq = Rseq {
            addr: r.u64()?,
            len: r.u32()?,
            sig: r.u32()?,
        };
        let altstack = AltStack {
            sp: r.u64()?,
            size: r.u64()?,
            flags: r.u32()?,
        };
        let npending = r.count(MAX_PENDING_SIGNALS)?;
        let pending = RecordList::read(r, npending)?;
        let xstate_len = r.count(MAX_XSTATE)?;
        let xstate = r.bytes(xstate_len)?;
        Ok(ThreadBody {
            tid,
            index,
            comm,
            regs,
            sigmask,
            clear_child_tid,
            robust_list_head,
            robust_list_len,
            rseq,
            altstack,
            pending,
            xstate,
        })
    }
}

body_codec!(ThreadBody);

/// Signals section: process-wide signal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalsBody<'a> {
    /// Exactly [`NSIG`] dispositions; entry `n - 1` is signal `n`.
    pub handlers: RecordList<'a, SigAction>,
    /// Signals pending for the whole process (at most
    /// [`MAX_PENDING_SIGNALS`]).
    pub pending: SigInfoList<'a>,
}

impl<'a> SignalsBody<'a> {
    /// Encoded length of the fixed fields (handlers and pending count).
    pub const FIXED_LEN: usize = NSIG * SigAction::LEN + 4;
    /// Largest encoded length.
    pub const MAX_LEN: usize = SignalsBody::FIXED_LEN + MAX_PENDING_SIGNALS * SIGINFO_LEN;

    /// The disposition of signal `signo` (1..=NSIG).
    pub fn handler(&self, signo: usize) -> Option<SigAction> {
        self.handlers.get(signo.checked_sub(1)?)
    }

    /// Checks the handler count and the pending queue.
    pub fn validate(&self) -> Result<(), ImageError> {
        if !self.handlers.is_whole() || self.handlers.len() != NSIG {
            return Err(ImageError::InvalidValue);
        }
        check_pending(&self.pending)
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        self.handlers
            .encoded_len()
            .saturating_add(4)
            .saturating_add(self.pending.encoded_len())
    }

    pub(super) fn write_to(&self, w: &mut Writer<'_>) -> Result<(), ImageError> {
        self.handlers.write(w)?;
        w.count(self.pending.len())?;
        self.pending.write(w)
    }

    fn read_from(r: &mut Reader<'a>) -> Result<SignalsBody<'a>, ImageError> {
        let handlers = RecordList::read(r, NSIG)?;
        let npending = r.count(MAX_PENDING_SIGNALS)?;
        let pending = RecordList::read(r, npending)?;
        Ok(SignalsBody { handlers, pending })
    }
}

body_codec!(SignalsBody);
