//! `ssi-ctl ha`: high availability. `ha on PID` asks ssi.ko (`/dev/ssi`
//! op `Protect`) to protect a process: its home node has a checkpoint of
//! it written to the shared file system every interval, and restarts it
//! from the newest image on another node when the node running it is
//! lost; with `--replicas N` it runs as N copies compared at each write to
//! its standard output or error. `ha off PID` stops that (`FLAG_HA_OFF`),
//! and `ha status` shows `/proc/ssi/ha`: the node's counters, then one
//! line per process it protects, then the copies that run on it. `ha flip`
//! is a test aid: it flips a bit of a process's memory, through
//! `/proc/PID/mem` or (`--clean`) through the module without marking the
//! page dirty.
//!
//! `/proc/ssi/ha` (ha/status.rs in the module) is `key: value` header
//! lines, then `process:` lines of `key=value` fields. Header keys this
//! version does not know are kept, in order; process fields it does not
//! know are ignored.

use crate::checkpoint;
use crate::sysfs::{CtlError, Node};
use clap::Subcommand;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;
use ssi_proto::ctl::{CtlOp, CtlRequest, FLAG_HA_OFF};
use ssi_proto::ha::{MAX_INTERVAL_S, MIN_INTERVAL_S};
use std::fmt::Write as _;
use std::io;

/// `ssi-ctl ha ACTION`.
#[derive(Subcommand, Debug, PartialEq)]
pub enum HaAction {
    /// Protect a process (root or its owner, on its home node): a checkpoint every interval, and a
    /// restart from the newest one on another node if the node running it is lost.
    On {
        /// The process (its pid on its home node, this one).
        pid: u32,
        /// Seconds between checkpoints, 1 to 3600 (default: the node's default_interval_s).
        #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
        interval: Option<u32>,
        /// Run N copies (2 or 3) on distinct nodes and compare them at each write to the standard
        /// output or error (silent data corruption detection); the process must run away from its
        /// home (ssi-ctl migrate first).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=3))]
        replicas: Option<u8>,
    },
    /// Test aid (root): flip bit BIT of the byte at ADDR in process PID's memory (this node's pid).
    Flip {
        /// The process.
        pid: u32,
        /// The byte's address (0x... or decimal).
        #[arg(value_parser = parse_addr)]
        addr: u64,
        /// The bit, 0 to 7.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=7))]
        bit: u8,
        /// Through the module, without marking the page dirty (else through /proc/PID/mem).
        #[arg(long)]
        clean: bool,
    },
    /// Stop protecting a process (its images stay in the HA directory).
    Off {
        /// The process.
        pid: u32,
    },
    /// Show this node's HA counters and the processes it protects.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Why an interval is refused.
fn interval_range() -> String {
    format!("the interval must be {MIN_INTERVAL_S} to {MAX_INTERVAL_S} seconds")
}

/// `--interval SECONDS`.
fn parse_interval(s: &str) -> Result<u32, String> {
    let n: u32 = s.trim().parse().map_err(|_| format!("not a number of seconds; {}", interval_range()))?;
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&n) {
        return Err(interval_range());
    }
    Ok(n)
}

/// An address: `0x` hex or decimal.
fn parse_addr(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("{s} is not an address"))
}

/// Carries out `ssi-ctl ha ACTION`.
pub fn run(node: &Node, action: HaAction) -> Result<(), CtlError> {
    match action {
        HaAction::On { pid, interval, replicas } => protect(node, pid, interval, replicas),
        HaAction::Off { pid } => unprotect(node, pid),
        HaAction::Flip { pid, addr, bit, clean } => flip(node, pid, addr, bit, clean),
        HaAction::Status { json } => status(node, json),
    }
}

/// `ssi-ctl ha on PID [--interval SECONDS] [--replicas N]`.
fn protect(node: &Node, pid: u32, interval: Option<u32>, replicas: Option<u8>) -> Result<(), CtlError> {
    if let Some(s) = interval.filter(|s| !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(s)) {
        return Err(CtlError::Invalid { what: format!("interval {s} s"), why: interval_range() });
    }
    let req = CtlRequest { node: replicas.unwrap_or(0).into(), ..request(pid, interval.unwrap_or(0), false) };
    let (reply, errno) = checkpoint::request(node.root(), &req)?;
    if errno != 0 {
        return Err(checkpoint::refused(format!("protection of process {pid}"), &reply, errno));
    }
    match reply.message() {
        "" => println!("process {pid} protected"),
        m => println!("{m}"),
    }
    Ok(())
}

