//! Signals anywhere (issue 20): `kill(pid, sig)` and `kill(-pgid, sig)`
//! of a cluster-wide pid that is not on the sender's node are carried to
//! the pid's home node (the owner of its slot, [`pid_range`]) as a
//! `ProcSignal` request, and delivered there with the sender's identity.
//!
//! Here: which `kill` arguments are routed and where ([`route`]), the
//! permission rule of the kernel's `kill_ok_by_cred` over the sender's and
//! the target's credentials ([`may_signal`]), a group's outcome
//! ([`group_outcome`]), and the request and reply bodies.
//!
//! [`pid_range`]: super::pid_range

use super::le::{Reader, Writer};
use super::pid_range;
use super::wire::WireError;

/// The highest signal number (`_NSIG` is 64 on x86-64); 0 only checks.
pub const MAX_SIGNAL: u8 = 64;
/// Encoded length of a request.
pub const REQUEST_LEN: usize = 20;
/// Encoded length of a reply.
pub const REPLY_LEN: usize = 8;
/// Flag of a request: the sender has `CAP_KILL` (in the initial user
/// namespace), so it may signal any process.
pub const FLAG_CAP_KILL: u16 = 1;
const KNOWN_FLAGS: u16 = FLAG_CAP_KILL;

/// What a `kill` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `kill(pid, ..)` with `pid > 0`: the process with that pid (any
    /// thread id of it, as the kernel allows).
    Process(u32),
    /// `kill(-pgid, ..)` with `pgid > 1`: every process of the group.
    Group(u32),
}

impl Target {
    /// The target of `kill(pid, ..)`; `None` for the forms that are never
    /// routed: 0 (the caller's group), -1 (every process) and `i32::MIN`
    /// (which the kernel refuses).
    pub fn of_kill_arg(pid: i32) -> Option<Target> {
        match pid {
            p if p > 0 => Some(Target::Process(p as u32)),
            0 | -1 | i32::MIN => None,
            p => Some(Target::Group(p.unsigned_abs())),
        }
    }

    /// The pid (or process group id) named.
    pub fn id(self) -> u32 {
        match self {
            Target::Process(p) | Target::Group(p) => p,
        }
    }
}

/// Where a `kill` that found nothing on this node goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Not routed: the kernel's own `kill` answers (a node-local pid,
    /// one of this node's own slot, or a form never routed).
    Local,
    /// To the home node of the pid.
    Home(u16),
}

/// Where `kill(pid, ..)` goes from node `own` when the pid is not found
/// on it: the home node of a cluster-wide pid of another node's slot,
/// else nowhere.
pub fn route(pid: i32, own: u16) -> Route {
    let Some(t) = Target::of_kill_arg(pid) else {
        return Route::Local;
    };
    match pid_range::node_of(t.id()) {
        Some(n) if n != u32::from(own) => Route::Home(n as u16),
        _ => Route::Local,
    }
}

/// Whether `sig` is a signal number `kill` accepts (0 checks only).
pub fn is_valid_signal(sig: i32) -> bool {
    (0..=i32::from(MAX_SIGNAL)).contains(&sig)
}

/// Who sends a routed signal, as its node saw it (ids of the initial
/// namespaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// Its process id (tgid), which the signal carries as `si_pid`.
    pub pid: u32,
    /// Real uid, carried as `si_uid`.
    pub uid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Whether it has `CAP_KILL`.
    pub cap_kill: bool,
}

/// The credentials of a process a signal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetCreds {
    /// Real uid.
    pub uid: u32,
    /// Saved set-user-id.
    pub suid: u32,
}

/// Whether `s` may signal a process with credentials `t`: the rule of
/// the kernel's `kill_ok_by_cred` (kernel/signal.c): the sender's
/// effective or real uid is the target's real or saved uid, or the sender
/// has `CAP_KILL`.
pub fn may_signal(s: &Sender, t: &TargetCreds) -> bool {
    s.cap_kill || s.euid == t.suid || s.euid == t.uid || s.uid == t.suid || s.uid == t.uid
}

/// The outcome of a routed signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered to (or, for signal 0, checked on) this many processes.
    Delivered(u32),
    /// The target exists but the sender may signal none of it (`EPERM`).
    NotPermitted,
    /// No such process or group (`ESRCH`).
    NoSuchProcess,
    /// The request was refused as invalid (`EINVAL`).
    Invalid,
}

