//! Editing the configuration by text, as the configfs scheduler tree
//! (`/sys/kernel/config/ssi/scheduler/`) and `ssi-ctl scheduler` do: a
//! scheduler's fields ([`SchedField`], [`SchedChange`]), the one-line
//! commands of the `scheduler/command` file ([`Command`],
//! [`parse_command`]), and the directory of each part's parameters
//! ([`PARAM_DIRS`]).
//!
//! The commands, one per write:
//!
//! - `add NAME POLICY`: a disabled scheduler of POLICY over every
//!   process and every node;
//! - `remove NAME`;
//! - `set NAME FIELD VALUE`: FIELD is `policy`, `processes`, `nodes` or
//!   `enabled`, VALUE its text form ([`super::text`]), the rest of the
//!   line;
//! - `param PART.FIELD VALUE`: a parameter ([`PARAM_FIELDS`]);
//! - `pin PID [NODE]`: no policy moves process PID (and its descendants
//!   on its node), or only to NODE;
//! - `unpin PID`.
//!
//! A command is parsed whole before anything changes; applying it
//! ([`Command::apply`]) edits a configuration that the caller then
//! validates as a whole.

use super::config::{Config, ConfigError, Name, Pin, PolicyKind, ProcessSet, Scheduler, MAX_ID};
use super::params::BadParam;
use super::table::{NodeSet, MAX_SET_NODE};
use super::text::{
    content, number, parse_flag, parse_name, parse_node_set, parse_param_value, parse_policy,
    parse_process_set, ParamField, ParamValue, TextError, PARAM_FIELDS,
};
use core::fmt::{self, Write};

/// Where each part's parameters are, under the configfs `scheduler/`
/// directory: (part, directory).
pub const PARAM_DIRS: [(&str, &str); 7] = [
    ("load", "probes"),
    ("report", "filters"),
    ("balance", "policies/balance"),
    ("place", "policies/place"),
    ("memory", "policies/memory"),
    ("cost", "policies/cost"),
    ("strategy", "policies/strategy"),
];

/// The configfs directory (under `scheduler/`) of part `part`'s
/// parameters.
pub fn param_dir(part: &str) -> Option<&'static str> {
    PARAM_DIRS.iter().find(|(p, _)| *p == part).map(|(_, d)| *d)
}

/// The index in [`PARAM_FIELDS`] of the parameter `part`.`field`.
pub fn param_index(part: &[u8], field: &[u8]) -> Option<usize> {
    PARAM_FIELDS
        .iter()
        .position(|f| f.part.as_bytes() == part && f.field.as_bytes() == field)
}

/// A field of a scheduler, as its configfs file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedField {
    /// `policy`: a policy name.
    Policy,
    /// `processes`: a process set.
    Processes,
    /// `nodes`: a node set.
    Nodes,
    /// `enabled`: a flag (shown `1` or `0`).
    Enabled,
}

impl SchedField {
    /// Every field, in the order `ssi-ctl` shows them.
    pub const ALL: [SchedField; 4] = [
        SchedField::Policy,
        SchedField::Processes,
        SchedField::Nodes,
        SchedField::Enabled,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            SchedField::Policy => "policy",
            SchedField::Processes => "processes",
            SchedField::Nodes => "nodes",
            SchedField::Enabled => "enabled",
        }
    }

    /// The field of a name.
    pub fn from_name(name: &[u8]) -> Option<SchedField> {
        SchedField::ALL
            .into_iter()
            .find(|f| f.name().as_bytes() == name)
    }

    /// Parses a value of the field.
    pub fn parse(self, input: &[u8]) -> Result<SchedChange, TextError> {
        Ok(match self {
            SchedField::Policy => SchedChange::Policy(parse_policy(input)?),
            SchedField::Processes => SchedChange::Processes(parse_process_set(input)?),
            SchedField::Nodes => SchedChange::Nodes(parse_node_set(input)?),
            SchedField::Enabled => SchedChange::Enabled(parse_flag(input)?),
        })
    }

    /// Writes the field of `s` as an operator reads it (no newline).
    pub fn write(self, s: &Scheduler, out: &mut impl Write) -> fmt::Result {
        match self {
            SchedField::Policy => write!(out, "{}", s.policy),
            SchedField::Processes => write!(out, "{}", s.processes),
            SchedField::Nodes => write!(out, "{}", s.nodes),
            SchedField::Enabled => write!(out, "{}", u8::from(s.enabled)),
        }
    }
}

