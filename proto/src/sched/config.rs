//! The cluster-wide scheduler configuration ([`Config`]): the probes',
//! filters' and policies' parameters ([`Params`]) and up to
//! [`MAX_SCHEDULERS`] [`Scheduler`]s, each a policy with its process set
//! and node set; its validation ([`ConfigError`]) and its wire codec.
//!
//! A change made on one node bumps the generation ([`Config::bump`]) and
//! is sent to every node; a node takes a configuration that
//! [`Config::supersedes`] its own (higher generation, then higher origin
//! node id for two changes made at once).
//!
//! Body layout (little-endian; [`HEADER_LEN`] bytes, then
//! [`SCHEDULER_LEN`] per scheduler):
//!
//! ```text
//! off len
//! 0   1   version = CONFIG_VERSION
//! 1   1   schedulers (0..=MAX_SCHEDULERS)
//! 2   2   origin: the node that made the change (1..=4095)
//! 4   4   zero
//! 8   8   generation
//! 16  20  load: period_ms mean_half_life_ms upper_half_life_ms upper_rise settle
//! 36  20  report: load_threshold mem_threshold_per_mille min_interval_ms
//!             max_silence_ms max_age_ms
//! 56  16  balance: margin busy_above min_residency_ms return_after_ms
//! 72  8   place: busy_above min_gain
//! 80  12  memory: low_per_mille high_per_mille min_residency_ms
//! 92  12  cost: bandwidth_kib_s freeze_ms max_ms
//! 104 8   strategy: small_max_bytes (u64)
//! 112 8   strategy: large_min_bytes (u64)
//! 120 3   strategy: small medium large (ctl STRATEGY_* codes)
//! 123 5   zero
//! -- each scheduler --
//! 0   32  name, NUL padded (at most 31 bytes of [a-z0-9_-])
//! 32  1   policy: 1 balance, 2 round_robin, 3 least_loaded, 4 memory
//! 33  1   flags: bit 0 enabled
//! 34  1   process set: 1 all, 2 uid, 3 session, 4 pgrp, 5 pids
//! 35  1   pids given (pids: 1..=8; else 0)
//! 36  32  ids: the uid, session or group id first, or the pids; zeros after
//! 68  1   node set: 1 all, 2 only
//! 69  7   zero
//! 76  8   mask (only: bit i = node i, not 0, bit 0 clear; all: 0)
//! ```
//!
//! Every value is checked on decode as [`Config::validate`] checks it,
//! and padding must be zero, so a decoded configuration re-encodes to
//! the same bytes.

use super::super::identity::MAX_NODE_ID;
use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::cost::{MoveCost, Strategy, StrategyBySize};
use super::params::{BadParam, BalanceParams, MemoryParams, PlaceParams, PolicyParams};
use super::place::PlaceKind;
use super::probe::Smoothing;
use super::report::ReportParams;
use super::table::NodeSet;

/// Version of the configuration body (2: with pins).
pub const CONFIG_VERSION: u8 = 2;
/// Most schedulers a configuration holds.
pub const MAX_SCHEDULERS: usize = 8;
/// Longest scheduler name, bytes.
pub const MAX_NAME: usize = 31;
/// Most pids a process set names.
pub const MAX_PIDS: usize = 8;
/// The largest pid, session or group id a process set names (`pid_t` is
/// an `i32`).
pub const MAX_ID: u32 = i32::MAX as u32;
/// Encoded length of the part before the schedulers.
pub const HEADER_LEN: usize = 128;
/// Encoded length of one scheduler.
pub const SCHEDULER_LEN: usize = 84;
/// Most pinned processes.
pub const MAX_PINS: usize = 32;
/// Encoded length of one pin.
pub const PIN_LEN: usize = 8;
/// Encoded length of the largest configuration.
pub const MAX_CONFIG_LEN: usize = HEADER_LEN + MAX_SCHEDULERS * SCHEDULER_LEN + MAX_PINS * PIN_LEN;

