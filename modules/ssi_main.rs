// SPDX-License-Identifier: GPL-2.0
//! ssi.ko: a kernel-level single system image for Linux clusters.
//!
//! This is the crate root. Each layer lives in its own folder (see
//! docs/design.md); files are pulled in here with `mod`/`#[path]`. Pure logic
//! comes from the `no_std` crate in `proto/`, shared with userspace tests.

use kernel::{c_str, prelude::*, sync::Arc};

#[path = "../checkpoint/mod.rs"]
mod checkpoint;
mod cluster;
mod configfs;
mod ctl_device;
mod ctl_reply;
mod identity;
mod kernel_ext;
mod kill_hook;
mod krpc_bench;
#[path = "../krpc/mod.rs"]
mod krpc;
mod kthread;
#[path = "../migration/mod.rs"]
mod migration;
mod node;
mod exec_hook;
#[path = "../ha/mod.rs"]
mod ha;
mod pid_files;
mod pid_hook;
mod proc_root;
mod procfs;
#[path = "../procspace/mod.rs"]
mod procspace;
#[path = "../scheduler/mod.rs"]
mod scheduler;

/// Bindings for kernel interfaces the 6.12 kernel crate lacks, generated
/// from `modules/extra.h` at build time (see `modules/extra_bindgen.mk`).
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    improper_ctypes,
    unreachable_pub,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod extra {
    include!("extra_bindings.rs");
}

mod proto;

use node::Node;

module! {
    type: SsiModule,
    name: "ssi",
    author: "ssi developers",
    description: "ssi: single system image for Linux clusters",
    license: "GPL",
}

struct SsiModule {
    node: Arc<Node>,
    /// Remote processes in `/proc`; `None` if `/proc` could not be hooked.
    proc_root: Option<proc_root::ProcRootHook>,
    /// `/proc/PID` files of migrated processes; `None` if not hooked.
    pid_files: Option<pid_files::PidFilesHook>,
    // Field order is drop order: files disappear before the state they show.
    _ctl: ctl_device::CtlDevice,
    _config: configfs::Subsystem<Arc<Node>>,
    _proc: procfs::ProcDir<Node>,
}

impl kernel::Module for SsiModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Before any request can capture or restore an image.
        let (crc_sw, crc_hw) = checkpoint::crc::choose();
        let node = Node::new()?;
        let proc = procfs::ProcDir::new(c_str!("ssi"), node.clone()).inspect_err(|e| {
            pr_err!("cannot create /proc/ssi (error {})\n", e.to_errno());
        })?;
        proc.add::<node::VersionFile>()?;
        proc.add::<node::NodeFile>()?;
        proc.add::<node::NodesFile>()?;
        proc.add::<node::ResourcesFile>()?;
        proc.add::<node::KrpcFile>()?;
        proc.add::<node::PeersFile>()?;
        proc.add::<migration::MigrationsFile>()?;
        proc.add::<procspace::PsFile>()?;
        proc.add::<procspace::resources::LocalMeminfo>()?;
        proc.add::<procspace::resources::LocalStat>()?;
        proc.add::<procspace::resources::LocalCpuinfo>()?;
        proc.add::<procspace::resources::LocalLoadavg>()?;
        proc.add::<scheduler::status::SchedulerFile>()?;
        proc.add::<ha::status::HaFile>()?;
        let mut config_root = configfs::Group::new(c_str!("ssi"));
        config_root.add_attrs(&node::CONFIG_ATTRS)?;
        config_root.add_child(scheduler::config_tree::group()?)?;
        let config = configfs::Subsystem::register(module, node.clone(), config_root).inspect_err(|e| {
            pr_err!("cannot register configfs subsystem 'ssi' (error {})\n", e.to_errno());
        })?;
        let ctl = ctl_device::CtlDevice::register(node.clone()).inspect_err(|e| {
            pr_err!("cannot create /dev/ssi (error {})\n", e.to_errno());
        })?;
        let procs = procspace::proc_view::ClusterProcs::new(node.clone())?;
        let remote: Arc<dyn proc_root::RemoteProcs> = procs.clone();
        let proc_root = proc_root::ProcRootHook::install(remote)
            .inspect_err(|e| {
                pr_warn!("/proc will not list other nodes' processes: cannot hook it (error {})\n", e.to_errno());
            })
            .ok();
        if proc_root.is_some() {
            // The kernel's own files looked up before the hook stay cached
            // until forgotten: the merged ones are served from now on.
            for name in procspace::resources::ROOT_FILES {
                proc_root::forget(name);
            }
        }
        let pid_files = pid_files::PidFilesHook::arm(procs)
            .inspect_err(|e| {
                pr_warn!(
                    "/proc/PID of a migrated process will show its deputy: cannot hook it (error {})\n",
                    e.to_errno()
                );
            })
            .ok();
        pr_info!(
            "loaded: release {}, interface {}, image CRCs {} (MB/s: tables {}, crc32 instruction {}); configure in /sys/kernel/config/ssi\n",
            proto::version::RELEASE,
            proto::version::INTERFACE,
            if checkpoint::crc::in_hardware() { "by the crc32 instruction" } else { "by tables" },
            crc_sw,
            crc_hw,
        );
        Ok(SsiModule { node, proc_root, pid_files, _ctl: ctl, _config: config, _proc: proc })
    }
}

impl Drop for SsiModule {
    fn drop(&mut self) {
        pr_info!("unloading\n");
        // /proc first: no reader may start a listing of a leaving node.
        drop(self.proc_root.take());
        drop(self.pid_files.take());
        // Leave the cluster: stops every thread and closes every socket.
        self.node.shutdown();
    }
}