/// `ssi-ctl ha off PID`.
fn unprotect(node: &Node, pid: u32) -> Result<(), CtlError> {
    let (reply, errno) = checkpoint::request(node.root(), &request(pid, 0, true))?;
    if errno != 0 {
        return Err(checkpoint::refused(format!("ending the protection of process {pid}"), &reply, errno));
    }
    match reply.message() {
        "" => println!("process {pid} is no longer protected"),
        m => println!("{m}"),
    }
    Ok(())
}

/// `ssi-ctl ha flip PID ADDR BIT [--clean]`.
fn flip(node: &Node, pid: u32, addr: u64, bit: u8, clean: bool) -> Result<(), CtlError> {
    if clean {
        let req = CtlRequest {
            op: CtlOp::FlipBit,
            pid,
            image_fd: addr as u32,
            flags: 0,
            token: ((addr & 0xfff) as u32) * 8 + u32::from(bit),
            node: 0,
            strategy: 0,
            uffd: (addr >> 32) as u32,
        };
        let (reply, errno) = checkpoint::request(node.root(), &req)?;
        if errno != 0 {
            return Err(checkpoint::refused(format!("the bit flip in process {pid}"), &reply, errno));
        }
        println!("{}", reply.message());
        return Ok(());
    }
    use std::os::unix::fs::FileExt;
    let path = node.root().join(format!("proc/{pid}/mem"));
    let io = |e: io::Error| CtlError::Io(path.clone(), e);
    let mem = std::fs::OpenOptions::new().read(true).write(true).open(&path).map_err(io)?;
    let mut b = [0u8; 1];
    mem.read_exact_at(&mut b, addr).map_err(io)?;
    b[0] ^= 1 << bit;
    mem.write_all_at(&b, addr).map_err(io)?;
    println!("flipped bit {bit} of the byte at 0x{addr:x} of process {pid} through /proc/{pid}/mem");
    Ok(())
}

/// The `Protect` request block: every `interval_s` seconds (0: the node's
/// default), or `off`.
fn request(pid: u32, interval_s: u32, off: bool) -> CtlRequest {
    CtlRequest {
        op: CtlOp::Protect,
        pid,
        image_fd: 0,
        flags: if off { FLAG_HA_OFF } else { 0 },
        token: if off { 0 } else { interval_s },
        node: 0,
        strategy: 0,
        uffd: 0,
    }
}

/// `ssi-ctl ha status [--json]`.
fn status(node: &Node, json: bool) -> Result<(), CtlError> {
    node.check_loaded()?;
    let path = node.proc_path("ha");
    let text = match std::fs::metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CtlError::NotLoaded),
        _ => node.read(&path)?,
    };
    let st = parse(&text).map_err(|why| CtlError::Malformed(path, why))?;
    if json {
        println!("{}", crate::to_json(&st));
    } else {
        print!("{}", table(&st));
    }
    Ok(())
}

/// What `/proc/ssi/ha` holds.
#[derive(Debug, Default, PartialEq)]
pub struct HaStatus {
    /// Every `key: value` line, in the module's order (known or not).
    pub header: Vec<(String, String)>,
    /// The processes this node protects.
    pub processes: Vec<Protected>,
    /// The copies of replicated processes that run on this node.
    pub copies: Vec<CopyHere>,
}

/// A replicated process's copies, as its home node sees them.
#[derive(Debug, PartialEq, Serialize)]
pub struct Replicas {
    /// How many copies.
    pub replicas: u8,
    pub generation: u32,
    /// Each copy: `node:pid`, or its state when it does not run.
    pub copies: Vec<String>,
    /// Points compared; writes that reached the world; the newest good image (0: none yet).
    pub compared: u64,
    pub emitted: u64,
    pub good: u32,
    /// Points where copies disagreed; rollbacks of every copy; copies replaced.
    pub corruptions: u32,
    pub rollbacks: u32,
    pub replaced: u32,
}