/// Why a configuration, or a part of it, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// The bytes are not a configuration body (short, long, another
    /// version, padding not zero, output too small).
    Malformed(WireError),
    /// A name that is empty, longer than [`MAX_NAME`], or not only
    /// `[a-z0-9_-]`.
    BadName,
    /// Two schedulers with one name.
    DuplicateName,
    /// More than [`MAX_SCHEDULERS`].
    TooManySchedulers,
    /// No scheduler of that name.
    NoSuchScheduler,
    /// A policy code no policy has.
    UnknownPolicy,
    /// A strategy code no strategy has.
    UnknownStrategy,
    /// A process set kind that does not exist.
    UnknownProcessSet,
    /// A node set kind that does not exist.
    UnknownNodeSet,
    /// A node set that names no node.
    EmptyNodeSet,
    /// A node set that names node 0.
    BadNodeSet,
    /// A pid list that is empty, too long, or holds a pid twice; an id
    /// 0 or above [`MAX_ID`]; uid `u32::MAX` (-1).
    BadProcessSet,
    /// An origin node id out of range.
    BadOrigin,
    /// A pin of pid 0 or above [`MAX_ID`], to node 0 or above
    /// [`MAX_SET_NODE`](super::table::MAX_SET_NODE), or a pid pinned twice.
    BadPin,
    /// More than [`MAX_PINS`] pinned processes.
    TooManyPins,
    /// That process is not pinned.
    NotPinned,
    /// A parameter out of its range.
    BadParam(BadParam),
}

impl ConfigError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ConfigError::Malformed(w) => w.describe(),
            ConfigError::BadName => "scheduler names are 1 to 31 of [a-z0-9_-]",
            ConfigError::DuplicateName => "a scheduler of that name exists",
            ConfigError::TooManySchedulers => "too many schedulers (at most 8)",
            ConfigError::NoSuchScheduler => "no scheduler of that name",
            ConfigError::UnknownPolicy => "unknown policy",
            ConfigError::UnknownStrategy => "unknown migration strategy",
            ConfigError::UnknownProcessSet => "unknown process set",
            ConfigError::UnknownNodeSet => "unknown node set",
            ConfigError::EmptyNodeSet => "empty node set",
            ConfigError::BadNodeSet => "node set names node 0",
            ConfigError::BadProcessSet => {
                "bad process set (1 to 8 distinct pids; ids 1..=2147483647)"
            }
            ConfigError::BadOrigin => "origin node id out of range",
            ConfigError::BadPin => "bad pin (pid 1..=2147483647, node 1..=63, each pid once)",
            ConfigError::TooManyPins => "too many pinned processes (at most 32)",
            ConfigError::NotPinned => "that process is not pinned",
            ConfigError::BadParam(_) => "parameter out of range",
        }
    }
}

impl From<WireError> for ConfigError {
    fn from(e: WireError) -> Self {
        ConfigError::Malformed(e)
    }
}

impl From<super::super::le::Truncated> for ConfigError {
    fn from(e: super::super::le::Truncated) -> Self {
        ConfigError::Malformed(e.into())
    }
}

impl From<super::super::le::NoRoom> for ConfigError {
    fn from(e: super::super::le::NoRoom) -> Self {
        ConfigError::Malformed(e.into())
    }
}

impl From<super::super::le::Trailing> for ConfigError {
    fn from(e: super::super::le::Trailing) -> Self {
        ConfigError::Malformed(e.into())
    }
}

/// What a scheduler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// MOSIX-like dynamic load balancing ([`dynamic_balance`](super::balance::dynamic_balance)).
    Balance,
    /// Exec-time placement, round-robin ([`place`](super::place::place)).
    RoundRobin,
    /// Exec-time placement on the least loaded node.
    LeastLoaded,
    /// Moves processes off a node short of memory ([`memory_pressure`](super::balance::memory_pressure)).
    Memory,
}

