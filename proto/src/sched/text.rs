//! The scheduler configuration as operators read and write it in
//! configfs (`/sys/kernel/config/ssi/scheduler/`): parsers of the
//! attributes' text and its formatters ([`core::fmt::Display`]), which
//! write what the parsers read back; the parameters by part and field
//! name ([`PARAM_FIELDS`], [`set_param`], [`write_param`]); and
//! [`TextBuf`], a `fmt::Write` into a fixed buffer.
//!
//! The forms:
//!
//! - a process set: `all`, `uid 1000`, `session 123`, `pgrp 77`,
//!   `pids 1 2 3` (at most 8);
//! - a node set: `all`, or node ids and ranges, `1,2,5`, `1-3`,
//!   `1-3,7` (ids 1..=63);
//! - a policy: `balance`, `round_robin`, `least_loaded`, `memory`;
//! - a strategy: `eager`, `precopy`, `postcopy`, `lazy`;
//! - a flag: `1`/`0`, `y`/`n`, `on`/`off`;
//! - a parameter: a decimal number, or a strategy's name.
//!
//! Every parser takes what `echo` writes (one trailing newline, blanks
//! around) and never panics.

use super::super::identity::trim;
use super::config::{Name, Params, PidList, PolicyKind, ProcessSet, Scheduler, MAX_ID, MAX_PIDS};
use super::cost::Strategy;
use super::table::{NodeSet, MAX_SET_NODE};
use core::fmt::{self, Write};

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Nothing but blanks.
    Empty,
    /// A word that is not one of the forms.
    Unknown,
    /// Not a decimal number where one belongs.
    NotANumber,
    /// A number out of its range (or a parameter the others refuse).
    OutOfRange,
    /// A range whose end is below its start.
    BadRange,
    /// More values than fit.
    TooMany,
    /// A value given twice.
    Duplicate,
    /// Words after the end of the form.
    Trailing,
    /// Not a valid scheduler name.
    BadName,
    /// No parameter of that part and field.
    NoSuchParam,
}

impl TextError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            TextError::Empty => "empty value",
            TextError::Unknown => "unknown word",
            TextError::NotANumber => "not a decimal number",
            TextError::OutOfRange => "value out of range",
            TextError::BadRange => "range ends before it starts",
            TextError::TooMany => "too many values",
            TextError::Duplicate => "value given twice",
            TextError::Trailing => "unexpected words at the end",
            TextError::BadName => "names are 1 to 31 of [a-z0-9_-]",
            TextError::NoSuchParam => "no such parameter",
        }
    }
}

/// The blank-separated words of `s`.
fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// A decimal number in `min..=max`.
pub(super) fn number(w: &[u8], min: u64, max: u64) -> Result<u64, TextError> {
    if w.is_empty() || !w.iter().all(u8::is_ascii_digit) {
        return Err(TextError::NotANumber);
    }
    let mut v: u64 = 0;
    for &b in w {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(TextError::OutOfRange)?;
    }
    if v < min || v > max {
        return Err(TextError::OutOfRange);
    }
    Ok(v)
}

/// `input` without its newline and blanks; `Empty` if nothing is left.
pub(super) fn content(input: &[u8]) -> Result<&[u8], TextError> {
    let s = trim(input);
    if s.is_empty() {
        Err(TextError::Empty)
    } else {
        Ok(s)
    }
}