/// A `copy:` line: a copy running on this node.
#[derive(Debug, PartialEq, Serialize)]
pub struct CopyHere {
    /// Its home node and its pid there.
    pub home: u16,
    pub pid: u32,
    /// 0: the primary.
    pub copy: u8,
    pub local_pid: u32,
    pub generation: u32,
    /// Writes counted.
    pub point: u64,
    /// Whether it stops at points.
    pub armed: bool,
}

/// One `process:` line: a protected process.
#[derive(Debug, PartialEq, Serialize)]
pub struct Protected {
    pub pid: u32,
    pub interval_s: u32,
    /// running, checkpointing, lost, restarting or given-up.
    pub phase: String,
    /// The node that runs it.
    pub node: u16,
    /// The newest complete image (0: none yet).
    pub newest: u32,
    /// The complete images kept, oldest first.
    pub kept: Vec<u32>,
    /// How old the newest image is; none before the first.
    pub age_ms: Option<u64>,
    /// The newest image's size, and how long the process was frozen for it.
    pub bytes: u64,
    pub frozen_us: u64,
    /// Checkpoints written and failed, restarts done.
    pub written: u64,
    pub failed: u64,
    pub restarts: u32,
    /// Its copies, when it is replicated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Replicas>,
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{key}={v} is not a number"))
}

/// A line's `key=value` fields.
fn pairs(fields: &str) -> Vec<(&str, &str)> {
    fields.split_whitespace().filter_map(|f| f.split_once('=')).collect()
}

/// Parses a `copy:` line's fields.
fn parse_copy(fields: &str) -> Result<CopyHere, String> {
    let pairs = pairs(fields);
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(format!("no {key}="));
    Ok(CopyHere {
        home: num("home", get("home")?)?,
        pid: num("pid", get("pid")?)?,
        copy: num("copy", get("copy")?)?,
        local_pid: num("local_pid", get("local_pid")?)?,
        generation: num("generation", get("generation")?)?,
        point: num("point", get("point")?)?,
        armed: get("armed")? == "1",
    })
}

/// Parses a `process:` line's fields (`key=value`, unknown keys ignored).
fn parse_process(fields: &str) -> Result<Protected, String> {
    let pairs = pairs(fields);
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(format!("no {key}="));
    let field = |key: &str| get(key).and_then(|v| num::<u64>(key, v));
    // In the module's order, so that the first wrong field is named.
    let pid = num("pid", get("pid")?)?;
    let interval_s = num("interval_s", get("interval_s")?)?;
    let phase = get("phase")?.to_string();
    let node = num("node", get("node")?)?;
    let newest = num("newest", get("newest")?)?;
    let kept = match get("kept")? {
        "-" => Vec::new(),
        list => list.split(',').map(|k| num("kept", k)).collect::<Result<_, _>>()?,
    };
    let age_ms = match get("age_ms")? {
        "-1" => None,
        v => Some(num("age_ms", v)?),
    };
    let replicas = match (get("replicas"), get("copies")) {
        (Ok(n), Ok(copies)) => Some(Replicas {
            replicas: num("replicas", n)?,
            generation: num("generation", get("generation")?)?,
            copies: copies.split(',').map(str::to_string).collect(),
            compared: field("compared")?,
            emitted: field("emitted")?,
            good: num("good", get("good")?)?,
            corruptions: num("corruptions", get("corruptions")?)?,
            rollbacks: num("rollbacks", get("rollbacks")?)?,
            replaced: num("replaced", get("replaced")?)?,
        }),
        _ => None,
    };
    Ok(Protected {
        pid,
        interval_s,
        phase,
        node,
        newest,
        kept,
        age_ms,
        bytes: field("bytes")?,
        frozen_us: field("frozen_us")?,
        written: field("written")?,
        failed: field("failed")?,
        restarts: num("restarts", get("restarts")?)?,
        replicas,
    })
}

/// Parses `/proc/ssi/ha`; a `process:` line it cannot read is an error
/// that names the line.
pub fn parse(text: &str) -> Result<HaStatus, String> {
    let mut st = HaStatus::default();
    for (i, line) in text.lines().enumerate() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        if k == "process" {
            st.processes.push(parse_process(v).map_err(|why| format!("line {}: {why}", i + 1))?);
        } else if k == "copy" {
            st.copies.push(parse_copy(v).map_err(|why| format!("line {}: {why}", i + 1))?);
        } else {
            st.header.push((k.to_string(), v.to_string()));
        }
    }
    Ok(st)
}