impl Outcome {
    /// What `kill` returns: 0 or a negative errno.
    pub fn to_kill_result(self) -> i32 {
        match self {
            Outcome::Delivered(_) => 0,
            Outcome::NotPermitted => -1,
            Outcome::NoSuchProcess => -3,
            Outcome::Invalid => -22,
        }
    }

    fn code(self) -> u8 {
        match self {
            Outcome::Delivered(_) => 0,
            Outcome::NotPermitted => 1,
            Outcome::NoSuchProcess => 2,
            Outcome::Invalid => 3,
        }
    }
}

/// A group's outcome from how many processes are in it and how many of
/// them the sender may signal, as the kernel's `__kill_pgrp_info` answers:
/// success if any got it, else `EPERM`, and `ESRCH` for an empty group.
pub fn group_outcome(members: u32, allowed: u32) -> Outcome {
    match (members, allowed) {
        (0, _) => Outcome::NoSuchProcess,
        (_, 0) => Outcome::NotPermitted,
        (_, a) => Outcome::Delivered(a),
    }
}

/// `ProcSignal`: deliver `sig` to `target` on the receiving node (its
/// home), on behalf of `sender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalRequest {
    /// What to signal: a cluster-wide pid or group id.
    pub target: Target,
    /// The signal, 0..=[`MAX_SIGNAL`].
    pub sig: u8,
    /// Who sends it.
    pub sender: Sender,
}

impl SignalRequest {
    fn check(&self) -> Result<(), WireError> {
        let id = self.target.id();
        if self.sig > MAX_SIGNAL || !pid_range::is_cluster_wide(id) || id > i32::MAX as u32 {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    /// Writes the request into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let (kind, id) = match self.target {
            Target::Process(p) => (1u8, p),
            Target::Group(g) => (2u8, g),
        };
        let mut w = Writer::new(out);
        w.u8(kind)?;
        w.u8(self.sig)?;
        w.u16(if self.sender.cap_kill {
            FLAG_CAP_KILL
        } else {
            0
        })?;
        w.u32(id)?;
        w.u32(self.sender.pid)?;
        w.u32(self.sender.uid)?;
        w.u32(self.sender.euid)?;
        Ok(w.pos())
    }

    /// Decodes a request; unknown kinds and flags, signals above
    /// [`MAX_SIGNAL`] and targets outside the cluster-wide pids are
    /// refused.
    pub fn decode(body: &[u8]) -> Result<SignalRequest, WireError> {
        let mut r = Reader::new(body);
        let kind = r.u8()?;
        let sig = r.u8()?;
        let flags = r.u16()?;
        let id = r.u32()?;
        let sender = Sender {
            pid: r.u32()?,
            uid: r.u32()?,
            euid: r.u32()?,
            cap_kill: flags & FLAG_CAP_KILL != 0,
        };
        r.finish()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(WireError::BadFlags);
        }
        let target = match kind {
            1 => Target::Process(id),
            2 => Target::Group(id),
            _ => return Err(WireError::InvalidValue),
        };
        let q = SignalRequest {
            target,
            sig,
            sender,
        };
        q.check()?;
        Ok(q)
    }
}

/// The reply to `ProcSignal`: the [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalReply(pub Outcome);

