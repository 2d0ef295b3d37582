// SPDX-License-Identifier: GPL-2.0
//! The scheduler's configfs tree, `/sys/kernel/config/ssi/scheduler/`
//! (`docs/scheduler.md`): a default group of the `ssi` subsystem.
//!
//! ```text
//! scheduler/
//!   generation        read-only: the configuration's generation
//!   list              read-only: every scheduler in force, one line each
//!   command           write-only: add NAME POLICY | remove NAME |
//!                     set NAME FIELD VALUE | param PART.FIELD VALUE
//!   probes/           load.* parameters; cpu_load, free_memory (read-only)
//!   filters/          report.* parameters
//!   policies/         available (read-only); balance/ place/ memory/
//!                     cost/ strategy/: their parameters
//!   schedulers/       mkdir NAME: a scheduler; rmdir NAME: none
//!     NAME/           policy processes nodes enabled
//! ```
//!
//! Every file shows the configuration in force, whichever node changed
//! it last. Every write is a change of the cluster-wide configuration
//! through [`SchedService::change`]: a [`Command`], checked here, made by
//! the coordinator as the next generation and sent to every node;
//! refused outside a cluster (`ENOTCONN`).
//! A value that does not parse, or that the configuration refuses, is
//! `EINVAL` and a `ssi: scheduler: PATH = VALUE refused: REASON` line.
//!
//! `schedulers/` holds the directories made on this node: a scheduler
//! added elsewhere has none here until someone makes one (`mkdir` of the
//! name of a scheduler in force makes its directory without changing
//! anything), and a directory whose scheduler was removed elsewhere
//! stays, its files unreadable (`ENOENT`), until `rmdir`. `list` and
//! `command` work for every scheduler from any node (`ssi-ctl scheduler`
//! uses them). configfs keeps the module loaded while a directory made
//! with `mkdir` exists: `rmmod` needs them removed first.

use super::{status::Load, SchedService};
use crate::{
    cluster::Cluster,
    configfs::{AttrDesc, Attribute, Group, IndexedAttribute, ItemAttrDesc, ItemAttribute, Items, Page},
    kernel_ext::StackStr,
    proto::{
        identity::trim,
        sched::{
            param_dir, parse_command, parse_name, parse_param_value, write_param, Command, PolicyKind, SchedField,
            TextError, PARAM_FIELDS,
        },
    },
};
use core::fmt::Write;
use kernel::{c_str, prelude::*, str::CStr, sync::Arc};

/// What the scheduler's files need of the subsystem's data.
pub(crate) trait SchedHost: Send + Sync + 'static {
    /// The scheduler.
    fn sched(&self) -> &SchedService;
    /// The cluster, while the node is in one.
    fn cluster(&self) -> Option<Arc<Cluster>>;
}

impl<T: SchedHost> SchedHost for Arc<T> {
    fn sched(&self) -> &SchedService {
        (**self).sched()
    }
    fn cluster(&self) -> Option<Arc<Cluster>> {
        (**self).cluster()
    }
}

/// What a log line names: a file and the value written to it.
type What = StackStr<160>;

/// `input` as a log shows it: trimmed, at most 80 bytes.
fn shown(input: &[u8]) -> &str {
    let s = trim(input);
    let s = &s[..s.len().min(80)];
    match core::str::from_utf8(s) {
        Ok(t) => t,
        Err(e) => core::str::from_utf8(&s[..e.valid_up_to()]).unwrap_or("<not text>"),
    }
}

/// `PATH = VALUE`, for the log.
fn what(path: core::fmt::Arguments<'_>, input: &[u8]) -> What {
    let mut w = What::new();
    let _ = write!(w, "{} = {}", path, shown(input));
    w
}

/// Logs a value that does not parse; `EINVAL`.
fn unparsed(what: &What, e: TextError) -> Error {
    pr_warn!("scheduler: {} refused: {}\n", what.as_str(), e.describe());
    EINVAL
}

/// Changes the cluster-wide configuration (`SchedService::change`); a
/// node outside a cluster refuses (`ENOTCONN`): it could not send the
/// change, and its next join would override the cluster's.
fn change<D: SchedHost>(data: &D, what: &What, cmd: &Command) -> Result {
    let Some(cluster) = data.cluster() else {
        pr_warn!(
            "scheduler: {} refused: this node is not in a cluster (the configuration is cluster-wide)\n",
            what.as_str()
        );
        return Err(crate::kernel_ext::enotconn());
    };
    data.sched().change(&cluster, what.as_str(), cmd)
}