/// A new value of one field of a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedChange {
    /// Its policy.
    Policy(PolicyKind),
    /// Its process set.
    Processes(ProcessSet),
    /// Its node set.
    Nodes(NodeSet),
    /// Whether it runs.
    Enabled(bool),
}

impl SchedChange {
    /// Changes `s` (unchecked: the configuration is validated as a whole).
    pub fn apply_to(self, s: &mut Scheduler) {
        match self {
            SchedChange::Policy(p) => s.policy = p,
            SchedChange::Processes(p) => s.processes = p,
            SchedChange::Nodes(n) => s.nodes = n,
            SchedChange::Enabled(e) => s.enabled = e,
        }
    }

    /// Changes the scheduler `name` of `c`.
    pub fn apply(self, c: &mut Config, name: &[u8]) -> Result<(), ConfigError> {
        let mut s = *c.get(name).ok_or(ConfigError::NoSuchScheduler)?;
        self.apply_to(&mut s);
        c.replace(s)
    }
}

/// One line of the `scheduler/command` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `add NAME POLICY`.
    Add {
        /// The new scheduler's name.
        name: Name,
        /// Its policy.
        policy: PolicyKind,
    },
    /// `remove NAME`.
    Remove(Name),
    /// `set NAME FIELD VALUE`.
    Set {
        /// The scheduler.
        name: Name,
        /// The change.
        change: SchedChange,
    },
    /// `param PART.FIELD VALUE`.
    Param {
        /// The parameter's index in [`PARAM_FIELDS`].
        index: usize,
        /// Its new value (its range is checked with the others').
        value: ParamValue,
    },
    /// `pin PID [NODE]`.
    Pin(Pin),
    /// `unpin PID`.
    Unpin(u32),
}

/// The first word of `s` and what follows it (blanks skipped before).
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    let s = s.trim_ascii_start();
    let end = s
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The single word `s` holds; `Empty` or `Trailing` otherwise.
fn only_word(s: &[u8]) -> Result<&[u8], TextError> {
    let (w, rest) = split_word(s);
    if w.is_empty() {
        return Err(TextError::Empty);
    }
    if !rest.trim_ascii().is_empty() {
        return Err(TextError::Trailing);
    }
    Ok(w)
}

/// Parses one command (what `echo` writes: a trailing newline is fine).
pub fn parse_command(input: &[u8]) -> Result<Command, TextError> {
    let s = content(input)?;
    let (verb, rest) = split_word(s);
    let (name, rest) = split_word(rest);
    match verb {
        b"add" => {
            let name = parse_name(name)?;
            let policy = parse_policy(only_word(rest)?)?;
            Ok(Command::Add { name, policy })
        }
        b"remove" => {
            if !rest.trim_ascii().is_empty() {
                return Err(TextError::Trailing);
            }
            Ok(Command::Remove(parse_name(name)?))
        }
        b"set" => {
            let name = parse_name(name)?;
            let (field, value) = split_word(rest);
            let field = SchedField::from_name(field).ok_or(TextError::Unknown)?;
            Ok(Command::Set {
                name,
                change: field.parse(value)?,
            })
        }
        b"pin" | b"unpin" => {
            let pid = number(name, 1, u64::from(MAX_ID))? as u32;
            if verb == b"unpin" {
                if !rest.trim_ascii().is_empty() {
                    return Err(TextError::Trailing);
                }
                return Ok(Command::Unpin(pid));
            }
            let node = match rest.trim_ascii() {
                b"" => 0,
                w => number(only_word(w)?, 1, u64::from(MAX_SET_NODE))? as u16,
            };
            Ok(Command::Pin(Pin { pid, node }))
        }
        b"param" => {
            let dot = name
                .iter()
                .position(|&b| b == b'.')
                .ok_or(TextError::NoSuchParam)?;
            let index =
                param_index(&name[..dot], &name[dot + 1..]).ok_or(TextError::NoSuchParam)?;
            Ok(Command::Param {
                index,
                value: parse_param_value(&PARAM_FIELDS[index], rest)?,
            })
        }
        _ => Err(TextError::Unknown),
    }
}

