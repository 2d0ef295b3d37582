//! `ssi-ctl scheduler` and `ssi-ctl balance`: the cluster-wide scheduler
//! configuration (`docs/scheduler.md`), read and changed through the
//! configfs tree `/sys/kernel/config/ssi/scheduler/` of this node, and
//! what the scheduler does (`/proc/ssi/scheduler`).
//!
//! Every change is a write to this node's configfs; the module makes it
//! the configuration's next generation and sends it to every node. The
//! parameters are written to their files (`scheduler/PART_DIR/FIELD`),
//! schedulers are changed through `scheduler/command` (`add`, `set`,
//! `remove`), which works for every scheduler of the cluster, whichever
//! node made it. A value the module refuses is `EINVAL`; ssi-ctl then
//! says why with the same parsers (`ssi_proto::sched`), and the kernel
//! log has a `ssi: scheduler: ... refused: ...` line.

use crate::sysfs::{CtlError, Node};
use clap::Subcommand;
use serde_json::{Map, Value};
use ssi_proto::sched::{
    find_param, param_dir, parse_name, parse_param_value, parse_policy, set_param, Params, PolicyKind, SchedField,
    MAX_SCHEDULERS, PARAM_DIRS, PARAM_FIELDS,
};
use std::io;
use std::path::Path;

/// `ssi-ctl scheduler ACTION`.
#[derive(Subcommand, Debug, PartialEq)]
pub enum SchedulerAction {
    /// Change a parameter on the whole cluster: PART.FIELD VALUE (balance.margin 300, strategy.small lazy).
    Set {
        /// PART.FIELD, as `ssi-ctl scheduler` lists them.
        param: String,
        /// The new value: a number, or a strategy's name.
        value: String,
    },
    /// Add a scheduler: a policy over a set of processes and nodes (enabled unless --disabled).
    Add {
        /// Its name: 1 to 31 of [a-z0-9_-].
        name: String,
        /// balance, round_robin, least_loaded or memory.
        policy: String,
        /// all, 'uid N', 'session N', 'pgrp N' or 'pids P...' (default all).
        #[arg(long, value_name = "SET")]
        processes: Option<String>,
        /// all, or node ids and ranges: 1,2,5 or 1-3 (default all).
        #[arg(long, value_name = "SET")]
        nodes: Option<String>,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Change one field of a scheduler: policy, processes, nodes or enabled.
    Edit {
        /// The scheduler.
        name: String,
        /// policy, processes, nodes or enabled.
        field: String,
        /// The new value (the rest of the line: `pids 1 2 3` needs no quotes).
        #[arg(required = true, num_args = 1..)]
        value: Vec<String>,
    },
    /// Remove a scheduler.
    Remove {
        /// The scheduler.
        name: String,
    },
}

/// `ssi-ctl balance ACTION`.
#[derive(Subcommand, Debug, PartialEq)]
pub enum BalanceAction {
    /// Install the default preset on the whole cluster: dynamic balancing and exec-time placement.
    On,
    /// Remove the default preset's schedulers.
    Off,
    /// Show what the scheduler does on this node: decisions, loads, recent migrations, processes not moved.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The default preset: (name, policy) of its schedulers, both over every
/// process and every node.
pub const PRESET: [(&str, &str); 2] = [("balance", "balance"), ("place", "least_loaded")];

/// One scheduler, as `scheduler/list` and `/proc/ssi/scheduler` show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SchedLine {
    pub name: String,
    pub policy: String,
    pub enabled: bool,
    pub processes: String,
    pub nodes: String,
}

/// Parses `NAME: POLICY, enabled|disabled, processes SET, nodes SET`.
pub fn parse_sched_line(line: &str) -> Option<SchedLine> {
    let (name, rest) = line.trim().split_once(": ")?;
    let mut parts = rest.split(", ");
    let policy = parts.next()?;
    let enabled = match parts.next()? {
        "enabled" => true,
        "disabled" => false,
        _ => return None,
    };
    let processes = parts.next()?.strip_prefix("processes ")?;
    let nodes = parts.next()?.strip_prefix("nodes ")?;
    if parts.next().is_some() {
        return None;
    }
    Some(SchedLine { name: name.into(), policy: policy.into(), enabled, processes: processes.into(), nodes: nodes.into() })
}

/// The configuration in force, as this node's configfs shows it.
#[derive(Debug, PartialEq)]
pub struct SchedConfig {
    pub generation: u64,
    /// The node that made the last change, if `/proc/ssi/scheduler` says.
    pub origin: Option<u16>,
    /// Every parameter, in `PARAM_FIELDS`' order: (part, field, value).
    pub params: Vec<(&'static str, &'static str, String)>,
    pub schedulers: Vec<SchedLine>,
    /// This node's `probes/cpu_load` and `probes/free_memory`.
    pub cpu_load: String,
    pub free_memory: String,
}

/// The configfs path (under `ssi/`) of a parameter's file.
fn param_file(part: &str, field: &str) -> String {
    format!("scheduler/{}/{field}", param_dir(part).unwrap_or(part))
}

/// `N (changed on node M)` of `/proc/ssi/scheduler`'s `generation:`.
fn parse_generation(v: &str) -> (Option<u64>, Option<u16>) {
    let mut words = v.split_whitespace();
    let generation = words.next().and_then(|w| w.parse().ok());
    let origin = v.split("node ").nth(1).and_then(|r| r.trim_end_matches(')').trim().parse().ok());
    (generation, origin)
}

impl SchedConfig {
    /// Reads it (again if it changed meanwhile, at most three times).
    pub fn read(node: &Node) -> Result<SchedConfig, CtlError> {
        node.check_loaded()?;
        let mut last = None;
        for _ in 0..3 {
            let c = Self::read_once(node)?;
            if node.config("scheduler/generation")?.parse::<u64>().ok() == Some(c.generation) {
                return Ok(c);
            }
            last = Some(c);
        }
        Ok(last.expect("read at least once"))
    }