/// Parses a process set.
pub fn parse_process_set(input: &[u8]) -> Result<ProcessSet, TextError> {
    let mut ws = words(content(input)?);
    let kind = ws.next().ok_or(TextError::Empty)?;
    let id = |w: Option<&[u8]>, min: u64, max: u64| -> Result<u32, TextError> {
        Ok(number(w.ok_or(TextError::Empty)?, min, max)? as u32)
    };
    let set = match kind {
        b"all" => ProcessSet::All,
        b"uid" => ProcessSet::Uid(id(ws.next(), 0, u64::from(u32::MAX - 1))?),
        b"session" => ProcessSet::Session(id(ws.next(), 1, MAX_ID.into())?),
        b"pgrp" => ProcessSet::Pgrp(id(ws.next(), 1, MAX_ID.into())?),
        b"pids" => {
            let mut pids = [0u32; MAX_PIDS];
            let mut n = 0;
            for w in ws.by_ref() {
                let p = id(Some(w), 1, MAX_ID.into())?;
                if pids[..n].contains(&p) {
                    return Err(TextError::Duplicate);
                }
                *pids.get_mut(n).ok_or(TextError::TooMany)? = p;
                n += 1;
            }
            let list = PidList::new(&pids[..n]).map_err(|_| TextError::Empty)?;
            ProcessSet::Pids(list)
        }
        _ => return Err(TextError::Unknown),
    };
    if ws.next().is_some() {
        return Err(TextError::Trailing);
    }
    Ok(set)
}