impl PolicyKind {
    /// Every policy, by code.
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Balance,
        PolicyKind::RoundRobin,
        PolicyKind::LeastLoaded,
        PolicyKind::Memory,
    ];

    /// Its code on the wire.
    pub fn code(self) -> u8 {
        match self {
            PolicyKind::Balance => 1,
            PolicyKind::RoundRobin => 2,
            PolicyKind::LeastLoaded => 3,
            PolicyKind::Memory => 4,
        }
    }

    /// The policy of a code.
    pub fn from_code(code: u8) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Its name, as operators write it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Balance => "balance",
            PolicyKind::RoundRobin => "round_robin",
            PolicyKind::LeastLoaded => "least_loaded",
            PolicyKind::Memory => "memory",
        }
    }

    /// The policy of a name.
    pub fn from_name(name: &[u8]) -> Option<PolicyKind> {
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name().as_bytes() == name)
    }

    /// How it places programs at exec, if it is a placing policy.
    pub fn place_kind(self) -> Option<PlaceKind> {
        match self {
            PolicyKind::RoundRobin => Some(PlaceKind::RoundRobin),
            PolicyKind::LeastLoaded => Some(PlaceKind::LeastLoaded),
            _ => None,
        }
    }
}

/// A scheduler's name: 1 to [`MAX_NAME`] bytes of `[a-z0-9_-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Name {
    bytes: [u8; MAX_NAME],
    len: u8,
}

impl Name {
    /// `name` if it is a valid name.
    pub fn new(name: &[u8]) -> Result<Name, ConfigError> {
        let ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-';
        if name.is_empty() || name.len() > MAX_NAME || !name.iter().all(ok) {
            return Err(ConfigError::BadName);
        }
        let mut bytes = [0; MAX_NAME];
        for (d, s) in bytes.iter_mut().zip(name) {
            *d = *s;
        }
        Ok(Name {
            bytes,
            len: name.len() as u8,
        })
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// As text (always ASCII).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

/// 1 to [`MAX_PIDS`] distinct, non-zero pids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PidList {
    pids: [u32; MAX_PIDS],
    len: u8,
}

impl PidList {
    /// `pids` if they make a valid list (in their order).
    pub fn new(pids: &[u32]) -> Result<PidList, ConfigError> {
        if pids.is_empty() || pids.len() > MAX_PIDS {
            return Err(ConfigError::BadProcessSet);
        }
        let mut l = PidList::default();
        for &p in pids {
            if p == 0 || l.as_slice().contains(&p) {
                return Err(ConfigError::BadProcessSet);
            }
            l.pids[usize::from(l.len)] = p;
            l.len += 1;
        }
        Ok(l)
    }

    /// The pids.
    pub fn as_slice(&self) -> &[u32] {
        self.pids.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The ids a process set is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessIds {
    /// Its pid (thread group id).
    pub pid: u32,
    /// Its real uid.
    pub uid: u32,
    /// Its session id.
    pub sid: u32,
    /// Its process group id.
    pub pgid: u32,
}

/// The processes a scheduler handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessSet {
    /// Every user process.
    All,
    /// The processes of a user (real uid).
    Uid(u32),
    /// The processes of a session.
    Session(u32),
    /// The processes of a process group.
    Pgrp(u32),
    /// These processes.
    Pids(PidList),
}

impl ProcessSet {
    /// Whether the process with ids `p` is in the set.
    pub fn contains(&self, p: &ProcessIds) -> bool {
        match self {
            ProcessSet::All => true,
            ProcessSet::Uid(u) => p.uid == *u,
            ProcessSet::Session(s) => p.sid == *s,
            ProcessSet::Pgrp(g) => p.pgid == *g,
            ProcessSet::Pids(l) => l.as_slice().contains(&p.pid),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let id_ok = |i: &u32| (1..=MAX_ID).contains(i);
        let ok = match self {
            ProcessSet::All => true,
            ProcessSet::Uid(u) => *u != u32::MAX,
            ProcessSet::Session(i) | ProcessSet::Pgrp(i) => id_ok(i),
            ProcessSet::Pids(l) => {
                PidList::new(l.as_slice()).is_ok() && l.as_slice().iter().all(id_ok)
            }
        };
        ok.then_some(()).ok_or(ConfigError::BadProcessSet)
    }
}

/// A policy with the processes and nodes it works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduler {
    /// Its name (its configfs directory).
    pub name: Name,
    /// What it does.
    pub policy: PolicyKind,
    /// The processes it handles.
    pub processes: ProcessSet,
    /// The nodes it runs on and sends processes to.
    pub nodes: NodeSet,
    /// Whether it runs.
    pub enabled: bool,
}

impl Scheduler {
    /// A disabled scheduler of `policy` over every process and node.
    pub fn new(name: Name, policy: PolicyKind) -> Scheduler {
        Scheduler {
            name,
            policy,
            processes: ProcessSet::All,
            nodes: NodeSet::All,
            enabled: false,
        }
    }