    fn read_once(node: &Node) -> Result<SchedConfig, CtlError> {
        let gen_path = node.config_path("scheduler/generation");
        let generation = node
            .config("scheduler/generation")?
            .parse()
            .map_err(|_| CtlError::Malformed(gen_path, "not a number".into()))?;
        let origin = node
            .read(&node.proc_path("scheduler"))
            .ok()
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("generation:").map(|v| parse_generation(v).1)))
            .flatten();
        let mut params = Vec::with_capacity(PARAM_FIELDS.len());
        for f in &PARAM_FIELDS {
            params.push((f.part, f.field, node.config(&param_file(f.part, f.field))?));
        }
        let list_path = node.config_path("scheduler/list");
        let mut schedulers = Vec::new();
        for line in node.read(&list_path)?.lines().filter(|l| !l.trim().is_empty()) {
            schedulers.push(
                parse_sched_line(line)
                    .ok_or_else(|| CtlError::Malformed(list_path.clone(), format!("bad line '{line}'")))?,
            );
        }
        Ok(SchedConfig {
            generation,
            origin,
            params,
            schedulers,
            cpu_load: node.config("scheduler/probes/cpu_load").unwrap_or_default(),
            free_memory: node.config("scheduler/probes/free_memory").unwrap_or_default(),
        })
    }

    /// The parameters as `Params` (a value that does not parse keeps
    /// its default).
    pub fn params(&self) -> Params {
        let mut p = Params::DEFAULT;
        for (part, field, v) in &self.params {
            let _ = set_param(&mut p, part.as_bytes(), field.as_bytes(), v.as_bytes());
        }
        p
    }

    /// `ssi-ctl scheduler`'s text.
    pub fn text(&self) -> String {
        let mut out = format!("configuration generation {}", self.generation);
        match (self.generation, self.origin) {
            (0, _) => out.push_str(" (never changed: the defaults, no scheduler)"),
            (_, Some(o)) => out.push_str(&format!(" (changed on node {o})")),
            _ => {}
        }
        out.push('\n');
        for (part, dir) in PARAM_DIRS {
            out.push_str(&format!("{dir} ({part}):\n"));
            for (_, field, v) in self.params.iter().filter(|(p, _, _)| *p == part) {
                out.push_str(&format!("  {part}.{field:<24} {v}\n"));
            }
            if part == "load" {
                out.push_str(&format!("  {:<29} {} (this node)\n", "cpu_load", self.cpu_load));
                out.push_str(&format!("  {:<29} {} (this node)\n", "free_memory", self.free_memory));
            }
        }
        out.push_str(&format!("schedulers ({} of at most {MAX_SCHEDULERS}):\n", self.schedulers.len()));
        if self.schedulers.is_empty() {
            out.push_str("  none (ssi-ctl balance on, or ssi-ctl scheduler add)\n");
        }
        for s in &self.schedulers {
            let state = if s.enabled { "enabled" } else { "disabled" };
            out.push_str(&format!(
                "  {:<16} {:<12} {:<8} processes {}, nodes {}\n",
                s.name, s.policy, state, s.processes, s.nodes
            ));
        }
        out
    }

    /// `ssi-ctl scheduler --json`: `{"generation":N,"origin":M|null,
    /// "params":{"load":{"period_ms":100,...},...},"schedulers":[...]}`.
    pub fn json(&self) -> String {
        let mut params = Map::new();
        for (part, field, v) in &self.params {
            let e = params.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = e {
                m.insert(field.to_string(), crate::json_number(v));
            }
        }
        let mut top = Map::new();
        top.insert("generation".into(), self.generation.into());
        top.insert("origin".into(), self.origin.map_or(Value::Null, Value::from));
        top.insert("params".into(), Value::Object(params));
        top.insert("schedulers".into(), serde_json::to_value(&self.schedulers).expect("plain data"));
        crate::to_json(&Value::Object(top))
    }

    fn get(&self, name: &str) -> Option<&SchedLine> {
        self.schedulers.iter().find(|s| s.name == name)
    }
}

