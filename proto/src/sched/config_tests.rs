//! Unit and property tests of the configuration: validation, the codec,
//! the text forms and the parameters by name.

extern crate std;
use super::super::wire::WireError;
use super::*;
use proptest::prelude::*;
// The migration strategy, not proptest's (whose methods stay usable).
use super::Strategy;
use proptest::strategy::Strategy as _;
use std::string::{String, ToString};
use std::vec::Vec;

fn name(s: &str) -> Name {
    Name::new(s.as_bytes()).unwrap()
}

fn sample() -> Config {
    let mut c = Config::new(3);
    c.generation = 41;
    let mut batch = Scheduler::new(name("batch"), PolicyKind::Balance);
    batch.processes = ProcessSet::Uid(1000);
    batch.nodes = parse_node_set(b"1-3,7").unwrap();
    batch.enabled = true;
    c.add(batch).unwrap();
    let mut exec = Scheduler::new(name("exec-rr"), PolicyKind::RoundRobin);
    exec.processes = ProcessSet::Pids(PidList::new(&[70000, 5, 9]).unwrap());
    c.add(exec).unwrap();
    c.add(Scheduler::new(name("mem_0"), PolicyKind::Memory))
        .unwrap();
    c
}

fn encoded(c: &Config) -> Vec<u8> {
    let mut b = std::vec![0u8; c.encoded_len()];
    assert_eq!(c.encode(&mut b), Ok(b.len()));
    b
}

#[test]
fn names() {
    assert!(Name::new(b"a").is_ok());
    assert!(Name::new(&[b'z'; 31]).is_ok());
    for bad in [&b""[..], &[b'a'; 32], b"Batch", b"a b", b"a/b", b"\xc3\xa9"] {
        assert_eq!(Name::new(bad), Err(ConfigError::BadName), "{bad:?}");
    }
    assert_eq!(name("x-1_y").as_str(), "x-1_y");
}

#[test]
fn schedulers_are_added_replaced_removed() {
    let mut c = sample();
    assert_eq!(c.schedulers().len(), 3);
    assert_eq!(
        c.add(Scheduler::new(name("batch"), PolicyKind::Memory)),
        Err(ConfigError::DuplicateName)
    );
    let mut empty = Scheduler::new(name("x"), PolicyKind::Memory);
    empty.nodes = NodeSet::EMPTY;
    assert_eq!(c.add(empty), Err(ConfigError::EmptyNodeSet));
    empty.nodes = NodeSet::Only(1);
    assert_eq!(c.add(empty), Err(ConfigError::BadNodeSet));
    let mut s = *c.get(b"mem_0").unwrap();
    s.enabled = true;
    c.replace(s).unwrap();
    assert!(c.get(b"mem_0").unwrap().enabled);
    assert_eq!(
        c.replace(Scheduler::new(name("nope"), PolicyKind::Memory)),
        Err(ConfigError::NoSuchScheduler)
    );
    c.remove(b"batch").unwrap();
    assert_eq!(c.remove(b"batch"), Err(ConfigError::NoSuchScheduler));
    let names: Vec<&str> = c.schedulers().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["exec-rr", "mem_0"]);
    for i in 0..6 {
        c.add(Scheduler::new(
            name(&std::format!("s{i}")),
            PolicyKind::Balance,
        ))
        .unwrap();
    }
    assert_eq!(
        c.add(Scheduler::new(name("s9"), PolicyKind::Balance)),
        Err(ConfigError::TooManySchedulers)
    );
}

#[test]
fn which_scheduler_handles_a_process() {
    let c = sample();
    let p = ProcessIds {
        pid: 5,
        uid: 1000,
        sid: 1,
        pgid: 1,
    };
    let any = |_| true;
    assert_eq!(
        c.scheduler_for(&p, 2, any).map(|s| s.name.as_str()),
        Some("batch")
    );
    // Node 4 is not in batch's set; exec-rr is disabled.
    assert_eq!(c.scheduler_for(&p, 4, any), None);
    let placing = |k: PolicyKind| k.place_kind().is_some();
    assert_eq!(c.scheduler_for(&p, 2, placing), None);
    let mut c2 = c;
    let mut s = *c2.get(b"exec-rr").unwrap();
    s.enabled = true;
    c2.replace(s).unwrap();
    assert_eq!(
        c2.scheduler_for(&p, 4, placing).map(|s| s.policy),
        Some(PolicyKind::RoundRobin)
    );
    assert!(ProcessSet::Session(1).contains(&p) && ProcessSet::Pgrp(1).contains(&p));
    assert!(!ProcessSet::Pgrp(2).contains(&p) && ProcessSet::All.contains(&p));
}