impl Command {
    /// Applies the command to `c` (unchecked as a whole: the caller
    /// validates the result).
    pub fn apply(&self, c: &mut Config) -> Result<(), ConfigError> {
        match *self {
            Command::Add { name, policy } => c.add(Scheduler::new(name, policy)),
            Command::Remove(name) => c.remove(name.as_bytes()),
            Command::Pin(p) => c.pin(p),
            Command::Unpin(pid) => c.unpin(pid),
            Command::Set { name, change } => change.apply(c, name.as_bytes()),
            Command::Param { index, value } => {
                let field: &ParamField =
                    PARAM_FIELDS
                        .get(index)
                        .ok_or(ConfigError::BadParam(BadParam {
                            part: "?",
                            field: "?",
                        }))?;
                if field.store(&mut c.params, value) {
                    Ok(())
                } else {
                    Err(ConfigError::BadParam(BadParam {
                        part: field.part,
                        field: field.field,
                    }))
                }
            }
        }
    }
}

#[cfg(test)]
mod pin_tests {
    use super::*;

    #[test]
    fn pin_commands_parse_and_apply() {
        assert_eq!(
            parse_command(b"pin 70000\n"),
            Ok(Command::Pin(Pin {
                pid: 70000,
                node: 0
            }))
        );
        assert_eq!(
            parse_command(b"pin 70000 3"),
            Ok(Command::Pin(Pin {
                pid: 70000,
                node: 3
            }))
        );
        assert_eq!(parse_command(b"unpin 70000"), Ok(Command::Unpin(70000)));
        assert_eq!(parse_command(b"pin 0"), Err(TextError::OutOfRange));
        assert_eq!(parse_command(b"pin 5 64"), Err(TextError::OutOfRange));
        assert_eq!(parse_command(b"pin 5 3 4"), Err(TextError::Trailing));
        assert_eq!(parse_command(b"unpin 5 3"), Err(TextError::Trailing));
        assert_eq!(parse_command(b"pin x"), Err(TextError::NotANumber));
        let mut c = Config::new(1);
        parse_command(b"pin 42 2").unwrap().apply(&mut c).unwrap();
        assert_eq!(c.pin_of(42), Some(Pin { pid: 42, node: 2 }));
        parse_command(b"unpin 42").unwrap().apply(&mut c).unwrap();
        assert_eq!(c.pin_of(42), None);
        assert_eq!(
            parse_command(b"unpin 42").unwrap().apply(&mut c),
            Err(ConfigError::NotPinned)
        );
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::cost::Strategy;
    use super::super::params::BalanceParams;
    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s.as_bytes()).unwrap()
    }

    #[test]
    fn param_dirs_cover_every_part() {
        for f in PARAM_FIELDS {
            assert!(param_dir(f.part).is_some(), "{}", f.part);
            assert_eq!(
                param_index(f.part.as_bytes(), f.field.as_bytes()).map(|i| PARAM_FIELDS[i].field),
                Some(f.field)
            );
        }
        assert_eq!(param_dir("load"), Some("probes"));
        assert_eq!(param_dir("report"), Some("filters"));
        assert_eq!(param_dir("cost"), Some("policies/cost"));
        assert_eq!(param_dir("nope"), None);
        assert_eq!(param_index(b"balance", b"nope"), None);
    }

    #[test]
    fn fields_parse_and_show() {
        let mut s = Scheduler::new(name("x"), PolicyKind::Balance);
        for (field, text, shown) in [
            ("policy", "least_loaded\n", "least_loaded"),
            ("processes", " uid 1000\n", "uid 1000"),
            ("nodes", "3,1,2\n", "1-3"),
            ("enabled", "on\n", "1"),
        ] {
            let f = SchedField::from_name(field.as_bytes()).unwrap();
            assert_eq!(f.name(), field);
            f.parse(text.as_bytes()).unwrap().apply_to(&mut s);
            let mut out = std::string::String::new();
            f.write(&s, &mut out).unwrap();
            assert_eq!(out, shown);
        }
        assert_eq!(SchedField::from_name(b"name"), None);
        assert_eq!(SchedField::Nodes.parse(b"0"), Err(TextError::OutOfRange));
        assert_eq!(SchedField::Policy.parse(b"nope"), Err(TextError::Unknown));
        assert_eq!(SchedField::Enabled.parse(b""), Err(TextError::Empty));
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse_command(b"add batch balance\n"),
            Ok(Command::Add {
                name: name("batch"),
                policy: PolicyKind::Balance
            })
        );
        assert_eq!(
            parse_command(b"  remove   batch "),
            Ok(Command::Remove(name("batch")))
        );
        assert_eq!(
            parse_command(b"set batch processes pids 5 7\n"),
            Ok(Command::Set {
                name: name("batch"),
                change: SchedChange::Processes(ProcessSet::Pids(
                    super::super::config::PidList::new(&[5, 7]).unwrap()
                ))
            })
        );
        assert_eq!(
            parse_command(b"set batch nodes 1-3, 7"),
            Ok(Command::Set {
                name: name("batch"),
                change: SchedChange::Nodes(parse_node_set(b"1-3,7").unwrap())
            })
        );
        match parse_command(b"param strategy.small lazy\n").unwrap() {
            Command::Param { index, value } => {
                let field = &PARAM_FIELDS[index];
                assert_eq!((field.part, field.field), ("strategy", "small"));
                assert_eq!(value, ParamValue::Strategy(Strategy::Lazy));
            }
            c => panic!("{c:?}"),
        }
        match parse_command(b"param balance.margin 300").unwrap() {
            Command::Param { value, .. } => assert_eq!(value, ParamValue::Number(300)),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn bad_commands_say_why() {
        for (text, why) in [
            ("", TextError::Empty),
            ("\n", TextError::Empty),
            ("launch x balance", TextError::Unknown),
            ("add", TextError::Empty),
            ("add Big balance", TextError::BadName),
            ("add x", TextError::Empty),
            ("add x nope", TextError::Unknown),
            ("add x balance more", TextError::Trailing),
            ("remove x y", TextError::Trailing),
            ("remove", TextError::Empty),
            ("set x", TextError::Unknown),
            ("set x colour red", TextError::Unknown),
            ("set x nodes 0", TextError::OutOfRange),
            ("set x nodes", TextError::Empty),
            ("set x enabled maybe", TextError::Unknown),
            ("set x processes pids", TextError::Empty),
            ("param margin 3", TextError::NoSuchParam),
            ("param balance.nope 3", TextError::NoSuchParam),
            ("param balance.margin x", TextError::NotANumber),
            ("param balance.margin", TextError::Empty),
            ("param strategy.small fast", TextError::Unknown),
        ] {
            assert_eq!(parse_command(text.as_bytes()), Err(why), "{text:?}");
        }
    }

    #[test]
    fn commands_apply() {
        let mut c = Config::new(1);
        parse_command(b"add b balance")
            .unwrap()
            .apply(&mut c)
            .unwrap();
        assert_eq!(
            parse_command(b"add b memory").unwrap().apply(&mut c),
            Err(ConfigError::DuplicateName)
        );
        parse_command(b"set b enabled 1")
            .unwrap()
            .apply(&mut c)
            .unwrap();
        parse_command(b"set b policy memory")
            .unwrap()
            .apply(&mut c)
            .unwrap();
        let s = c.get(b"b").unwrap();
        assert!(s.enabled);
        assert_eq!(s.policy, PolicyKind::Memory);
        assert_eq!(
            parse_command(b"set other enabled 1").unwrap().apply(&mut c),
            Err(ConfigError::NoSuchScheduler)
        );
        parse_command(b"param balance.margin 300")
            .unwrap()
            .apply(&mut c)
            .unwrap();
        assert_eq!(c.params.policy.balance.margin, 300);
        // Out of range once stored: the caller's validation refuses it.
        parse_command(b"param balance.margin 99999")
            .unwrap()
            .apply(&mut c)
            .unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::BadParam(_))));
        c.params.policy.balance = BalanceParams::DEFAULT;
        // Too big for its field: refused at once.
        assert_eq!(
            parse_command(b"param balance.margin 99999999999")
                .unwrap()
                .apply(&mut c),
            Err(ConfigError::BadParam(BadParam {
                part: "balance",
                field: "margin"
            }))
        );
        parse_command(b"remove b").unwrap().apply(&mut c).unwrap();
        assert!(c.schedulers().is_empty());
        assert_eq!(
            parse_command(b"remove b").unwrap().apply(&mut c),
            Err(ConfigError::NoSuchScheduler)
        );
    }
}