    /// Checks its process set and node set.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Name::new(self.name.as_bytes())?;
        self.processes.validate()?;
        if !self.nodes.is_valid() {
            return Err(ConfigError::BadNodeSet);
        }
        if self.nodes.is_empty() {
            return Err(ConfigError::EmptyNodeSet);
        }
        Ok(())
    }
}

/// Every parameter of the probes, filters and policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// The load probe's smoothing.
    pub load: Smoothing,
    /// The load reports' filter and age limit.
    pub report: ReportParams,
    /// The policies'.
    pub policy: PolicyParams,
}

impl Params {
    /// Every default.
    pub const DEFAULT: Params = Params {
        load: Smoothing::DEFAULT,
        report: ReportParams::DEFAULT,
        policy: PolicyParams::DEFAULT,
    };

    /// The first parameter out of its range; `None` if all are in.
    pub fn check(&self) -> Option<BadParam> {
        let named = |part, field: Option<&'static str>| {
            Some(BadParam {
                part,
                field: field?,
            })
        };
        named("load", self.load.check())
            .or_else(|| named("report", self.report.check()))
            .or_else(|| self.policy.check())
    }
}

/// A process no policy moves: it stays where it runs, or on `node`
/// (placement and balancing send it nowhere else). The balancer and exec
/// placement treat its descendants on a node as pinned too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pin {
    /// The process's cluster-wide pid.
    pub pid: u32,
    /// The node it is pinned to; 0: wherever it runs.
    pub node: u16,
}

impl Pin {
    fn validate(&self) -> Result<(), ConfigError> {
        let pid_ok = (1..=MAX_ID).contains(&self.pid);
        let node_ok = self.node <= super::table::MAX_SET_NODE;
        (pid_ok && node_ok).then_some(()).ok_or(ConfigError::BadPin)
    }
}

/// The cluster-wide scheduler configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Goes up by one with every change.
    pub generation: u64,
    /// The node that made the last change.
    pub origin: u16,
    /// The parameters.
    pub params: Params,
    schedulers: [Scheduler; MAX_SCHEDULERS],
    len: u8,
    pins: [Pin; MAX_PINS],
    pins_len: u8,
}

impl Config {
    /// The first configuration of node `origin`: generation 0, default
    /// parameters, no scheduler.
    pub fn new(origin: u16) -> Config {
        let none = Scheduler::new(Name::default(), PolicyKind::Balance);
        Config {
            generation: 0,
            origin,
            params: Params::DEFAULT,
            schedulers: [none; MAX_SCHEDULERS],
            len: 0,
            pins: [Pin::default(); MAX_PINS],
            pins_len: 0,
        }
    }

    /// The pinned processes, in the order they were pinned.
    pub fn pins(&self) -> &[Pin] {
        self.pins.get(..usize::from(self.pins_len)).unwrap_or(&[])
    }

    /// The pin of process `pid`, if it is pinned.
    pub fn pin_of(&self, pid: u32) -> Option<Pin> {
        self.pins().iter().find(|p| p.pid == pid).copied()
    }

    /// Pins `p.pid` (to `p.node`), replacing a pin it had.
    pub fn pin(&mut self, p: Pin) -> Result<(), ConfigError> {
        p.validate()?;
        let len = usize::from(self.pins_len);
        if let Some(e) = self.pins[..len].iter_mut().find(|e| e.pid == p.pid) {
            *e = p;
            return Ok(());
        }
        let slot = self.pins.get_mut(len).ok_or(ConfigError::TooManyPins)?;
        *slot = p;
        self.pins_len += 1;
        Ok(())
    }

    /// Unpins process `pid`.
    pub fn unpin(&mut self, pid: u32) -> Result<(), ConfigError> {
        let len = usize::from(self.pins_len);
        let i = self.pins[..len]
            .iter()
            .position(|p| p.pid == pid)
            .ok_or(ConfigError::NotPinned)?;
        self.pins[i..len].rotate_left(1);
        self.pins_len -= 1;
        Ok(())
    }