/// `scheduler/generation`: the configuration's generation (0: never
/// changed).
struct GenerationAttr;
impl<D: SchedHost> Attribute<D> for GenerationAttr {
    const NAME: &'static CStr = c_str!("generation");
    fn show(data: &D, out: &mut Page<'_>) -> Result {
        out.line(data.sched().config().generation)
    }
}

/// `scheduler/list`: every scheduler in force, one line each (`NAME:
/// POLICY, enabled|disabled, processes SET, nodes SET`).
struct ListAttr;
impl<D: SchedHost> Attribute<D> for ListAttr {
    const NAME: &'static CStr = c_str!("list");
    fn show(data: &D, out: &mut Page<'_>) -> Result {
        for s in data.sched().config().schedulers() {
            out.line(s)?;
        }
        Ok(())
    }
}

/// `scheduler/command`: one command per write (`proto::sched::Command`),
/// for any scheduler of the cluster, from any node.
struct CommandAttr;
impl<D: SchedHost> Attribute<D> for CommandAttr {
    const NAME: &'static CStr = c_str!("command");
    const WRITABLE: bool = true;
    const READABLE: bool = false;
    fn show(_data: &D, _out: &mut Page<'_>) -> Result {
        Err(EPERM)
    }
    fn store(data: &D, input: &[u8]) -> Result {
        let mut w = What::new();
        let _ = write!(w, "command '{}'", shown(input));
        let cmd = parse_command(input).map_err(|e| unparsed(&w, e))?;
        change(data, &w, &cmd)
    }
}

/// `probes/cpu_load`: this node's load as its probe smoothed it at the
/// last sample, `upper U mean M cpus N` (per CPU, in tasks).
struct CpuLoadAttr;
impl<D: SchedHost> Attribute<D> for CpuLoadAttr {
    const NAME: &'static CStr = c_str!("cpu_load");
    fn show(data: &D, out: &mut Page<'_>) -> Result {
        let (upper, mean, cpus, _) = data.sched().state.lock().local_load();
        writeln!(out, "upper {} mean {} cpus {}", Load(upper), Load(mean), cpus).map_err(|_| EINVAL)
    }
}

/// `probes/free_memory`: this node's available memory at the last
/// sample, `free F KiB of T KiB`.
struct FreeMemoryAttr;
impl<D: SchedHost> Attribute<D> for FreeMemoryAttr {
    const NAME: &'static CStr = c_str!("free_memory");
    fn show(data: &D, out: &mut Page<'_>) -> Result {
        let (_, _, _, mem) = data.sched().state.lock().local_load();
        writeln!(out, "free {} KiB of {} KiB", mem.free_kib, mem.total_kib).map_err(|_| EINVAL)
    }
}

/// `policies/available`: the policies a scheduler may have.
struct AvailableAttr;
impl<D: SchedHost> Attribute<D> for AvailableAttr {
    const NAME: &'static CStr = c_str!("available");
    fn show(_data: &D, out: &mut Page<'_>) -> Result {
        for (i, k) in PolicyKind::ALL.iter().enumerate() {
            write!(out, "{}{}", if i == 0 { "" } else { " " }, k).map_err(|_| EINVAL)?;
        }
        writeln!(out).map_err(|_| EINVAL)
    }
}

/// A parameter's file: `PARAM_FIELDS[index]`, in its part's directory.
struct ParamAttr;
impl<D: SchedHost> IndexedAttribute<D> for ParamAttr {
    const WRITABLE: bool = true;
    fn show(data: &D, index: usize, out: &mut Page<'_>) -> Result {
        let f = PARAM_FIELDS.get(index).ok_or(EINVAL)?;
        write_param(&data.sched().config().params, f.part.as_bytes(), f.field.as_bytes(), out).map_err(|_| EINVAL)
    }
    fn store(data: &D, index: usize, input: &[u8]) -> Result {
        let f = PARAM_FIELDS.get(index).ok_or(EINVAL)?;
        let w = what(format_args!("{}/{}", param_dir(f.part).unwrap_or(f.part), f.field), input);
        let value = parse_param_value(f, input).map_err(|e| unparsed(&w, e))?;
        change(data, &w, &Command::Param { index, value })
    }
}