impl SignalReply {
    /// Writes the reply into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let count = match self.0 {
            Outcome::Delivered(n) => n,
            _ => 0,
        };
        let mut w = Writer::new(out);
        w.u8(self.0.code())?;
        w.bytes(&[0; 3])?;
        w.u32(count)?;
        Ok(w.pos())
    }

    /// Decodes a reply; an unknown outcome, non-zero reserved bytes or a
    /// count on a failure are refused.
    pub fn decode(body: &[u8]) -> Result<SignalReply, WireError> {
        let mut r = Reader::new(body);
        let code = r.u8()?;
        let reserved = r.array::<3>()?;
        let count = r.u32()?;
        r.finish()?;
        if reserved != [0; 3] {
            return Err(WireError::BadReserved);
        }
        let o = match (code, count) {
            (0, n) => Outcome::Delivered(n),
            (1, 0) => Outcome::NotPermitted,
            (2, 0) => Outcome::NoSuchProcess,
            (3, 0) => Outcome::Invalid,
            _ => return Err(WireError::InvalidValue),
        };
        Ok(SignalReply(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOT: Sender = Sender {
        pid: 70000,
        uid: 0,
        euid: 0,
        cap_kill: true,
    };
    const NOBODY: Sender = Sender {
        pid: 70001,
        uid: 65534,
        euid: 65534,
        cap_kill: false,
    };

    #[test]
    fn kill_arguments() {
        assert_eq!(Target::of_kill_arg(131072), Some(Target::Process(131072)));
        assert_eq!(Target::of_kill_arg(-131072), Some(Target::Group(131072)));
        assert_eq!(Target::of_kill_arg(0), None);
        assert_eq!(Target::of_kill_arg(-1), None);
        assert_eq!(Target::of_kill_arg(i32::MIN), None);
        assert_eq!(
            Target::of_kill_arg(i32::MAX),
            Some(Target::Process(i32::MAX as u32))
        );
    }

    #[test]
    fn routes() {
        // Node-local pids and the forms with no single target stay here.
        for pid in [0, -1, 1, 300, 65535, -65535, -2, i32::MIN] {
            assert_eq!(route(pid, 1), Route::Local, "{pid}");
        }
        // Own slot: the kernel answers (ESRCH if it is gone).
        assert_eq!(route(65536, 1), Route::Local);
        assert_eq!(route(-131071, 1), Route::Local);
        assert_eq!(route(131072, 1), Route::Home(2));
        assert_eq!(route(-131072, 1), Route::Home(2));
        assert_eq!(route(63 * 65536, 1), Route::Home(63));
        // Beyond the last slot there is no home.
        assert_eq!(route(64 * 65536, 1), Route::Local);
        assert_eq!(route(i32::MAX, 1), Route::Local);
        // A node with no slot routes every slot's pids.
        assert_eq!(route(65536, 100), Route::Home(1));
    }

    #[test]
    fn signals() {
        assert!(is_valid_signal(0) && is_valid_signal(9) && is_valid_signal(64));
        assert!(!is_valid_signal(-1) && !is_valid_signal(65));
    }

    #[test]
    fn permission_is_kill_ok_by_cred() {
        let root_proc = TargetCreds { uid: 0, suid: 0 };
        let nobody_proc = TargetCreds {
            uid: 65534,
            suid: 65534,
        };
        assert!(may_signal(&ROOT, &nobody_proc));
        assert!(may_signal(&NOBODY, &nobody_proc));
        assert!(!may_signal(&NOBODY, &root_proc));
        // Root without CAP_KILL is just uid 0.
        let plain_root = Sender {
            cap_kill: false,
            ..ROOT
        };
        assert!(plain_root.uid == 0 && !may_signal(&plain_root, &nobody_proc));
        // A setuid program's saved uid still lets its invoker signal it.
        let setuid = TargetCreds { uid: 0, suid: 1000 };
        let user = Sender {
            pid: 70002,
            uid: 1000,
            euid: 1000,
            cap_kill: false,
        };
        assert!(may_signal(&user, &setuid));
        // Effective uid against real uid.
        let su = Sender {
            uid: 1000,
            euid: 65534,
            ..user
        };
        assert!(may_signal(&su, &nobody_proc));
    }

    #[test]
    fn groups() {
        assert_eq!(group_outcome(0, 0), Outcome::NoSuchProcess);
        assert_eq!(group_outcome(3, 0), Outcome::NotPermitted);
        assert_eq!(group_outcome(3, 2), Outcome::Delivered(2));
        assert_eq!(Outcome::NotPermitted.to_kill_result(), -1);
        assert_eq!(Outcome::NoSuchProcess.to_kill_result(), -3);
        assert_eq!(Outcome::Delivered(0).to_kill_result(), 0);
    }

    #[test]
    fn request_round_trip_and_refusals() {
        let q = SignalRequest {
            target: Target::Group(131072),
            sig: 15,
            sender: NOBODY,
        };
        let mut buf = [0u8; REQUEST_LEN];
        assert_eq!(q.encode(&mut buf), Ok(REQUEST_LEN));
        assert_eq!(SignalRequest::decode(&buf), Ok(q));
        assert_eq!(SignalRequest::decode(&buf[..19]), Err(WireError::Truncated));
        let mut long = [0u8; REQUEST_LEN + 1];
        long[..REQUEST_LEN].copy_from_slice(&buf);
        assert_eq!(SignalRequest::decode(&long), Err(WireError::TrailingBytes));
        let with = |i: usize, v: u8| {
            let mut b = buf;
            b[i] = v;
            SignalRequest::decode(&b)
        };
        assert_eq!(with(0, 3), Err(WireError::InvalidValue)); // kind
        assert_eq!(with(1, 65), Err(WireError::InvalidValue)); // signal
        assert_eq!(with(2, 2), Err(WireError::BadFlags));
        assert_eq!(with(6, 0), Err(WireError::InvalidValue)); // pid 0x0000_0000 + ...: slot 0
        for bad in [
            Target::Process(300),
            Target::Group(1),
            Target::Process(u32::MAX),
        ] {
            let b = SignalRequest { target: bad, ..q };
            assert_eq!(b.encode(&mut buf), Err(WireError::InvalidValue));
        }
        assert_eq!(q.encode(&mut [0u8; 10]), Err(WireError::BufferTooSmall));
    }

    #[test]
    fn reply_round_trip_and_refusals() {
        let mut buf = [0u8; REPLY_LEN];
        for o in [
            Outcome::Delivered(0),
            Outcome::Delivered(7),
            Outcome::NotPermitted,
            Outcome::NoSuchProcess,
            Outcome::Invalid,
        ] {
            assert_eq!(SignalReply(o).encode(&mut buf), Ok(REPLY_LEN));
            assert_eq!(SignalReply::decode(&buf), Ok(SignalReply(o)));
        }
        SignalReply(Outcome::NotPermitted).encode(&mut buf).unwrap();
        let mut b = buf;
        b[4] = 1;
        assert_eq!(SignalReply::decode(&b), Err(WireError::InvalidValue)); // a count on a failure
        let mut b = buf;
        b[0] = 4;
        assert_eq!(SignalReply::decode(&b), Err(WireError::InvalidValue));
        let mut b = buf;
        b[2] = 1;
        assert_eq!(SignalReply::decode(&b), Err(WireError::BadReserved));
        assert_eq!(SignalReply::decode(&buf[..7]), Err(WireError::Truncated));
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(q) = SignalRequest::decode(&body) {
                let mut buf = [0u8; REQUEST_LEN];
                prop_assert_eq!(q.encode(&mut buf), Ok(REQUEST_LEN));
                prop_assert_eq!(&buf[..], &body[..]);
            }
            if let Ok(r) = SignalReply::decode(&body) {
                let mut buf = [0u8; REPLY_LEN];
                prop_assert_eq!(r.encode(&mut buf), Ok(REPLY_LEN));
                prop_assert_eq!(&buf[..], &body[..]);
            }
        }

        #[test]
        fn requests_round_trip(kind in 1u8..=2, id in 65536u32..=(i32::MAX as u32), sig in 0u8..=64,
                               pid: u32, uid: u32, euid: u32, cap_kill: bool) {
            let target = if kind == 1 { Target::Process(id) } else { Target::Group(id) };
            let q = SignalRequest { target, sig, sender: Sender { pid, uid, euid, cap_kill } };
            let mut buf = [0u8; REQUEST_LEN];
            prop_assert_eq!(q.encode(&mut buf), Ok(REQUEST_LEN));
            prop_assert_eq!(SignalRequest::decode(&buf), Ok(q));
        }

        #[test]
        fn routed_pids_leave_their_slot(pid: i32, own in 1u16..=63) {
            match route(pid, own) {
                Route::Home(n) => {
                    prop_assert!(n != own && (1..=63).contains(&n));
                    prop_assert_eq!(u32::from(n), pid.unsigned_abs() >> 16);
                    prop_assert!(pid.unsigned_abs() >= 65536 && pid != i32::MIN && pid != -1);
                }
                Route::Local => {}
            }
        }

        #[test]
        fn root_with_cap_kill_may_signal_anyone(uid: u32, suid: u32) {
            let t = TargetCreds { uid, suid };
            prop_assert!(may_signal(&ROOT, &t));
        }
    }
}