#[test]
fn generations() {
    let a = sample();
    let mut b = a;
    assert!(!b.supersedes(&a));
    b.bump(2);
    assert!(b.supersedes(&a) && !a.supersedes(&b));
    let mut c = a;
    c.bump(5);
    // Two changes at once: the higher node's wins everywhere.
    assert!(c.supersedes(&b) && !b.supersedes(&c));
}

#[test]
fn codec_round_trip_and_refusals() {
    let c = sample();
    let b = encoded(&c);
    assert_eq!(b.len(), HEADER_LEN + 3 * SCHEDULER_LEN);
    assert_eq!(Config::decode(&b), Ok(c));
    let empty = Config::new(1);
    assert_eq!(Config::decode(&encoded(&empty)), Ok(empty));
    assert_eq!(
        Config::decode(&b[..b.len() - 1]),
        Err(ConfigError::Malformed(WireError::Truncated))
    );
    let mut long = b.clone();
    long.push(0);
    assert_eq!(
        Config::decode(&long),
        Err(ConfigError::Malformed(WireError::TrailingBytes))
    );
    let with = |i: usize, v: u8| {
        let mut x = b.clone();
        x[i] = v;
        Config::decode(&x)
    };
    let s0 = HEADER_LEN;
    for v in [1, 3] {
        assert_eq!(
            with(0, v),
            Err(ConfigError::Malformed(WireError::BadVersion))
        );
    }
    assert_eq!(with(1, 9), Err(ConfigError::TooManySchedulers));
    assert_eq!(
        with(1, 4),
        Err(ConfigError::Malformed(WireError::Truncated))
    );
    assert_eq!(with(2, 0), Err(ConfigError::BadOrigin));
    // Byte 4 counts the pins: one announced, none there.
    assert_eq!(
        with(4, 1),
        Err(ConfigError::Malformed(WireError::Truncated))
    );
    assert_eq!(with(4, 33), Err(ConfigError::TooManyPins));
    assert_eq!(
        with(5, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(with(120, 4), Err(ConfigError::UnknownStrategy));
    assert_eq!(
        with(123, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert!(
        matches!(with(16, 0), Err(ConfigError::BadParam(p)) if p.part == "load" && p.field == "period_ms")
    );
    assert_eq!(with(s0, b'B'), Err(ConfigError::BadName));
    assert_eq!(
        with(s0 + 31, b'x'),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(
        with(s0 + 6, b'x'),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(with(s0 + 32, 5), Err(ConfigError::UnknownPolicy));
    assert_eq!(
        with(s0 + 33, 2),
        Err(ConfigError::Malformed(WireError::BadFlags))
    );
    assert_eq!(with(s0 + 34, 6), Err(ConfigError::UnknownProcessSet));
    assert_eq!(
        with(s0 + 34, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(
        with(s0 + 35, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(with(s0 + 68, 3), Err(ConfigError::UnknownNodeSet));
    assert_eq!(
        with(s0 + 68, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(
        with(s0 + 70, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    // No node: the mask of "1-3,7" is in bytes 76..84.
    let mut x = b.clone();
    x[s0 + 76..s0 + 84].fill(0);
    assert_eq!(Config::decode(&x), Err(ConfigError::EmptyNodeSet));
    // The pid list: count 0, count 9, a duplicate, a stray id after it.
    let s1 = HEADER_LEN + SCHEDULER_LEN;
    assert_eq!(with(s1 + 35, 0), Err(ConfigError::BadProcessSet));
    assert_eq!(with(s1 + 35, 9), Err(ConfigError::BadProcessSet));
    assert_eq!(with(s1 + 40, 9), Err(ConfigError::BadProcessSet));
    assert_eq!(
        with(s1 + 48, 1),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    // The second scheduler named as the first.
    let mut x = b.clone();
    x.copy_within(s0..s0 + 32, s1);
    assert_eq!(Config::decode(&x), Err(ConfigError::DuplicateName));
    // An invalid configuration is not encoded; nor into too small a buffer.
    let mut bad = c;
    bad.params.policy.memory.low_per_mille = 999;
    let mut out = [0u8; MAX_CONFIG_LEN];
    assert!(matches!(
        bad.encode(&mut out),
        Err(ConfigError::BadParam(_))
    ));
    assert_eq!(
        c.encode(&mut out[..HEADER_LEN]),
        Err(ConfigError::Malformed(WireError::BufferTooSmall))
    );
    assert_eq!(ConfigError::EmptyNodeSet.describe(), "empty node set");
}

#[test]
fn text_forms() {
    let ps = |s: &str| parse_process_set(s.as_bytes());
    assert_eq!(ps("all\n"), Ok(ProcessSet::All));
    assert_eq!(ps("  uid   1000 "), Ok(ProcessSet::Uid(1000)));
    assert_eq!(ps("uid 0"), Ok(ProcessSet::Uid(0)));
    assert_eq!(ps("session 123"), Ok(ProcessSet::Session(123)));
    assert_eq!(ps("pgrp 77"), Ok(ProcessSet::Pgrp(77)));
    assert_eq!(
        ps("pids 1 2 3"),
        Ok(ProcessSet::Pids(PidList::new(&[1, 2, 3]).unwrap()))
    );
    assert_eq!(ps(""), Err(TextError::Empty));
    assert_eq!(ps("users"), Err(TextError::Unknown));
    assert_eq!(ps("uid"), Err(TextError::Empty));
    assert_eq!(ps("uid x"), Err(TextError::NotANumber));
    assert_eq!(ps("uid -1"), Err(TextError::NotANumber));
    assert_eq!(ps("uid 4294967295"), Err(TextError::OutOfRange));
    assert_eq!(ps("session 0"), Err(TextError::OutOfRange));
    assert_eq!(ps("pgrp 2147483648"), Err(TextError::OutOfRange));
    assert_eq!(ps("uid 1 2"), Err(TextError::Trailing));
    assert_eq!(ps("pids"), Err(TextError::Empty));
    assert_eq!(ps("pids 1 1"), Err(TextError::Duplicate));
    assert_eq!(ps("pids 1 2 3 4 5 6 7 8 9"), Err(TextError::TooMany));
    assert_eq!(ps("pids 99999999999999999999"), Err(TextError::OutOfRange));

    let ns = |s: &str| parse_node_set(s.as_bytes());
    let ids = |v: &[u16]| v.iter().fold(NodeSet::EMPTY, |s, &i| s.with(i).unwrap());
    assert_eq!(ns("all"), Ok(NodeSet::All));
    assert_eq!(ns("1,2,5\n"), Ok(ids(&[1, 2, 5])));
    assert_eq!(ns("1-3"), Ok(ids(&[1, 2, 3])));
    assert_eq!(ns(" 1 - 3 , 7 "), Ok(ids(&[1, 2, 3, 7])));
    assert_eq!(ns("63"), Ok(ids(&[63])));
    assert_eq!(ns("0"), Err(TextError::OutOfRange));
    assert_eq!(ns("64"), Err(TextError::OutOfRange));
    assert_eq!(ns("3-1"), Err(TextError::BadRange));
    assert_eq!(ns("1,,2"), Err(TextError::NotANumber));
    assert_eq!(ns("1-"), Err(TextError::NotANumber));
    assert_eq!(ns("none"), Err(TextError::NotANumber));
    assert_eq!(ns(""), Err(TextError::Empty));

    assert_eq!(parse_policy(b"least_loaded\n"), Ok(PolicyKind::LeastLoaded));
    assert_eq!(parse_policy(b"mosix"), Err(TextError::Unknown));
    assert_eq!(parse_strategy(b"postcopy"), Ok(Strategy::Postcopy));
    assert_eq!(parse_strategy(b"Eager"), Err(TextError::Unknown));
    assert_eq!(parse_flag(b"on\n"), Ok(true));
    assert_eq!(parse_flag(b"0"), Ok(false));
    assert_eq!(parse_flag(b"2"), Err(TextError::Unknown));
    assert_eq!(parse_name(b"batch\n"), Ok(name("batch")));
    assert_eq!(parse_name(b"Batch"), Err(TextError::BadName));
    assert_eq!(
        TextError::BadRange.describe(),
        "range ends before it starts"
    );
}

#[test]
fn formatting() {
    let c = sample();
    let lines: Vec<String> = c.schedulers().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        lines,
        [
            "batch: balance, enabled, processes uid 1000, nodes 1-3,7",
            "exec-rr: round_robin, disabled, processes pids 70000 5 9, nodes all",
            "mem_0: memory, disabled, processes all, nodes all",
        ]
    );
    let ids = |v: &[u16]| v.iter().fold(NodeSet::EMPTY, |s, &i| s.with(i).unwrap());
    assert_eq!(ids(&[1, 2, 4, 5, 6, 9, 63]).to_string(), "1,2,4-6,9,63");
    assert_eq!(NodeSet::EMPTY.to_string(), "none");
    assert_eq!(ProcessSet::Session(9).to_string(), "session 9");
    assert_eq!(ProcessSet::Pgrp(8).to_string(), "pgrp 8");
    // Into a fixed buffer: what does not fit is refused.
    let mut b: TextBuf<16> = TextBuf::new();
    use core::fmt::Write;
    write!(b, "{}", ids(&[1, 3])).unwrap();
    assert_eq!(b.as_str(), "1,3");
    assert!(write!(
        b,
        "{}",
        ProcessSet::Pids(PidList::new(&[1234567, 7654321]).unwrap())
    )
    .is_err());
    assert_eq!(b.as_bytes(), b"1,3pids 1234567 ");
    b.clear();
    assert_eq!(b.as_str(), "");
}

#[test]
fn parameters_by_name() {
    let mut p = Params::DEFAULT;
    let mut out: TextBuf<32> = TextBuf::new();
    write_param(&p, b"balance", b"margin", &mut out).unwrap();
    assert_eq!(out.as_str(), "256\n");
    set_param(&mut p, b"balance", b"margin", b"300\n").unwrap();
    assert_eq!(p.policy.balance.margin, 300);
    set_param(&mut p, b"strategy", b"large", b"lazy").unwrap();
    assert_eq!(p.policy.strategy.large, Strategy::Lazy);
    out.clear();
    write_param(&p, b"strategy", b"large", &mut out).unwrap();
    assert_eq!(out.as_str(), "lazy\n");
    set_param(&mut p, b"strategy", b"small_max_bytes", b"1048576").unwrap();
    assert_eq!(p.policy.strategy.small_max_bytes, 1 << 20);
    // Refused: not a number, too big for its field, out of its range,
    // out of range with the others; p stays.
    let before = p;
    assert_eq!(
        set_param(&mut p, b"balance", b"margin", b"x"),
        Err(TextError::NotANumber)
    );
    assert_eq!(
        set_param(&mut p, b"balance", b"margin", b"4294967296"),
        Err(TextError::OutOfRange)
    );
    assert_eq!(
        set_param(&mut p, b"balance", b"margin", b"100000"),
        Err(TextError::OutOfRange)
    );
    assert_eq!(
        set_param(&mut p, b"report", b"max_age_ms", b"500"),
        Err(TextError::OutOfRange)
    );
    assert_eq!(
        set_param(&mut p, b"strategy", b"small", b"fast"),
        Err(TextError::Unknown)
    );
    assert_eq!(
        set_param(&mut p, b"balance", b"speed", b"1"),
        Err(TextError::NoSuchParam)
    );
    assert_eq!(
        set_param(&mut p, b"balance", b"margin", b""),
        Err(TextError::Empty)
    );
    assert_eq!(p, before);
    // Every field by name, each once, and each reads back what is set.
    for (i, f) in PARAM_FIELDS.iter().enumerate() {
        assert!(PARAM_FIELDS[..i]
            .iter()
            .all(|g| (g.part, g.field) != (f.part, f.field)));
        let mut t: TextBuf<32> = TextBuf::new();
        write_param(
            &Params::DEFAULT,
            f.part.as_bytes(),
            f.field.as_bytes(),
            &mut t,
        )
        .unwrap();
        let mut q = Params::DEFAULT;
        set_param(&mut q, f.part.as_bytes(), f.field.as_bytes(), t.as_bytes()).unwrap();
        assert_eq!(q, Params::DEFAULT, "{}/{}", f.part, f.field);
        assert!(find_param(f.part.as_bytes(), f.field.as_bytes()).is_some());
    }
}

fn scheduler_strategy() -> impl proptest::strategy::Strategy<Value = Scheduler> {
    (
        "[a-z0-9_-]{1,31}",
        0usize..4,
        0u8..5,
        any::<u32>(),
        proptest::collection::vec(1u32..=MAX_ID, 1..=MAX_PIDS),
        any::<bool>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(n, policy, kind, id, pids, all_nodes, mask, enabled)| {
            let mut pids = pids;
            pids.sort();
            pids.dedup();
            let processes = match kind {
                0 => ProcessSet::All,
                1 => ProcessSet::Uid(id.min(u32::MAX - 1)),
                2 => ProcessSet::Session(id % MAX_ID + 1),
                3 => ProcessSet::Pgrp(id % MAX_ID + 1),
                _ => ProcessSet::Pids(PidList::new(&pids).unwrap()),
            };
            Scheduler {
                name: name(&n),
                policy: PolicyKind::ALL[policy],
                processes,
                nodes: if all_nodes {
                    NodeSet::All
                } else {
                    NodeSet::Only(mask & !1 | 2)
                },
                enabled,
            }
        })
}

proptest! {
    #[test]
    fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..MAX_CONFIG_LEN + 8)) {
        if let Ok(c) = Config::decode(&body) {
            prop_assert_eq!(encoded(&c), body);
        }
    }

    #[test]
    fn mutated_configs_are_refused_or_round_trip(i in 0usize..HEADER_LEN + 3 * SCHEDULER_LEN, v: u8) {
        let mut b = encoded(&sample());
        b[i] = v;
        if let Ok(c) = Config::decode(&b) {
            prop_assert_eq!(c.validate(), Ok(()));
            prop_assert_eq!(encoded(&c), b);
        }
    }

    #[test]
    fn random_configs_validate_and_round_trip_or_are_refused(
        scheds in proptest::collection::vec(scheduler_strategy(), 0..10),
        origin in 0u16..5000,
        generation: u64,
        raw in proptest::collection::vec(any::<u32>(), PARAM_FIELDS.len()),
    ) {
        let mut c = Config::new(origin);
        c.generation = generation;
        // Parameters: most default, some anything.
        for (f, v) in PARAM_FIELDS.iter().zip(&raw) {
            if v % 3 == 0 {
                let value = match f.get(&c.params) {
                    ParamValue::Number(_) => ParamValue::Number(u64::from(v / 3)),
                    ParamValue::Strategy(_) => ParamValue::Strategy(Strategy::ALL[*v as usize % 4]),
                };
                prop_assert!(f.store(&mut c.params, value));
            }
        }
        let mut added = 0;
        for s in &scheds {
            match c.add(*s) {
                Ok(()) => added += 1,
                Err(ConfigError::DuplicateName) => prop_assert!(c.get(s.name.as_bytes()).is_some()),
                Err(ConfigError::TooManySchedulers) => prop_assert_eq!(added, MAX_SCHEDULERS),
                Err(e) => prop_assert!(false, "{:?} refused: {:?}", s, e),
            }
        }
        let mut out = [0u8; MAX_CONFIG_LEN];
        match c.validate() {
            Ok(()) => {
                let n = c.encode(&mut out).unwrap();
                prop_assert_eq!(n, c.encoded_len());
                prop_assert_eq!(Config::decode(&out[..n]), Ok(c));
            }
            Err(e) => {
                let why = match c.params.check() {
                    Some(b) if origin != 0 && origin <= 4095 => ConfigError::BadParam(b),
                    _ => ConfigError::BadOrigin,
                };
                prop_assert_eq!(e, why);
                prop_assert_eq!(c.encode(&mut out), Err(e));
            }
        }
        // The text forms read back what they write.
        for s in c.schedulers() {
            prop_assert_eq!(parse_process_set(s.processes.to_string().as_bytes()), Ok(s.processes));
            if s.nodes != NodeSet::Only(0) {
                let nodes = s.nodes.to_string();
                prop_assert_eq!(parse_node_set(nodes.as_bytes()), Ok(s.nodes));
            }
            prop_assert_eq!(parse_policy(s.policy.to_string().as_bytes()), Ok(s.policy));
            prop_assert_eq!(parse_name(s.name.to_string().as_bytes()), Ok(s.name));
        }
    }

    #[test]
    fn node_set_text_round_trips(mask: u64) {
        let set = NodeSet::Only(mask & !1);
        let text = set.to_string();
        if set.is_empty() {
            prop_assert_eq!(text, "none");
        } else {
            prop_assert_eq!(parse_node_set(text.as_bytes()), Ok(set));
        }
    }

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,40}", t in "(all|uid|session|pgrp|pids|[0-9 ,-]){0,12}") {
        let _ = parse_process_set(s.as_bytes());
        let _ = parse_node_set(s.as_bytes());
        let _ = parse_flag(s.as_bytes());
        let mut p = Params::DEFAULT;
        let _ = set_param(&mut p, b"load", b"settle", s.as_bytes());
        prop_assert!(p.check().is_none());
        if let Ok(ps) = parse_process_set(t.as_bytes()) {
            prop_assert_eq!(parse_process_set(ps.to_string().as_bytes()), Ok(ps));
        }
        if let Ok(ns) = parse_node_set(t.as_bytes()) {
            prop_assert_eq!(parse_node_set(ns.to_string().as_bytes()), Ok(ns));
        }
    }
}

#[test]
fn pins_round_trip_and_refusals() {
    let mut c = sample();
    c.pin(Pin {
        pid: 70000,
        node: 0,
    })
    .unwrap();
    c.pin(Pin {
        pid: 70001,
        node: 3,
    })
    .unwrap();
    // Pinning again replaces.
    c.pin(Pin {
        pid: 70000,
        node: 2,
    })
    .unwrap();
    assert_eq!(c.pins().len(), 2);
    assert_eq!(
        c.pin_of(70000),
        Some(Pin {
            pid: 70000,
            node: 2
        })
    );
    let b = encoded(&c);
    assert_eq!(b.len(), HEADER_LEN + 3 * SCHEDULER_LEN + 2 * PIN_LEN);
    assert_eq!(Config::decode(&b), Ok(c));
    // The same pid twice on the wire.
    let mut twice = b.clone();
    let p1 = b.len() - PIN_LEN;
    twice[p1..p1 + 4].copy_from_slice(&70000u32.to_le_bytes());
    assert_eq!(Config::decode(&twice), Err(ConfigError::BadPin));
    // Padding of a pin.
    let mut pad = b.clone();
    pad[b.len() - 1] = 1;
    assert_eq!(
        Config::decode(&pad),
        Err(ConfigError::Malformed(WireError::BadReserved))
    );
    assert_eq!(c.pin(Pin { pid: 0, node: 0 }), Err(ConfigError::BadPin));
    assert_eq!(c.pin(Pin { pid: 5, node: 64 }), Err(ConfigError::BadPin));
    assert_eq!(c.unpin(5), Err(ConfigError::NotPinned));
    c.unpin(70000).unwrap();
    assert_eq!(
        c.pins(),
        &[Pin {
            pid: 70001,
            node: 3
        }]
    );
    let mut full = Config::new(1);
    for pid in 1..=MAX_PINS as u32 {
        full.pin(Pin { pid, node: 0 }).unwrap();
    }
    assert_eq!(
        full.pin(Pin { pid: 999, node: 0 }),
        Err(ConfigError::TooManyPins)
    );
    assert_eq!(Config::decode(&encoded(&full)), Ok(full));
    assert_eq!(encoded(&full).len(), HEADER_LEN + MAX_PINS * PIN_LEN);
}
