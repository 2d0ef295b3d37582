//! A change of the cluster-wide configuration, made through one node.
//!
//! Two nodes that each bumped their own copy at the same time would both
//! make the same next generation, and one of the two changes would be
//! lost (the other origin wins, [`Config::supersedes`]). So every change
//! goes to one node, the coordinator (the lowest node id in the
//! cluster): a node sends it the [`Command`] as its text (a
//! `SchedChange` request, [`encode_request`]); the coordinator applies
//! it to the configuration in force, validates the result, bumps the
//! generation in the name of the node that asked, sends the result to
//! every node and answers with it ([`ChangeReply::Applied`]) or with why
//! it refused ([`ChangeReply::Refused`]).
//!
//! Reply body:
//!
//! ```text
//! offset len
//! 0      1   1: applied, the configuration follows (Config::encode)
//!            2: refused, the reason follows (1..=MAX_REASON_LEN bytes
//!               of UTF-8)
//! ```

use super::super::wire::WireError;
use super::command::{parse_command, Command, SchedChange};
use super::config::{Config, ConfigError};
use super::text::{ParamValue, TextBuf, TextError, PARAM_FIELDS};
use core::fmt::{self, Write};

/// The longest command a request carries.
pub const MAX_COMMAND_LEN: usize = 256;

/// The longest reason a refusal carries.
pub const MAX_REASON_LEN: usize = 120;

const APPLIED: u8 = 1;
const REFUSED: u8 = 2;

impl fmt::Display for Command {
    /// The command's text, as [`parse_command`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Add { name, policy } => write!(f, "add {name} {policy}"),
            Command::Remove(name) => write!(f, "remove {name}"),
            Command::Set { name, change } => match change {
                SchedChange::Policy(p) => write!(f, "set {name} policy {p}"),
                SchedChange::Processes(p) => write!(f, "set {name} processes {p}"),
                SchedChange::Nodes(n) => write!(f, "set {name} nodes {n}"),
                SchedChange::Enabled(e) => write!(f, "set {name} enabled {}", u8::from(*e)),
            },
            Command::Param { index, value } => {
                let field = PARAM_FIELDS.get(*index).ok_or(fmt::Error)?;
                write!(f, "param {}.{} ", field.part, field.field)?;
                match value {
                    ParamValue::Number(n) => write!(f, "{n}"),
                    ParamValue::Strategy(s) => write!(f, "{s}"),
                }
            }
            Command::Pin(p) if p.node == 0 => write!(f, "pin {}", p.pid),
            Command::Pin(p) => write!(f, "pin {} {}", p.pid, p.node),
            Command::Unpin(pid) => write!(f, "unpin {pid}"),
        }
    }
}

/// The body of a `SchedChange` request: the command's text.
pub fn encode_request(cmd: &Command) -> Result<TextBuf<MAX_COMMAND_LEN>, WireError> {
    let mut t = TextBuf::new();
    write!(t, "{cmd}").map_err(|_| WireError::BufferTooSmall)?;
    Ok(t)
}

/// Reads a `SchedChange` request.
pub fn decode_request(body: &[u8]) -> Result<Command, TextError> {
    if body.len() > MAX_COMMAND_LEN {
        return Err(TextError::TooMany);
    }
    parse_command(body)
}

/// The coordinator's answer to a `SchedChange` request. (No allocation
/// here, so no box: a reply is one value on its way into or out of a
/// message.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeReply<'a> {
    /// Applied: the configuration now in force.
    Applied(Config),
    /// Refused, and why.
    Refused(&'a str),
}