/// The field of a scheduler a file of its directory shows (its index in
/// `SchedField::ALL`).
struct FieldAttr<const F: usize>;
const FIELD_FILES: [&CStr; 4] = [c_str!("policy"), c_str!("processes"), c_str!("nodes"), c_str!("enabled")];
impl<D: SchedHost, const F: usize> ItemAttribute<D> for FieldAttr<F> {
    const NAME: &'static CStr = FIELD_FILES[F];
    const WRITABLE: bool = true;
    fn show(data: &D, item: &[u8], out: &mut Page<'_>) -> Result {
        let field = *SchedField::ALL.get(F).ok_or(EINVAL)?;
        let c = data.sched().config();
        let s = c.get(item).ok_or(ENOENT)?;
        field.write(s, out).map_err(|_| EINVAL)?;
        writeln!(out).map_err(|_| EINVAL)
    }
    fn store(data: &D, item: &[u8], input: &[u8]) -> Result {
        let field = *SchedField::ALL.get(F).ok_or(EINVAL)?;
        let w = what(format_args!("schedulers/{}/{}", shown(item), field.name()), input);
        let value = field.parse(input).map_err(|e| unparsed(&w, e))?;
        let name = parse_name(item).map_err(|e| unparsed(&w, e))?;
        change(data, &w, &Command::Set { name, change: value })
    }
}

/// `mkdir`/`rmdir` in `schedulers/`.
struct SchedulerDirs;
impl<D: SchedHost> Items<D> for SchedulerDirs {
    fn make(data: &D, name: &[u8]) -> Result {
        let mut w = What::new();
        let _ = write!(w, "mkdir schedulers/{}", shown(name));
        let n = parse_name(name).map_err(|e| unparsed(&w, e))?;
        if data.sched().config().get(name).is_some() {
            pr_info!("scheduler: schedulers/{}: the directory of a scheduler in force\n", n);
            return Ok(());
        }
        let _ = write!(w, ": a disabled balance scheduler over all processes and nodes");
        change(data, &w, &Command::Add { name: n, policy: PolicyKind::Balance })
    }

    fn drop(data: &D, name: &[u8]) {
        if data.sched().config().get(name).is_none() {
            return; // Removed elsewhere already.
        }
        let mut w = What::new();
        let _ = write!(w, "rmdir schedulers/{}", shown(name));
        let Ok(n) = parse_name(name) else { return };
        if change(data, &w, &Command::Remove(n)).is_err() {
            pr_warn!(
                "scheduler: '{}' stays in force without its directory here (ssi-ctl scheduler remove {} from a node in the cluster)\n",
                shown(name),
                shown(name)
            );
        }
    }
}

/// The parameters of part `part` as files of a group `name`.
fn params_group<D: SchedHost>(name: &'static CStr, part: &str) -> Result<Group<D>> {
    let mut g = Group::new(name);
    for (i, f) in PARAM_FIELDS.iter().enumerate().filter(|(_, f)| f.part == part) {
        g.add_attrs(&[AttrDesc::indexed::<ParamAttr>(f.field, i)?])?;
    }
    Ok(g)
}

/// The `scheduler` group and everything under it. The directories of the
/// parts are `proto::sched::PARAM_DIRS`, which `ssi-ctl` reads.
pub(crate) fn group<D: SchedHost>() -> Result<Group<D>> {
    let mut top = Group::new(c_str!("scheduler"));
    top.add_attrs(&[AttrDesc::of::<GenerationAttr>(), AttrDesc::of::<ListAttr>(), AttrDesc::of::<CommandAttr>()])?;
    let mut probes = params_group(c_str!("probes"), "load")?;
    probes.add_attrs(&[AttrDesc::of::<CpuLoadAttr>(), AttrDesc::of::<FreeMemoryAttr>()])?;
    top.add_child(probes)?;
    top.add_child(params_group(c_str!("filters"), "report")?)?;
    let mut policies = Group::new(c_str!("policies"));
    policies.add_attrs(&[AttrDesc::of::<AvailableAttr>()])?;
    for (name, part) in [
        (c_str!("balance"), "balance"),
        (c_str!("place"), "place"),
        (c_str!("memory"), "memory"),
        (c_str!("cost"), "cost"),
        (c_str!("strategy"), "strategy"),
    ] {
        policies.add_child(params_group(name, part)?)?;
    }
    top.add_child(policies)?;
    let mut dirs = Group::new(c_str!("schedulers"));
    dirs.set_items::<SchedulerDirs>(&[
        ItemAttrDesc::of::<FieldAttr<0>>(),
        ItemAttrDesc::of::<FieldAttr<1>>(),
        ItemAttrDesc::of::<FieldAttr<2>>(),
        ItemAttrDesc::of::<FieldAttr<3>>(),
    ])?;
    top.add_child(dirs)?;
    Ok(top)
}
