//! `ssi-ctl ha`: high availability. `ha on PID` asks ssi.ko (`/dev/ssi`
//! op `Protect`) to protect a process: its home node has a checkpoint of
//! it written to the shared file system every interval, and restarts it
//! from the newest image on another node when the node running it is
//! lost. `ha off PID` stops that (`FLAG_HA_OFF`), and `ha status` shows
//! `/proc/ssi/ha`: the node's counters, then one line per process it
//! protects.
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
        /// Run N copies and compare them (silent data corruption detection): not implemented yet.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=3))]
        replicas: Option<u8>,
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

/// What `--replicas` gets.
pub const REPLICAS_NOT_IMPLEMENTED: &str = "replicas (silent data corruption detection) are not implemented yet";

/// Carries out `ssi-ctl ha ACTION`.
pub fn run(node: &Node, action: HaAction) -> Result<(), CtlError> {
    match action {
        HaAction::On { pid, interval, replicas } => protect(node, pid, interval, replicas),
        HaAction::Off { pid } => unprotect(node, pid),
        HaAction::Status { json } => status(node, json),
    }
}

/// `ssi-ctl ha on PID [--interval SECONDS] [--replicas N]`.
fn protect(node: &Node, pid: u32, interval: Option<u32>, replicas: Option<u8>) -> Result<(), CtlError> {
    if replicas.is_some() {
        return Err(CtlError::Unsupported(REPLICAS_NOT_IMPLEMENTED.into()));
    }
    if let Some(s) = interval.filter(|s| !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(s)) {
        return Err(CtlError::Invalid { what: format!("interval {s} s"), why: interval_range() });
    }
    let req = request(pid, interval.unwrap_or(0), false);
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
}

/// Parses a `process:` line's fields (`key=value`, unknown keys ignored).
fn parse_process(fields: &str) -> Result<Protected, String> {
    let pairs: Vec<(&str, &str)> = fields.split_whitespace().filter_map(|f| f.split_once('=')).collect();
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or(format!("no {key}="));
    fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
        v.parse().map_err(|_| format!("{key}={v} is not a number"))
    }
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
                _ if k == "counters" || k == "processes" => {}
                text => map.serialize_entry(k, &text)?,
            }
        }
        map.serialize_entry("counters", &Counters(counters))?;
        map.serialize_entry("processes", &self.processes)?;
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
    }
    out
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
                restarts: 0
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
             \"written\":0,\"failed\":1,\"restarts\":0}]}"
        );
        // Nothing known: nulls, no counter, no process.
        assert_eq!(
            crate::to_json(&parse("processes: x\n").unwrap()),
            "{\"node\":null,\"directory\":null,\"default_interval_s\":null,\"fence_ms\":null,\"counters\":{},\"processes\":[]}"
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
        // Replicas: refused by ssi-ctl (exit 2), nothing sent (no module here: that would be 3).
        let on = |interval, replicas| HaAction::On { pid: 5, interval, replicas };
        let e = run(&node, on(None, Some(2))).unwrap_err();
        assert_eq!(e.to_string(), REPLICAS_NOT_IMPLEMENTED);
        assert_eq!(e.exit_code(), 2);
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