impl<'a> ChangeReply<'a> {
    /// A refusal for `e`.
    pub fn refused(e: ConfigError) -> ChangeReply<'static> {
        ChangeReply::Refused(e.describe())
    }

    /// Writes the reply into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let (tag, rest) = out.split_first_mut().ok_or(WireError::Truncated)?;
        match self {
            ChangeReply::Applied(c) => {
                *tag = APPLIED;
                let n = c.encode(rest).map_err(|_| WireError::InvalidValue)?;
                Ok(1 + n)
            }
            ChangeReply::Refused(why) => {
                let b = why.as_bytes();
                if b.is_empty() || b.len() > MAX_REASON_LEN {
                    return Err(WireError::InvalidValue);
                }
                *tag = REFUSED;
                rest.get_mut(..b.len())
                    .ok_or(WireError::Truncated)?
                    .copy_from_slice(b);
                Ok(1 + b.len())
            }
        }
    }

    /// Reads a reply.
    pub fn decode(body: &'a [u8]) -> Result<ChangeReply<'a>, WireError> {
        let (&tag, rest) = body.split_first().ok_or(WireError::Truncated)?;
        match tag {
            APPLIED => Config::decode(rest)
                .map(ChangeReply::Applied)
                .map_err(|_| WireError::InvalidValue),
            REFUSED if rest.is_empty() || rest.len() > MAX_REASON_LEN => {
                Err(WireError::InvalidValue)
            }
            REFUSED => core::str::from_utf8(rest)
                .map(ChangeReply::Refused)
                .map_err(|_| WireError::InvalidValue),
            _ => Err(WireError::InvalidValue),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::config::Params;
    use super::super::config::{Name, Pin, PolicyKind, ProcessSet, Scheduler, MAX_CONFIG_LEN};
    use super::super::table::NodeSet;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    fn name(s: &str) -> Name {
        Name::new(s.as_bytes()).unwrap()
    }

    fn command() -> impl proptest::strategy::Strategy<Value = Command> {
        (
            0u8..6,
            "[a-z0-9_-]{1,31}",
            0usize..4,
            0u8..4,
            1u32..=0x7fff_ffff,
            1u64..(1u64 << 63),
            0usize..PARAM_FIELDS.len(),
            0u16..64,
        )
            .prop_map(|(kind, n, policy, field, id, mask, param, node)| {
                let name = name(&n);
                match kind {
                    0 => Command::Add {
                        name,
                        policy: PolicyKind::ALL[policy],
                    },
                    1 => Command::Remove(name),
                    2 => Command::Set {
                        name,
                        change: match field {
                            0 => SchedChange::Policy(PolicyKind::ALL[policy]),
                            1 => SchedChange::Processes(ProcessSet::Uid(id)),
                            2 => SchedChange::Nodes(NodeSet::Only(mask & !1 | 2)),
                            _ => SchedChange::Enabled(id % 2 == 0),
                        },
                    },
                    3 => Command::Param {
                        index: param,
                        value: PARAM_FIELDS[param].get(&Params::DEFAULT),
                    },
                    4 => Command::Pin(Pin { pid: id, node }),
                    _ => Command::Unpin(id),
                }
            })
    }

    proptest! {
        #[test]
        fn requests_read_back(cmd in command()) {
            let t = encode_request(&cmd).unwrap();
            prop_assert_eq!(decode_request(t.as_bytes()), Ok(cmd));
        }

        #[test]
        fn replies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1500)) {
            if let Ok(r) = ChangeReply::decode(&body) {
                let mut out = [0u8; 1 + MAX_CONFIG_LEN];
                let n = r.encode(&mut out).unwrap();
                prop_assert_eq!(ChangeReply::decode(&out[..n]), Ok(r));
            }
        }
    }

    #[test]
    fn replies_round_trip() {
        let mut c = Config::new(2);
        c.add(Scheduler::new(name("b"), PolicyKind::Balance))
            .unwrap();
        c.pin(Pin { pid: 7, node: 0 }).unwrap();
        c.bump(3);
        let mut out = [0u8; 1 + MAX_CONFIG_LEN];
        for r in [
            ChangeReply::Applied(c),
            ChangeReply::refused(ConfigError::DuplicateName),
        ] {
            let n = r.encode(&mut out).unwrap();
            assert_eq!(ChangeReply::decode(&out[..n]), Ok(r));
        }
        assert_eq!(ChangeReply::decode(&[]), Err(WireError::Truncated));
        assert_eq!(ChangeReply::decode(&[2]), Err(WireError::InvalidValue));
        assert_eq!(ChangeReply::decode(&[3, 1]), Err(WireError::InvalidValue));
        assert_eq!(
            ChangeReply::decode(&[2, 0xff]),
            Err(WireError::InvalidValue)
        );
        assert_eq!(ChangeReply::decode(&[1, 0]), Err(WireError::InvalidValue));
        assert_eq!(
            ChangeReply::Refused("").encode(&mut out),
            Err(WireError::InvalidValue)
        );
        assert_eq!(
            ChangeReply::Refused(&"x".repeat(MAX_REASON_LEN + 1)).encode(&mut out),
            Err(WireError::InvalidValue)
        );
        let long = "x".repeat(MAX_COMMAND_LEN + 1);
        assert_eq!(decode_request(long.as_bytes()), Err(TextError::TooMany));
        assert_eq!(
            decode_request(b"pin 5 3"),
            Ok(Command::Pin(Pin { pid: 5, node: 3 }))
        );
        assert_eq!(
            Command::Set {
                name: name("b"),
                change: SchedChange::Nodes(NodeSet::All)
            }
            .to_string(),
            "set b nodes all"
        );
    }
}