/// Header keys that are not counters in `--json`.
const TOP_KEYS: [&str; 4] = ["node", "directory", "default_interval_s", "fence_ms"];

impl HaStatus {
    fn get(&self, key: &str) -> Option<&str> {
        self.header.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Counters, in the module's order.
struct Counters<'a>(Vec<(&'a str, Value)>);

impl Serialize for Counters<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `ssi-ctl ha status --json`: `{"node":1,"directory":"...",
/// "default_interval_s":30,"fence_ms":20000,"counters":{...},"processes":[...]}`.
/// `counters` are every other header key whose value is a number (in the
/// module's order); another header key with text is kept as a string
/// after `fence_ms`.
impl Serialize for HaStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for key in TOP_KEYS {
            let v = match (key, self.get(key)) {
                (_, None) => Value::Null,
                ("directory", Some(v)) => v.into(),
                (_, Some(v)) => crate::json_number(v),
            };
            map.serialize_entry(key, &v)?;
        }
        let mut counters = Vec::new();
        for (k, v) in self.header.iter().filter(|(k, _)| !TOP_KEYS.contains(&k.as_str())) {
            match crate::json_number(v) {
                n @ Value::Number(_) => counters.push((k.as_str(), n)),
                _ if k == "counters" || k == "processes" || k == "copies" => {}
                text => map.serialize_entry(k, &text)?,
            }
        }
        map.serialize_entry("counters", &Counters(counters))?;
        map.serialize_entry("processes", &self.processes)?;
        map.serialize_entry("copies", &self.copies)?;
        map.end()
    }
}

/// `ssi-ctl ha status`: the header lines, then a table of the processes.
pub fn table(st: &HaStatus) -> String {
    let mut out = String::new();
    for (k, v) in &st.header {
        let _ = writeln!(out, "{:<24} {v}", format!("{k}:"));
    }
    out.push('\n');
    if st.processes.is_empty() {
        out.push_str("no process is protected on this node (ssi-ctl ha on PID)\n");
        copies_table(st, &mut out);
        return out;
    }
    let row = |out: &mut String, cells: [&dyn std::fmt::Display; 12]| {
        let [pid, interval, phase, node, images, newest, age, bytes, frozen, written, failed, restarts] = cells;
        let _ = writeln!(
            out,
            "{pid:>8} {interval:>8}  {phase:<13} {node:>4}  {images:<9} {newest:>6} {age:>8} {bytes:>12} {frozen:>8} \
             {written:>7} {failed:>6} {restarts:>8}"
        );
    };
    row(
        &mut out,
        [
            &"PID",
            &"INTERVAL",
            &"PHASE",
            &"NODE",
            &"IMAGES",
            &"NEWEST",
            &"AGE",
            &"BYTES",
            &"FROZEN",
            &"WRITTEN",
            &"FAILED",
            &"RESTARTS",
        ],
    );
    for p in &st.processes {
        let images = if p.kept.is_empty() {
            "-".to_string()
        } else {
            p.kept.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        };
        let age = p.age_ms.map_or_else(|| "-".to_string(), |ms| format!("{:.1}", ms as f64 / 1000.0));
        row(
            &mut out,
            [
                &p.pid,
                &p.interval_s,
                &p.phase,
                &p.node,
                &images,
                &p.newest,
                &age,
                &p.bytes,
                &format!("{:.1}", p.frozen_us as f64 / 1000.0),
                &p.written,
                &p.failed,
                &p.restarts,
            ],
        );
        if let Some(r) = &p.replicas {
            let _ = writeln!(
                out,
                "{:>8} {} copies (generation {}): {}; {} points compared, {} writes out, good image {}, \
                 {} corruption(s), {} rollback(s), {} replaced",
                "",
                r.replicas,
                r.generation,
                r.copies.join(" "),
                r.compared,
                r.emitted,
                if r.good == 0 { "-".to_string() } else { r.good.to_string() },
                r.corruptions,
                r.rollbacks,
                r.replaced
            );
        }
    }
    copies_table(st, &mut out);
    out
}