impl fmt::Display for ProcessSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessSet::All => f.write_str("all"),
            ProcessSet::Uid(u) => write!(f, "uid {u}"),
            ProcessSet::Session(s) => write!(f, "session {s}"),
            ProcessSet::Pgrp(g) => write!(f, "pgrp {g}"),
            ProcessSet::Pids(l) => {
                f.write_str("pids")?;
                for p in l.as_slice() {
                    write!(f, " {p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parses a node set.
pub fn parse_node_set(input: &[u8]) -> Result<NodeSet, TextError> {
    let s = content(input)?;
    if s == b"all" {
        return Ok(NodeSet::All);
    }
    let mut set = NodeSet::EMPTY;
    let max = u64::from(MAX_SET_NODE);
    for item in s.split(|&b| b == b',') {
        let item = trim(item);
        let (lo, hi) = match item.iter().position(|&b| b == b'-') {
            Some(dash) => (
                number(trim(&item[..dash]), 1, max)?,
                number(trim(&item[dash + 1..]), 1, max)?,
            ),
            None => {
                let n = number(item, 1, max)?;
                (n, n)
            }
        };
        if hi < lo {
            return Err(TextError::BadRange);
        }
        for id in lo..=hi {
            set = set.with(id as u16).ok_or(TextError::OutOfRange)?;
        }
    }
    Ok(set)
}

impl fmt::Display for NodeSet {
    /// `all`, or the ids in order with runs of three or more as ranges;
    /// an empty set as `none` (which no parser takes: it is invalid).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = match *self {
            NodeSet::All => return f.write_str("all"),
            NodeSet::Only(m) => m & !1,
        };
        if mask == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        let mut id = 1u32;
        while id < 64 {
            if mask & (1 << id) == 0 {
                id += 1;
                continue;
            }
            let start = id;
            while id + 1 < 64 && mask & (1 << (id + 1)) != 0 {
                id += 1;
            }
            if !first {
                f.write_char(',')?;
            }
            first = false;
            match id - start {
                0 => write!(f, "{start}")?,
                1 => write!(f, "{start},{id}")?,
                _ => write!(f, "{start}-{id}")?,
            }
            id += 1;
        }
        Ok(())
    }
}

/// Parses a policy name.
pub fn parse_policy(input: &[u8]) -> Result<PolicyKind, TextError> {
    PolicyKind::from_name(content(input)?).ok_or(TextError::Unknown)
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a strategy name.
pub fn parse_strategy(input: &[u8]) -> Result<Strategy, TextError> {
    Strategy::from_name(content(input)?).ok_or(TextError::Unknown)
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a flag: `1`, `y`, `on` or `0`, `n`, `off`.
pub fn parse_flag(input: &[u8]) -> Result<bool, TextError> {
    match content(input)? {
        b"1" | b"y" | b"on" => Ok(true),
        b"0" | b"n" | b"off" => Ok(false),
        _ => Err(TextError::Unknown),
    }
}

/// Parses a scheduler name.
pub fn parse_name(input: &[u8]) -> Result<Name, TextError> {
    Name::new(content(input)?).map_err(|_| TextError::BadName)
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Scheduler {
    /// One line: `NAME: POLICY, enabled|disabled, processes SET, nodes
    /// SET`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.enabled { "enabled" } else { "disabled" };
        write!(
            f,
            "{}: {}, {state}, processes {}, nodes {}",
            self.name, self.policy, self.processes, self.nodes
        )
    }
}

/// A parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamValue {
    /// A number.
    Number(u64),
    /// A strategy.
    Strategy(Strategy),
}

/// One parameter of [`Params`], by part (its configfs directory) and
/// field (its attribute).
#[derive(Clone, Copy)]
pub struct ParamField {
    /// The part: `load`, `report`, `balance`, `place`, `memory`,
    /// `cost`, `strategy`.
    pub part: &'static str,
    /// The field.
    pub field: &'static str,
    get: fn(&Params) -> ParamValue,
    set: fn(&mut Params, ParamValue) -> Option<()>,
}

impl ParamField {
    /// Its value in `p`.
    pub fn get(&self, p: &Params) -> ParamValue {
        (self.get)(p)
    }

    /// Stores `v` in `p` without checking its range ([`set_param`]
    /// checks); `false` if `v` is not of the field's kind or does not
    /// fit it.
    pub fn store(&self, p: &mut Params, v: ParamValue) -> bool {
        (self.set)(p, v).is_some()
    }
}

/// A number into a `u32` field; `None` if it does not fit or is not a
/// number.
fn to_u32(v: ParamValue) -> Option<u32> {
    match v {
        ParamValue::Number(n) => u32::try_from(n).ok(),
        ParamValue::Strategy(_) => None,
    }
}

fn to_u64(v: ParamValue) -> Option<u64> {
    match v {
        ParamValue::Number(n) => Some(n),
        ParamValue::Strategy(_) => None,
    }
}

fn to_strategy(v: ParamValue) -> Option<Strategy> {
    match v {
        ParamValue::Strategy(s) => Some(s),
        ParamValue::Number(_) => None,
    }
}

/// A `u32` parameter at `$($path).+` of [`Params`].
macro_rules! param_u32 {
    ($part:literal, $field:ident, $($path:ident).+) => {
        ParamField {
            part: $part,
            field: stringify!($field),
            get: |p| ParamValue::Number(p.$($path).+.into()),
            set: |p, v| {
                p.$($path).+ = to_u32(v)?;
                Some(())
            },
        }
    };
}

/// Every parameter, in the order of the configuration's wire layout.
pub const PARAM_FIELDS: [ParamField; 27] = [
    param_u32!("load", period_ms, load.period_ms),
    param_u32!("load", mean_half_life_ms, load.mean_half_life_ms),
    param_u32!("load", upper_half_life_ms, load.upper_half_life_ms),
    param_u32!("load", upper_rise, load.upper_rise),
    param_u32!("load", settle, load.settle),
    param_u32!("report", load_threshold, report.load_threshold),
    param_u32!(
        "report",
        mem_threshold_per_mille,
        report.mem_threshold_per_mille
    ),
    param_u32!("report", min_interval_ms, report.min_interval_ms),
    param_u32!("report", max_silence_ms, report.max_silence_ms),
    param_u32!("report", max_age_ms, report.max_age_ms),
    param_u32!("balance", margin, policy.balance.margin),
    param_u32!("balance", busy_above, policy.balance.busy_above),
    param_u32!("balance", min_residency_ms, policy.balance.min_residency_ms),
    param_u32!("balance", return_after_ms, policy.balance.return_after_ms),
    param_u32!("place", busy_above, policy.place.busy_above),
    param_u32!("place", min_gain, policy.place.min_gain),
    param_u32!("memory", low_per_mille, policy.memory.low_per_mille),
    param_u32!("memory", high_per_mille, policy.memory.high_per_mille),
    param_u32!("memory", min_residency_ms, policy.memory.min_residency_ms),
    param_u32!("cost", bandwidth_kib_s, policy.cost.bandwidth_kib_s),
    param_u32!("cost", freeze_ms, policy.cost.freeze_ms),
    param_u32!("cost", max_ms, policy.cost.max_ms),
    ParamField {
        part: "strategy",
        field: "small_max_bytes",
        get: |p| ParamValue::Number(p.policy.strategy.small_max_bytes),
        set: |p, v| {
            p.policy.strategy.small_max_bytes = to_u64(v)?;
            Some(())
        },
    },
    ParamField {
        part: "strategy",
        field: "large_min_bytes",
        get: |p| ParamValue::Number(p.policy.strategy.large_min_bytes),
        set: |p, v| {
            p.policy.strategy.large_min_bytes = to_u64(v)?;
            Some(())
        },
    },
    ParamField {
        part: "strategy",
        field: "small",
        get: |p| ParamValue::Strategy(p.policy.strategy.small),
        set: |p, v| {
            p.policy.strategy.small = to_strategy(v)?;
            Some(())
        },
    },
    ParamField {
        part: "strategy",
        field: "medium",
        get: |p| ParamValue::Strategy(p.policy.strategy.medium),
        set: |p, v| {
            p.policy.strategy.medium = to_strategy(v)?;
            Some(())
        },
    },
    ParamField {
        part: "strategy",
        field: "large",
        get: |p| ParamValue::Strategy(p.policy.strategy.large),
        set: |p, v| {
            p.policy.strategy.large = to_strategy(v)?;
            Some(())
        },
    },
];

/// The parameter `part`/`field`.
pub fn find_param(part: &[u8], field: &[u8]) -> Option<&'static ParamField> {
    PARAM_FIELDS
        .iter()
        .find(|f| f.part.as_bytes() == part && f.field.as_bytes() == field)
}

/// Sets parameter `part`/`field` of `params` from the text an operator
/// wrote; a value the parameters' checks refuse (alone or with the
/// others) leaves `params` as it was.
pub fn set_param(
    params: &mut Params,
    part: &[u8],
    field: &[u8],
    input: &[u8],
) -> Result<(), TextError> {
    let f = find_param(part, field).ok_or(TextError::NoSuchParam)?;
    let v = parse_param_value(f, input)?;
    let mut new = *params;
    (f.set)(&mut new, v).ok_or(TextError::OutOfRange)?;
    if new.check().is_some() {
        return Err(TextError::OutOfRange);
    }
    *params = new;
    Ok(())
}

/// Parses a value of parameter `f` (a number, or a strategy's name),
/// without checking its range.
pub fn parse_param_value(f: &ParamField, input: &[u8]) -> Result<ParamValue, TextError> {
    let s = content(input)?;
    Ok(match f.get(&Params::DEFAULT) {
        ParamValue::Number(_) => ParamValue::Number(number(s, 0, u64::MAX)?),
        ParamValue::Strategy(_) => {
            ParamValue::Strategy(Strategy::from_name(s).ok_or(TextError::Unknown)?)
        }
    })
}

/// Writes parameter `part`/`field` of `params` as an operator reads it,
/// with a newline.
pub fn write_param(
    params: &Params,
    part: &[u8],
    field: &[u8],
    out: &mut impl Write,
) -> Result<(), TextError> {
    let f = find_param(part, field).ok_or(TextError::NoSuchParam)?;
    let r = match f.get(params) {
        ParamValue::Number(n) => writeln!(out, "{n}"),
        ParamValue::Strategy(s) => writeln!(out, "{s}"),
    };
    r.map_err(|_| TextError::TooMany)
}

/// A `fmt::Write` into a fixed buffer: a piece that does not fit is an
/// error and is not written (the pieces before it stay).
#[derive(Debug, Clone, Copy)]
pub struct TextBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        TextBuf::new()
    }
}

impl<const N: usize> TextBuf<N> {
    /// An empty buffer.
    pub fn new() -> Self {
        TextBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// What was written, as text.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s are written.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> Write for TextBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