/// Writes `value` to configfs file `rel`; `why` explains an `EINVAL`.
fn write(node: &Node, rel: &str, value: &str, what: &str, why: impl FnOnce() -> String) -> Result<(), CtlError> {
    node.check_loaded()?;
    let path = node.config_path(rel);
    std::fs::write(&path, format!("{value}\n")).map_err(|e| refusal(&path, e, what, why))
}

fn refusal(path: &Path, e: io::Error, what: &str, why: impl FnOnce() -> String) -> CtlError {
    match e.raw_os_error() {
        Some(libc::EINVAL) => CtlError::Invalid { what: what.into(), why: why() },
        Some(libc::ENOTCONN) => CtlError::NotJoined,
        Some(libc::EACCES) | Some(libc::EPERM) => CtlError::Permission(path.to_path_buf()),
        _ => CtlError::Io(path.to_path_buf(), e),
    }
}

/// The module's reason, when ssi-ctl cannot tell it.
const SEE_LOG: &str = "the configuration refuses it (dmesg | grep 'ssi: scheduler' says why)";

/// Why the value of `field` may have been refused.
fn field_reason(field: SchedField, value: &str) -> String {
    match field.parse(value.as_bytes()) {
        Err(e) if field == SchedField::Policy => format!("{} (policies: {})", e.describe(), policy_names()),
        Err(e) => e.describe().into(),
        Ok(_) => SEE_LOG.into(),
    }
}