/// The copies that run here, after the processes.
fn copies_table(st: &HaStatus, out: &mut String) {
    if st.copies.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ncopies running here:");
    for c in &st.copies {
        let _ = writeln!(
            out,
            "  copy {} of node {}'s process {}: pid {} here, generation {}, {} writes{}",
            c.copy,
            c.home,
            c.pid,
            c.local_pid,
            c.generation,
            c.point,
            if c.armed { ", compared" } else { "" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::tests::fake_node;
    use std::fs;

    const STATUS: &str = "node: 1\ndirectory: /cluster/ssi-ha\ndefault_interval_s: 30\nfence_ms: 20000\nprotected: 2\n\
        checkpoints_asked: 5\ncheckpoints_written: 4\ncheckpoints_failed: 1\ncheckpoints_for_others: 0\nrestarts: 0\n\
        restarts_failed: 0\ngiven_up: 0\nmalformed: 0\nfuture_text: on: maybe\ncheckpoints_queued_here: 0\n\
        process: pid=70012 interval_s=2 phase=running node=2 newest=4 kept=3,4 age_ms=812 bytes=139264 \
        frozen_us=5120 written=4 failed=0 restarts=0\n\
        process: pid=70020 interval_s=30 phase=checkpointing node=1 newest=0 kept=- age_ms=-1 bytes=0 frozen_us=0 \
        written=0 failed=1 restarts=0 replicas=1\n";

    #[test]
    fn the_status_file_is_parsed() {
        let st = parse(STATUS).unwrap();
        assert_eq!(st.header.len(), 15);
        assert_eq!(st.header[0], ("node".to_string(), "1".to_string()));
        // An unknown line stays where it was, its value whole.
        assert_eq!(st.header[13], ("future_text".to_string(), "on: maybe".to_string()));
        assert_eq!(st.header[14].0, "checkpoints_queued_here");
        assert_eq!(
            st.processes[0],
            Protected {
                pid: 70012,
                interval_s: 2,
                phase: "running".into(),
                node: 2,
                newest: 4,
                kept: vec![3, 4],
                age_ms: Some(812),
                bytes: 139264,
                frozen_us: 5120,
                written: 4,
                failed: 0,
                restarts: 0,
                replicas: None,
            }
        );
        // No image yet; an unknown field (replicas=1) is ignored.
        let p = &st.processes[1];
        assert_eq!((p.pid, p.newest, p.kept.as_slice(), p.age_ms, p.failed), (70020, 0, &[][..], None, 1));
        assert_eq!(p.phase, "checkpointing");
        // Field order does not matter.
        let p = parse_process("restarts=1 failed=0 written=9 frozen_us=1 bytes=2 age_ms=3 kept=9 newest=9 node=3 phase=lost interval_s=5 pid=7")
            .unwrap();
        assert_eq!((p.pid, p.node, p.phase.as_str(), p.kept.as_slice()), (7, 3, "lost", &[9][..]));
        assert_eq!(parse("").unwrap(), HaStatus::default());
    }

    #[test]
    fn bad_process_lines_name_the_line() {
        let e = parse("node: 1\nprocess: pid=x interval_s=2\n").unwrap_err();
        assert_eq!(e, "line 2: pid=x is not a number");
        let e = parse("process: pid=5 interval_s=2 phase=running node=1 newest=0 kept=- age_ms=-1\n").unwrap_err();
        assert_eq!(e, "line 1: no bytes=");
        let line = "process: pid=5 interval_s=2 phase=running node=1 newest=2 kept=1,,2 age_ms=5 bytes=0 \
                    frozen_us=0 written=0 failed=0 restarts=0\n";
        assert_eq!(parse(line).unwrap_err(), "line 1: kept= is not a number");
        assert!(parse(&line.replace("kept=1,,2", "kept=1,2").replace("age_ms=5", "age_ms=-2")).is_err());
    }

    #[test]
    fn replicas_and_copies_are_parsed() {
        let text = "node: 1\n\
            process: pid=7 interval_s=2 phase=running node=2 newest=6 kept=6 age_ms=5 bytes=1 frozen_us=1 written=6 \
            failed=0 restarts=0 replicas=3 generation=2 copies=2:7,3:131090,wanted compared=41 emitted=44 good=5 \
            corruptions=1 rollbacks=1 replaced=0\n\
            copy: home=1 pid=7 copy=2 local_pid=131090 generation=2 point=44 armed=1\n";
        let st = parse(text).unwrap();
        let r = st.processes[0].replicas.as_ref().unwrap();
        assert_eq!((r.replicas, r.generation, r.compared, r.emitted, r.good), (3, 2, 41, 44, 5));
        assert_eq!(r.copies, ["2:7", "3:131090", "wanted"]);
        assert_eq!((r.corruptions, r.rollbacks, r.replaced), (1, 1, 0));
        assert_eq!(
            st.copies,
            [CopyHere { home: 1, pid: 7, copy: 2, local_pid: 131090, generation: 2, point: 44, armed: true }]
        );
        let t = table(&st);
        assert!(t.contains("3 copies (generation 2): 2:7 3:131090 wanted; 41 points compared"), "{t}");
        assert!(t.contains("copy 2 of node 1's process 7: pid 131090 here, generation 2, 44 writes, compared"), "{t}");
        assert!(crate::to_json(&st).contains("\"copies\":[{\"home\":1,\"pid\":7,\"copy\":2,"));
        assert!(parse("copy: home=1 pid=x\n").unwrap_err().starts_with("line 1: pid=x"));
    }

    #[test]
    fn status_json_keeps_its_fields() {
        let st = parse(STATUS).unwrap();
        assert_eq!(
            crate::to_json(&st),
            "{\"node\":1,\"directory\":\"/cluster/ssi-ha\",\"default_interval_s\":30,\"fence_ms\":20000,\
             \"future_text\":\"on: maybe\",\"counters\":{\"protected\":2,\"checkpoints_asked\":5,\"checkpoints_written\":4,\
             \"checkpoints_failed\":1,\"checkpoints_for_others\":0,\"restarts\":0,\"restarts_failed\":0,\"given_up\":0,\
             \"malformed\":0,\"checkpoints_queued_here\":0},\"processes\":[{\"pid\":70012,\"interval_s\":2,\
             \"phase\":\"running\",\"node\":2,\"newest\":4,\"kept\":[3,4],\"age_ms\":812,\"bytes\":139264,\
             \"frozen_us\":5120,\"written\":4,\"failed\":0,\"restarts\":0},{\"pid\":70020,\"interval_s\":30,\
             \"phase\":\"checkpointing\",\"node\":1,\"newest\":0,\"kept\":[],\"age_ms\":null,\"bytes\":0,\"frozen_us\":0,\
             \"written\":0,\"failed\":1,\"restarts\":0}],\"copies\":[]}"
        );
        // Nothing known: nulls, no counter, no process.
        assert_eq!(
            crate::to_json(&parse("processes: x\n").unwrap()),
            "{\"node\":null,\"directory\":null,\"default_interval_s\":null,\"fence_ms\":null,\"counters\":{},\"processes\":[],\"copies\":[]}"
        );
        let v: Value = serde_json::from_str(&crate::to_json(&st)).unwrap();
        assert_eq!(v["counters"]["checkpoints_failed"], 1);
    }

    #[test]
    fn status_table() {
        let text = table(&parse(STATUS).unwrap());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "node:                    1");
        assert_eq!(lines[13], "future_text:             on: maybe");
        assert_eq!(lines[15], "");
        let columns: Vec<&str> = lines[16].split_whitespace().collect();
        assert_eq!(
            columns,
            [
                "PID", "INTERVAL", "PHASE", "NODE", "IMAGES", "NEWEST", "AGE", "BYTES", "FROZEN", "WRITTEN", "FAILED",
                "RESTARTS"
            ]
        );
        let row: Vec<&str> = lines[17].split_whitespace().collect();
        assert_eq!(row, ["70012", "2", "running", "2", "3,4", "4", "0.8", "139264", "5.1", "4", "0", "0"]);
        let row: Vec<&str> = lines[18].split_whitespace().collect();
        assert_eq!(row, ["70020", "30", "checkpointing", "1", "-", "0", "-", "0", "0.0", "0", "1", "0"]);
        // The columns line up.
        assert_eq!(lines[16].find("PHASE"), lines[17].find("running"));
        assert_eq!(lines[16].len(), lines[17].len());
        let text = table(&parse("node: 1\nprotected: 0\n").unwrap());
        assert!(text.ends_with("\nno process is protected on this node (ssi-ctl ha on PID)\n"), "{text}");
    }

    #[test]
    fn status_reads_the_file_under_the_root() {
        let (d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        // A module without /proc/ssi/ha: "not loaded", exit 3.
        let e = status(&node, false).unwrap_err();
        assert!(matches!(e, CtlError::NotLoaded), "{e:?}");
        assert_eq!(e.exit_code(), 3);
        fs::write(d.path().join("proc/ssi/ha"), STATUS).unwrap();
        status(&node, false).unwrap();
        status(&node, true).unwrap();
        fs::write(d.path().join("proc/ssi/ha"), "process: pid=1\n").unwrap();
        let e = status(&node, true).unwrap_err();
        assert!(matches!(&e, CtlError::Malformed(_, why) if why == "line 1: no interval_s="), "{e:?}");
        assert_eq!(e.exit_code(), 1);
        fs::remove_dir_all(d.path().join("proc/ssi")).unwrap();
        assert!(matches!(status(&node, true), Err(CtlError::NotLoaded)));
    }

    #[test]
    fn requests() {
        let on = request(70012, 2, false);
        assert_eq!((on.op, on.pid, on.token, on.flags), (CtlOp::Protect, 70012, 2, 0));
        let off = request(70012, 2, true);
        assert_eq!((off.op, off.pid, off.token, off.flags), (CtlOp::Protect, 70012, 0, FLAG_HA_OFF));
        // The block the module decodes.
        let mut block = [0u8; ssi_proto::ctl::CTL_LEN];
        off.encode(&mut block);
        assert_eq!(CtlRequest::decode(&block).unwrap(), off);
        let mut block = [0u8; ssi_proto::ctl::CTL_LEN];
        request(9, 0, false).encode(&mut block);
        assert_eq!(CtlRequest::decode(&block).unwrap().token, 0);
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1"), Ok(1));
        assert_eq!(parse_interval("3600"), Ok(3600));
        assert_eq!(parse_interval("0"), Err("the interval must be 1 to 3600 seconds".into()));
        assert_eq!(parse_interval("3601"), Err("the interval must be 1 to 3600 seconds".into()));
        assert!(parse_interval("2s").unwrap_err().starts_with("not a number of seconds"));
    }

    #[test]
    fn refusals_before_the_module() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::with_root(dir.path());
        let on = |interval, replicas| HaAction::On { pid: 5, interval, replicas };
        assert!(matches!(run(&node, on(None, Some(2))), Err(CtlError::NotLoaded)));
        let e = run(&node, on(Some(0), None)).unwrap_err();
        assert_eq!(e.to_string(), "interval 0 s refused: the interval must be 1 to 3600 seconds");
        assert_eq!(e.exit_code(), 2);
        // No /dev/ssi: not loaded.
        assert!(matches!(run(&node, on(Some(2), None)), Err(CtlError::NotLoaded)));
        assert!(matches!(run(&node, HaAction::Off { pid: 5 }), Err(CtlError::NotLoaded)));
        // A /dev/ssi that is not the module's: the ioctl's error, exit 1.
        fs::create_dir_all(dir.path().join("dev")).unwrap();
        fs::write(dir.path().join("dev/ssi"), "").unwrap();
        let e = run(&node, on(None, None)).unwrap_err();
        assert!(matches!(&e, CtlError::Refused { errno, .. } if *errno == libc::ENOTTY), "{e:?}");
        assert!(e.to_string().starts_with("protection of process 5 failed: "), "{e}");
        assert_eq!(e.exit_code(), 1);
        let e = run(&node, HaAction::Off { pid: 5 }).unwrap_err();
        assert!(e.to_string().starts_with("ending the protection of process 5 failed: "), "{e}");
    }

    #[test]
    fn module_refusals_become_exit_codes() {
        let refused = |errno, message: &str| {
            let mut reply = ssi_proto::ctl::CtlReply::EMPTY;
            reply.set_message(message);
            checkpoint::refused("protection of process 5".into(), &reply, errno)
        };
        assert_eq!(refused(libc::EPERM, "only root or the owner of process 5 may protect it").exit_code(), 4);
        for errno in [libc::ENOTCONN, libc::EXDEV, libc::ESRCH, libc::ENOENT, libc::EINVAL, libc::ENOSPC] {
            assert_eq!(refused(errno, "m").exit_code(), 1, "errno {errno}");
        }
        let e = refused(libc::EXDEV, "process 5 migrated here from node 2: protect it there, its home");
        assert!(e.to_string().starts_with("protection of process 5 failed: process 5 migrated here from node 2"), "{e}");
    }
}