    /// The schedulers, in the order they were added.
    pub fn schedulers(&self) -> &[Scheduler] {
        self.schedulers.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The scheduler named `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Scheduler> {
        self.schedulers().iter().find(|s| s.name.as_bytes() == name)
    }

    /// Adds `s` after the others.
    pub fn add(&mut self, s: Scheduler) -> Result<(), ConfigError> {
        s.validate()?;
        if self.get(s.name.as_bytes()).is_some() {
            return Err(ConfigError::DuplicateName);
        }
        let slot = self
            .schedulers
            .get_mut(usize::from(self.len))
            .ok_or(ConfigError::TooManySchedulers)?;
        *slot = s;
        self.len += 1;
        Ok(())
    }

    /// Replaces the scheduler of `s`'s name by `s`.
    pub fn replace(&mut self, s: Scheduler) -> Result<(), ConfigError> {
        s.validate()?;
        let len = usize::from(self.len);
        let e = self.schedulers[..len]
            .iter_mut()
            .find(|e| e.name == s.name)
            .ok_or(ConfigError::NoSuchScheduler)?;
        *e = s;
        Ok(())
    }

    /// Removes the scheduler named `name`.
    pub fn remove(&mut self, name: &[u8]) -> Result<(), ConfigError> {
        let len = usize::from(self.len);
        let i = self.schedulers[..len]
            .iter()
            .position(|s| s.name.as_bytes() == name)
            .ok_or(ConfigError::NoSuchScheduler)?;
        self.schedulers[i..len].rotate_left(1);
        self.len -= 1;
        Ok(())
    }

    /// Checks everything: origin, parameters, schedulers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.origin == 0 || u32::from(self.origin) > MAX_NODE_ID {
            return Err(ConfigError::BadOrigin);
        }
        if let Some(b) = self.params.check() {
            return Err(ConfigError::BadParam(b));
        }
        for (i, s) in self.schedulers().iter().enumerate() {
            s.validate()?;
            if self.schedulers()[..i].iter().any(|o| o.name == s.name) {
                return Err(ConfigError::DuplicateName);
            }
        }
        for (i, p) in self.pins().iter().enumerate() {
            p.validate()?;
            if self.pins()[..i].iter().any(|o| o.pid == p.pid) {
                return Err(ConfigError::BadPin);
            }
        }
        Ok(())
    }

    /// The scheduler that handles process `p` on node `node` with a
    /// policy `wanted` accepts: the first enabled one whose process set
    /// holds `p` and whose node set holds `node`.
    pub fn scheduler_for(
        &self,
        p: &ProcessIds,
        node: u16,
        wanted: impl Fn(PolicyKind) -> bool,
    ) -> Option<&Scheduler> {
        self.schedulers().iter().find(|s| {
            s.enabled && wanted(s.policy) && s.processes.contains(p) && s.nodes.contains(node)
        })
    }

    /// Whether this configuration replaces `other`: a higher generation,
    /// or the same from a higher node id.
    pub fn supersedes(&self, other: &Config) -> bool {
        (self.generation, self.origin) > (other.generation, other.origin)
    }

    /// Marks a change made on node `origin`: the next generation.
    pub fn bump(&mut self, origin: u16) {
        self.generation = self.generation.saturating_add(1);
        self.origin = origin;
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.schedulers().len() * SCHEDULER_LEN + self.pins().len() * PIN_LEN
    }

    /// Writes the configuration into `out` (at least
    /// [`Self::encoded_len`]); returns the bytes written. An invalid
    /// configuration is refused.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, ConfigError> {
        self.validate()?;
        let mut w = Writer::new(out);
        w.u8(CONFIG_VERSION)?;
        w.u8(self.len)?;
        w.u16(self.origin)?;
        w.u8(self.pins_len)?;
        w.bytes(&[0; 3])?;
        w.u64(self.generation)?;
        write_params(&mut w, &self.params)?;
        for s in self.schedulers() {
            write_scheduler(&mut w, s)?;
        }
        for p in self.pins() {
            w.u32(p.pid)?;
            w.u16(p.node)?;
            w.u16(0)?;
        }
        Ok(w.pos())
    }

    /// Decodes a configuration; anything [`Self::validate`] refuses, an
    /// unknown code, non-zero padding, missing or extra bytes are refused.
    pub fn decode(body: &[u8]) -> Result<Config, ConfigError> {
        let mut r = Reader::new(body);
        if r.u8()? != CONFIG_VERSION {
            return Err(ConfigError::Malformed(WireError::BadVersion));
        }
        let n = r.u8()?;
        let origin = r.u16()?;
        let pins = r.u8()?;
        for _ in 0..3 {
            zero(r.u8()?.into())?;
        }
        let generation = r.u64()?;
        let params = read_params(&mut r)?;
        if usize::from(n) > MAX_SCHEDULERS {
            return Err(ConfigError::TooManySchedulers);
        }
        let mut c = Config::new(origin);
        c.generation = generation;
        c.params = params;
        for _ in 0..n {
            let s = read_scheduler(&mut r)?;
            c.add(s)?;
        }
        if usize::from(pins) > MAX_PINS {
            return Err(ConfigError::TooManyPins);
        }
        for _ in 0..pins {
            let p = Pin {
                pid: r.u32()?,
                node: r.u16()?,
            };
            zero(r.u16()?.into())?;
            if c.pin_of(p.pid).is_some() {
                return Err(ConfigError::BadPin);
            }
            c.pin(p)?;
        }
        r.finish()?;
        c.validate()?;
        Ok(c)
    }
}

/// Refuses non-zero padding.
fn zero(v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        Ok(())
    } else {
        Err(ConfigError::Malformed(WireError::BadReserved))
    }
}

fn write_params(w: &mut Writer<'_>, p: &Params) -> Result<(), ConfigError> {
    let l = &p.load;
    let rp = &p.report;
    let b = &p.policy.balance;
    let pl = &p.policy.place;
    let m = &p.policy.memory;
    let c = &p.policy.cost;
    let s = &p.policy.strategy;
    for v in [
        l.period_ms,
        l.mean_half_life_ms,
        l.upper_half_life_ms,
        l.upper_rise,
        l.settle,
        rp.load_threshold,
        rp.mem_threshold_per_mille,
        rp.min_interval_ms,
        rp.max_silence_ms,
        rp.max_age_ms,
        b.margin,
        b.busy_above,
        b.min_residency_ms,
        b.return_after_ms,
        pl.busy_above,
        pl.min_gain,
        m.low_per_mille,
        m.high_per_mille,
        m.min_residency_ms,
        c.bandwidth_kib_s,
        c.freeze_ms,
        c.max_ms,
    ] {
        w.u32(v)?;
    }
    w.u64(s.small_max_bytes)?;
    w.u64(s.large_min_bytes)?;
    w.u8(s.small.code())?;
    w.u8(s.medium.code())?;
    w.u8(s.large.code())?;
    w.bytes(&[0; 5])?;
    Ok(())
}

fn read_params(r: &mut Reader<'_>) -> Result<Params, ConfigError> {
    let mut v = [0u32; 22];
    for x in &mut v {
        *x = r.u32()?;
    }
    let [a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, c0, c1, c2, c3, d0, d1, e0, e1, e2, f0, f1, f2] =
        v;
    let small_max_bytes = r.u64()?;
    let large_min_bytes = r.u64()?;
    let strategy = |code: u8| Strategy::from_code(code).ok_or(ConfigError::UnknownStrategy);
    let small = strategy(r.u8()?)?;
    let medium = strategy(r.u8()?)?;
    let large = strategy(r.u8()?)?;
    for b in r.array::<5>()? {
        zero(b.into())?;
    }
    Ok(Params {
        load: Smoothing {
            period_ms: a0,
            mean_half_life_ms: a1,
            upper_half_life_ms: a2,
            upper_rise: a3,
            settle: a4,
        },
        report: ReportParams {
            load_threshold: b0,
            mem_threshold_per_mille: b1,
            min_interval_ms: b2,
            max_silence_ms: b3,
            max_age_ms: b4,
        },
        policy: PolicyParams {
            balance: BalanceParams {
                margin: c0,
                busy_above: c1,
                min_residency_ms: c2,
                return_after_ms: c3,
            },
            place: PlaceParams {
                busy_above: d0,
                min_gain: d1,
            },
            memory: MemoryParams {
                low_per_mille: e0,
                high_per_mille: e1,
                min_residency_ms: e2,
            },
            cost: MoveCost {
                bandwidth_kib_s: f0,
                freeze_ms: f1,
                max_ms: f2,
            },
            strategy: StrategyBySize {
                small_max_bytes,
                small,
                medium,
                large_min_bytes,
                large,
            },
        },
    })
}

fn write_scheduler(w: &mut Writer<'_>, s: &Scheduler) -> Result<(), ConfigError> {
    let mut name = [0u8; MAX_NAME + 1];
    for (d, b) in name.iter_mut().zip(s.name.as_bytes()) {
        *d = *b;
    }
    w.bytes(&name)?;
    w.u8(s.policy.code())?;
    w.u8(u8::from(s.enabled))?;
    let mut ids = [0u32; MAX_PIDS];
    let (kind, given): (u8, &[u32]) = match &s.processes {
        ProcessSet::All => (1, &[]),
        ProcessSet::Uid(u) => (2, core::slice::from_ref(u)),
        ProcessSet::Session(i) => (3, core::slice::from_ref(i)),
        ProcessSet::Pgrp(g) => (4, core::slice::from_ref(g)),
        ProcessSet::Pids(l) => (5, l.as_slice()),
    };
    for (d, id) in ids.iter_mut().zip(given) {
        *d = *id;
    }
    let count = if kind == 5 { given.len() as u8 } else { 0 };
    w.u8(kind)?;
    w.u8(count)?;
    for id in ids {
        w.u32(id)?;
    }
    let (kind, mask) = match s.nodes {
        NodeSet::All => (1, 0),
        NodeSet::Only(m) => (2, m),
    };
    w.u8(kind)?;
    w.bytes(&[0; 7])?;
    w.u64(mask)?;
    Ok(())
}

fn read_scheduler(r: &mut Reader<'_>) -> Result<Scheduler, ConfigError> {
    let raw = r.array::<{ MAX_NAME + 1 }>()?;
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let (text, pad) = raw.split_at(len);
    if pad.iter().any(|&b| b != 0) {
        return Err(ConfigError::Malformed(WireError::BadReserved));
    }
    let name = Name::new(text)?;
    let policy = PolicyKind::from_code(r.u8()?).ok_or(ConfigError::UnknownPolicy)?;
    let flags = r.u8()?;
    if flags & !1 != 0 {
        return Err(ConfigError::Malformed(WireError::BadFlags));
    }
    let kind = r.u8()?;
    let count = usize::from(r.u8()?);
    if kind == 5 && !(1..=MAX_PIDS).contains(&count) {
        return Err(ConfigError::BadProcessSet);
    }
    let mut ids = [0u32; MAX_PIDS];
    for id in &mut ids {
        *id = r.u32()?;
    }
    // Ids past the ones the kind uses must be zero.
    let used = if kind == 5 { count } else { 1 };
    if ids.iter().skip(used).any(|&i| i != 0) || (kind != 5 && count != 0) {
        return Err(ConfigError::Malformed(WireError::BadReserved));
    }
    let processes = match kind {
        1 if ids[0] == 0 => ProcessSet::All,
        1 => return Err(ConfigError::Malformed(WireError::BadReserved)),
        2 => ProcessSet::Uid(ids[0]),
        3 => ProcessSet::Session(ids[0]),
        4 => ProcessSet::Pgrp(ids[0]),
        5 => ProcessSet::Pids(PidList::new(ids.get(..count).unwrap_or(&[]))?),
        _ => return Err(ConfigError::UnknownProcessSet),
    };
    let node_kind = r.u8()?;
    for b in r.array::<7>()? {
        zero(b.into())?;
    }
    let mask = r.u64()?;
    let nodes = match node_kind {
        1 => {
            zero(mask)?;
            NodeSet::All
        }
        2 => NodeSet::Only(mask),
        _ => return Err(ConfigError::UnknownNodeSet),
    };
    let s = Scheduler {
        name,
        policy,
        processes,
        nodes,
        enabled: flags & 1 != 0,
    };
    s.validate()?;
    Ok(s)
}