fn policy_names() -> String {
    PolicyKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

/// Writes one line to `scheduler/command`.
fn command(node: &Node, line: &str, what: &str, why: impl FnOnce() -> String) -> Result<(), CtlError> {
    write(node, "scheduler/command", line, what, why)
}

/// `ssi-ctl pin PID [NODE]`: the pin, cluster-wide.
pub fn pin(node: &Node, pid: u32, to: Option<u16>) -> Result<(), CtlError> {
    let line = match to {
        Some(n) => format!("pin {pid} {n}"),
        None => format!("pin {pid}"),
    };
    command(node, &line, &format!("pin {pid}"), || {
        "pids are 1..=2147483647, nodes 1..=63, at most 32 pins (dmesg | grep 'ssi: scheduler' says why)".into()
    })?;
    match to {
        Some(n) => println!("pinned {pid} to node {n}"),
        None => println!("pinned {pid} where it runs"),
    }
    Ok(())
}

/// `ssi-ctl unpin PID`.
pub fn unpin(node: &Node, pid: u32) -> Result<(), CtlError> {
    command(node, &format!("unpin {pid}"), &format!("unpin {pid}"), || format!("process {pid} is not pinned"))?;
    println!("unpinned {pid}");
    Ok(())
}

/// `ssi-ctl scheduler [--json]`.
pub fn show(node: &Node, json: bool) -> Result<(), CtlError> {
    let c = SchedConfig::read(node)?;
    if json {
        println!("{}", c.json());
    } else {
        print!("{}", c.text());
    }
    Ok(())
}

/// Carries out `ssi-ctl scheduler ACTION`.
pub fn run(node: &Node, action: SchedulerAction) -> Result<(), CtlError> {
    match action {
        SchedulerAction::Set { param, value } => set(node, &param, &value),
        SchedulerAction::Add { name, policy, processes, nodes, disabled } => {
            add(node, &name, &policy, processes.as_deref(), nodes.as_deref(), !disabled)?;
            print_one(node, &name)
        }
        SchedulerAction::Edit { name, field, value } => {
            let value = value.join(" ");
            let f = SchedField::from_name(field.as_bytes()).ok_or_else(|| CtlError::Invalid {
                what: format!("field '{field}' of scheduler {name}"),
                why: "no such field (policy, processes, nodes, enabled)".into(),
            })?;
            edit(node, &name, f, &value)?;
            print_one(node, &name)
        }
        SchedulerAction::Remove { name } => {
            let before = SchedConfig::read(node)?;
            command(node, &format!("remove {name}"), &format!("removing scheduler {name}"), || {
                if before.get(&name).is_none() {
                    "no scheduler of that name (ssi-ctl scheduler lists them)".into()
                } else {
                    SEE_LOG.into()
                }
            })?;
            println!("scheduler {name} removed from the cluster");
            Ok(())
        }
    }
}

/// `ssi-ctl scheduler set PART.FIELD VALUE`.
fn set(node: &Node, param: &str, value: &str) -> Result<(), CtlError> {
    let known = param.split_once('.').filter(|(part, field)| find_param(part.as_bytes(), field.as_bytes()).is_some());
    let Some((part, field)) = known else {
        return Err(CtlError::Invalid {
            what: format!("parameter '{param}'"),
            why: "no such parameter (ssi-ctl scheduler lists them as PART.FIELD)".into(),
        });
    };
    let what = format!("{param} = {value}");
    write(node, &param_file(part, field), value, &what, || param_reason(node, part, field, value))?;
    println!("{param} = {} on the whole cluster", node.config(&param_file(part, field)).unwrap_or_else(|_| value.into()));
    Ok(())
}

/// Why `value` for `part`.`field` may have been refused, with the others'
/// values in force.
fn param_reason(node: &Node, part: &str, field: &str, value: &str) -> String {
    let Some(f) = find_param(part.as_bytes(), field.as_bytes()) else { return "no such parameter".into() };
    let v = match parse_param_value(f, value.as_bytes()) {
        Ok(v) => v,
        Err(e) => return e.describe().into(),
    };
    let Ok(c) = SchedConfig::read(node) else { return SEE_LOG.into() };
    let mut p = c.params();
    if !f.store(&mut p, v) {
        return "does not fit the parameter".into();
    }
    match p.check() {
        Some(b) if (b.part, b.field) == (part, field) => "out of its range (docs/scheduler.md)".into(),
        Some(b) => format!("{}.{} would then be out of its range (docs/scheduler.md)", b.part, b.field),
        None => SEE_LOG.into(),
    }
}

/// Adds a scheduler, then sets its sets and enables it (in that order, so
/// that it never runs over more than it is meant to); a refused step
/// removes it again.
fn add(
    node: &Node,
    name: &str,
    policy: &str,
    processes: Option<&str>,
    nodes: Option<&str>,
    enabled: bool,
) -> Result<(), CtlError> {
    let before = SchedConfig::read(node)?;
    command(node, &format!("add {name} {policy}"), &format!("adding scheduler '{name}' ({policy})"), || {
        if let Err(e) = parse_name(name.as_bytes()) {
            e.describe().into()
        } else if let Err(e) = parse_policy(policy.as_bytes()) {
            format!("{} (policies: {})", e.describe(), policy_names())
        } else if before.get(name).is_some() {
            "a scheduler of that name exists".into()
        } else if before.schedulers.len() >= MAX_SCHEDULERS {
            format!("too many schedulers (at most {MAX_SCHEDULERS})")
        } else {
            SEE_LOG.into()
        }
    })?;
    let rest =
        [(SchedField::Processes, processes), (SchedField::Nodes, nodes), (SchedField::Enabled, enabled.then_some("1"))];
    for (field, value) in rest {
        let Some(value) = value else { continue };
        if let Err(e) = edit(node, name, field, value) {
            let _ = command(node, &format!("remove {name}"), "", String::new);
            return Err(e);
        }
    }
    Ok(())
}

/// Sets one field of scheduler `name`.
fn edit(node: &Node, name: &str, field: SchedField, value: &str) -> Result<(), CtlError> {
    let what = format!("{} '{value}' for scheduler {name}", field.name());
    command(node, &format!("set {name} {} {value}", field.name()), &what, || {
        let reason = field_reason(field, value);
        match SchedConfig::read(node) {
            Ok(c) if c.get(name).is_none() => "no scheduler of that name (ssi-ctl scheduler lists them)".into(),
            _ => reason,
        }
    })
}

/// Prints scheduler `name` as it is now in force.
fn print_one(node: &Node, name: &str) -> Result<(), CtlError> {
    let c = SchedConfig::read(node)?;
    if let Some(s) = c.get(name) {
        let state = if s.enabled { "enabled" } else { "disabled" };
        println!(
            "scheduler {}: {}, {state}, processes {}, nodes {} (configuration generation {})",
            s.name, s.policy, s.processes, s.nodes, c.generation
        );
    }
    Ok(())
}

/// Carries out `ssi-ctl balance ACTION`.
pub fn balance(node: &Node, action: BalanceAction) -> Result<(), CtlError> {
    match action {
        BalanceAction::On => balance_on(node),
        BalanceAction::Off => balance_off(node),
        BalanceAction::Status { json } => {
            node.check_loaded()?;
            let text = node.read(&node.proc_path("scheduler"))?;
            if json {
                println!("{}", crate::to_json(&status_json(&text)));
            } else {
                print!("{text}");
            }
            Ok(())
        }
    }
}

/// The preset's schedulers, enabled over every process and node; the
/// fields of one that exists are set to the preset's.
fn balance_on(node: &Node) -> Result<(), CtlError> {
    let c = SchedConfig::read(node)?;
    for (name, policy) in PRESET {
        match c.get(name) {
            None => add(node, name, policy, None, None, true)?,
            Some(s) => {
                let want = [
                    (SchedField::Policy, policy, s.policy.as_str()),
                    (SchedField::Processes, "all", s.processes.as_str()),
                    (SchedField::Nodes, "all", s.nodes.as_str()),
                    (SchedField::Enabled, "1", if s.enabled { "1" } else { "0" }),
                ];
                for (field, value, _) in want.into_iter().filter(|(_, v, now)| v != now) {
                    edit(node, name, field, value)?;
                }
            }
        }
    }
    let c = SchedConfig::read(node)?;
    println!(
        "balancing on: schedulers {} on every node (configuration generation {})",
        PRESET.map(|(n, p)| format!("{n} ({p})")).join(" and "),
        c.generation
    );
    Ok(())
}

/// Removes the preset's schedulers; says which other schedulers still
/// balance.
fn balance_off(node: &Node) -> Result<(), CtlError> {
    let c = SchedConfig::read(node)?;
    let mut removed = Vec::new();
    for (name, _) in PRESET {
        if c.get(name).is_some() {
            command(node, &format!("remove {name}"), &format!("removing scheduler {name}"), || SEE_LOG.into())?;
            removed.push(name);
        }
    }
    if removed.is_empty() {
        println!("balancing off: the preset's schedulers were not there");
    } else {
        println!("balancing off: removed {}", removed.join(" and "));
    }
    let c = SchedConfig::read(node)?;
    for s in c.schedulers.iter().filter(|s| s.enabled) {
        println!("note: scheduler {} ({}) is still enabled", s.name, s.policy);
    }
    Ok(())
}

/// A row of `/proc/ssi/scheduler`'s `nodes:` table as an object: word and
/// number pairs (a unit after the number goes into the key: `free 5 KiB`
/// is `free_kib`), a lone word is the `state`.
fn pairs_json(line: &str) -> Value {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut m = Map::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match words.get(i + 1) {
            Some(n) if n.parse::<f64>().is_ok() && w.parse::<f64>().is_err() => {
                let unit = words.get(i + 2).filter(|u| matches!(**u, "KiB" | "ms" | "s"));
                let key = unit.map_or_else(|| w.to_string(), |u| format!("{w}_{}", u.to_lowercase()));
                m.insert(key, crate::json_number(n));
                i += 2 + usize::from(unit.is_some());
            }
            _ => {
                m.insert("state".into(), w.into());
                i += 1;
            }
        }
    }
    Value::Object(m)
}

/// A `recent:` row: `3 s ago: pid 123 to node 2 (balance, eager):
/// migrated in 100 ms` or `...: failed (error 95)`.
fn recent_json(line: &str) -> Option<Value> {
    let (ago, rest) = line.split_once(" s ago: pid ")?;
    let (pid, rest) = rest.split_once(" to node ")?;
    let (dest, rest) = rest.split_once(" (")?;
    let (how, result) = rest.split_once("): ")?;
    let (policy, strategy) = how.split_once(", ")?;
    let mut m = Map::new();
    m.insert("ago_s".into(), ago.trim().parse::<u64>().ok()?.into());
    m.insert("pid".into(), pid.parse::<u64>().ok()?.into());
    m.insert("node".into(), dest.parse::<u64>().ok()?.into());
    m.insert("policy".into(), policy.into());
    m.insert("strategy".into(), strategy.into());
    if let Some(ms) = result.strip_prefix("migrated in ").and_then(|r| r.strip_suffix(" ms")) {
        m.insert("result".into(), "migrated".into());
        m.insert("took_ms".into(), crate::json_number(ms));
    } else if let Some(e) = result.strip_prefix("failed (error ").and_then(|r| r.strip_suffix(')')) {
        m.insert("result".into(), "failed".into());
        m.insert("errno".into(), crate::json_number(e));
    } else {
        m.insert("result".into(), result.into());
    }
    Some(Value::Object(m))
}

/// A `not_moved:` row: `pid 5: why (error 95)`.
fn not_moved_json(line: &str) -> Option<Value> {
    let (pid, rest) = line.strip_prefix("pid ")?.split_once(": ")?;
    let (reason, errno) = rest.rsplit_once(" (error ")?;
    let mut m = Map::new();
    m.insert("pid".into(), pid.parse::<u64>().ok()?.into());
    m.insert("reason".into(), reason.into());
    m.insert("errno".into(), crate::json_number(errno.strip_suffix(')')?));
    Some(Value::Object(m))
}

/// `ssi-ctl balance status --json`: `/proc/ssi/scheduler` as one object.
/// `key: value` lines are keys (numbers as numbers; `load:` an object;
/// `memory:` `free_kib` and `total_kib`; `generation:` the generation and
/// `origin`); `scheduler:` lines make the `schedulers` array; a `key:`
/// line without value starts a table (`nodes`, `recent`, `not_moved`)
/// whose indented rows are objects (a row not understood is
/// `{"line": ...}`).
pub fn status_json(text: &str) -> Value {
    let mut m = Map::new();
    let mut schedulers = Vec::new();
    let mut pins = Vec::new();
    let mut table: Option<String> = None;
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            let Some(t) = &table else { continue };
            let row = line.trim();
            let v = match t.as_str() {
                "nodes" => Some(pairs_json(row)),
                "recent" => recent_json(row),
                "not_moved" => not_moved_json(row),
                _ => None,
            };
            let v = v.unwrap_or_else(|| serde_json::json!({ "line": row }));
            if let Some(Value::Array(a)) = m.get_mut(t) {
                a.push(v);
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim(), v.trim());
        table = None;
        match k {
            _ if v.is_empty() => {
                m.insert(k.into(), Value::Array(Vec::new()));
                table = Some(k.into());
            }
            "scheduler" => {
                let s = parse_sched_line(v)
                    .map_or_else(|| serde_json::json!({ "line": v }), |s| serde_json::to_value(s).expect("plain data"));
                schedulers.push(s);
            }
            "schedulers" | "pins" => {}
            "pin" => {
                // `PID` or `PID on node N`.
                let w: Vec<&str> = v.split_whitespace().collect();
                let pin = match w.as_slice() {
                    [p] => serde_json::json!({ "pid": crate::json_number(p), "node": null }),
                    [p, "on", "node", n] => {
                        serde_json::json!({ "pid": crate::json_number(p), "node": crate::json_number(n) })
                    }
                    _ => serde_json::json!({ "line": v }),
                };
                pins.push(pin);
            }
            "generation" => {
                let (g, o) = parse_generation(v);
                m.insert("generation".into(), g.map_or_else(|| v.into(), Value::from));
                m.insert("origin".into(), o.map_or(Value::Null, Value::from));
            }
            "load" => {
                m.insert(k.into(), pairs_json(v));
            }
            "memory" => {
                let w: Vec<&str> = v.split_whitespace().collect();
                let v = match w.as_slice() {
                    ["free", f, "KiB", "of", t, "KiB"] => {
                        serde_json::json!({ "free_kib": crate::json_number(f), "total_kib": crate::json_number(t) })
                    }
                    _ => v.into(),
                };
                m.insert(k.into(), v);
            }
            _ => {
                m.insert(k.into(), crate::json_number(v));
            }
        }
    }
    m.insert("schedulers".into(), Value::Array(schedulers));
    m.insert("pins".into(), Value::Array(pins));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::tests::fake_node;
    use std::fs;

    const STATUS: &str = "node: 2\nbalancing: on\ngeneration: 7 (changed on node 1)\nschedulers: 2\n\
        scheduler: balance: balance, enabled, processes all, nodes all\n\
        scheduler: place: least_loaded, disabled, processes pids 5 7, nodes 1-3,7\n\
        decisions: 41\nmigrations: 3\nmigrations_failed: 1\nreports_sent: 9\n\
        load: upper 1.25 mean 1.10 cpus 2\nmemory: free 977192 KiB of 1010192 KiB\n\
        last_decision: stay (NoNeed), load 1.10\n\
        nodes:\n  node 1 alive upper 0.50 mean 0.25 cpus 2 free 900000 KiB age 120 ms\n\
        recent:\n  3 s ago: pid 131075 to node 1 (balance, eager): migrated in 420 ms\n\
        \u{20} 9 s ago: pid 131080 to node 3 (memory, precopy): failed (error 95)\n\
        not_moved:\n  pid 131080: fd 3 is a socket (error 95)\n  odd row\n";

    #[test]
    fn scheduler_lines() {
        assert_eq!(
            parse_sched_line("place: least_loaded, disabled, processes pids 5 7, nodes 1-3,7"),
            Some(SchedLine {
                name: "place".into(),
                policy: "least_loaded".into(),
                enabled: false,
                processes: "pids 5 7".into(),
                nodes: "1-3,7".into()
            })
        );
        assert_eq!(parse_sched_line("x: balance, on, processes all, nodes all"), None);
        assert_eq!(parse_sched_line("x: balance, enabled, processes all"), None);
        assert_eq!(parse_sched_line("nonsense"), None);
        assert_eq!(parse_generation("7 (changed on node 12)"), (Some(7), Some(12)));
        assert_eq!(parse_generation("x"), (None, None));
    }

    #[test]
    fn status_becomes_json() {
        let v = status_json(STATUS);
        assert_eq!(v["balancing"], "on");
        assert_eq!(v["node"], 2);
        assert_eq!(v["generation"], 7);
        assert_eq!(v["origin"], 1);
        assert_eq!(v["decisions"], 41);
        assert_eq!(v["migrations"], 3);
        assert_eq!(v["migrations_failed"], 1);
        assert_eq!(v["schedulers"].as_array().unwrap().len(), 2);
        assert_eq!(v["schedulers"][1]["processes"], "pids 5 7");
        assert_eq!(v["schedulers"][0]["enabled"], true);
        assert_eq!(v["load"], serde_json::json!({"upper": 1.25, "mean": 1.1, "cpus": 2}));
        assert_eq!(v["memory"], serde_json::json!({"free_kib": 977192, "total_kib": 1010192}));
        assert_eq!(v["last_decision"], "stay (NoNeed), load 1.10");
        assert_eq!(
            v["nodes"],
            serde_json::json!([{"node": 1, "state": "alive", "upper": 0.5, "mean": 0.25, "cpus": 2,
                                "free_kib": 900000, "age_ms": 120}])
        );
        assert_eq!(
            v["recent"][0],
            serde_json::json!({"ago_s": 3, "pid": 131075, "node": 1, "policy": "balance", "strategy": "eager",
                               "result": "migrated", "took_ms": 420})
        );
        assert_eq!(v["recent"][1]["result"], "failed");
        assert_eq!(v["recent"][1]["errno"], 95);
        assert_eq!(v["not_moved"][0], serde_json::json!({"pid": 131080, "reason": "fd 3 is a socket", "errno": 95}));
        assert_eq!(v["not_moved"][1], serde_json::json!({"line": "odd row"}));
        // Nothing yet: empty tables, no scheduler.
        let v = status_json("balancing: off\nschedulers: 0\nnodes:\nrecent:\nnot_moved:\n");
        assert_eq!(v["schedulers"], serde_json::json!([]));
        assert_eq!(v["nodes"], serde_json::json!([]));
        assert_eq!(v["not_moved"], serde_json::json!([]));
    }

    /// A node with the scheduler's configfs files (plain files here).
    fn fake_sched_node() -> (tempfile::TempDir, Node) {
        let (d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        let cfg = d.path().join("sys/kernel/config/ssi/scheduler");
        let p = Params::DEFAULT;
        for f in &PARAM_FIELDS {
            let dir = cfg.join(param_dir(f.part).unwrap());
            fs::create_dir_all(&dir).unwrap();
            let mut v = String::new();
            ssi_proto::sched::write_param(&p, f.part.as_bytes(), f.field.as_bytes(), &mut v).unwrap();
            fs::write(dir.join(f.field), v).unwrap();
        }
        fs::write(cfg.join("generation"), "7\n").unwrap();
        fs::write(cfg.join("list"), "balance: balance, enabled, processes all, nodes all\n").unwrap();
        fs::write(cfg.join("probes/cpu_load"), "upper 0.50 mean 0.25 cpus 2\n").unwrap();
        fs::write(cfg.join("probes/free_memory"), "free 5 KiB of 9 KiB\n").unwrap();
        fs::write(cfg.join("command"), "").unwrap();
        fs::write(d.path().join("proc/ssi/scheduler"), STATUS).unwrap();
        (d, node)
    }

    #[test]
    fn the_configuration_is_read_from_configfs() {
        let (_d, node) = fake_sched_node();
        let c = SchedConfig::read(&node).unwrap();
        assert_eq!((c.generation, c.origin), (7, Some(1)));
        assert_eq!(c.params.len(), PARAM_FIELDS.len());
        assert_eq!(c.params(), Params::DEFAULT);
        assert_eq!(c.schedulers.len(), 1);
        let text = c.text();
        assert!(text.starts_with("configuration generation 7 (changed on node 1)\n"), "{text}");
        assert!(text.contains("policies/balance (balance):\n  balance.margin "), "{text}");
        assert!(text.contains("cpu_load                      upper 0.50 mean 0.25 cpus 2 (this node)"), "{text}");
        assert!(text.contains("  balance          balance      enabled  processes all, nodes all\n"), "{text}");
        let json: Value = serde_json::from_str(&c.json()).unwrap();
        assert_eq!(json["params"]["balance"]["margin"], 256);
        assert_eq!(json["params"]["strategy"]["small"], "eager");
        assert_eq!(json["schedulers"][0]["name"], "balance");
    }

    #[test]
    fn changes_go_to_their_files() {
        let (d, node) = fake_sched_node();
        let cfg = d.path().join("sys/kernel/config/ssi/scheduler");
        run(&node, SchedulerAction::Set { param: "balance.margin".into(), value: "300".into() }).unwrap();
        assert_eq!(fs::read_to_string(cfg.join("policies/balance/margin")).unwrap(), "300\n");
        run(&node, SchedulerAction::Set { param: "load.period_ms".into(), value: "200".into() }).unwrap();
        assert_eq!(fs::read_to_string(cfg.join("probes/period_ms")).unwrap(), "200\n");
        let e = run(&node, SchedulerAction::Set { param: "balance.nope".into(), value: "1".into() }).unwrap_err();
        assert!(matches!(e, CtlError::Invalid { .. }), "{e:?}");
        assert_eq!(e.exit_code(), 2);
        run(
            &node,
            SchedulerAction::Edit {
                name: "balance".into(),
                field: "processes".into(),
                value: vec!["pids".into(), "5".into()],
            },
        )
        .unwrap();
        assert_eq!(fs::read_to_string(cfg.join("command")).unwrap(), "set balance processes pids 5\n");
        let e =
            run(&node, SchedulerAction::Edit { name: "balance".into(), field: "colour".into(), value: vec!["red".into()] })
                .unwrap_err();
        assert!(e.to_string().contains("no such field"), "{e}");
        run(&node, SchedulerAction::Remove { name: "balance".into() }).unwrap();
        assert_eq!(fs::read_to_string(cfg.join("command")).unwrap(), "remove balance\n");
        balance(&node, BalanceAction::Off).unwrap();
        assert_eq!(fs::read_to_string(cfg.join("command")).unwrap(), "remove balance\n");
        balance(&node, BalanceAction::Status { json: true }).unwrap();
        // No module: exit 3.
        fs::remove_dir_all(d.path().join("proc/ssi")).unwrap();
        assert_eq!(balance(&node, BalanceAction::On).unwrap_err().exit_code(), 3);
    }

    #[test]
    fn refusals_say_why() {
        let (_d, node) = fake_sched_node();
        let einval = || io::Error::from_raw_os_error(libc::EINVAL);
        let e = refusal(Path::new("/x"), einval(), "nodes '0' for scheduler b", || field_reason(SchedField::Nodes, "0"));
        assert_eq!(e.to_string(), "nodes '0' for scheduler b refused: value out of range");
        assert_eq!(e.exit_code(), 2);
        let e = refusal(Path::new("/x"), einval(), "w", || field_reason(SchedField::Policy, "nope"));
        assert!(e.to_string().contains("unknown word (policies: balance, round_robin, least_loaded, memory)"), "{e}");
        let e = refusal(Path::new("/x"), io::Error::from_raw_os_error(libc::ENOTCONN), "w", String::new);
        assert!(matches!(e, CtlError::NotJoined));
        assert_eq!(param_reason(&node, "balance", "margin", "x"), "not a decimal number");
        assert_eq!(param_reason(&node, "balance", "margin", "99999"), "out of its range (docs/scheduler.md)");
        assert_eq!(
            param_reason(&node, "balance", "min_residency_ms", "30000"),
            "balance.return_after_ms would then be out of its range (docs/scheduler.md)"
        );
        assert_eq!(param_reason(&node, "balance", "margin", "300"), SEE_LOG);
    }
}
