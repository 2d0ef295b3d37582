// SPDX-License-Identifier: GPL-2.0
//! This node's identity (node id, address, krpc port) and the configfs and
//! procfs files that show and set it.

use crate::{
    configfs::{AttrDesc, Attribute, Page},
    procfs::{ProcShow, SeqFile},
    proto::{identity as id, version},
};
use core::{
    fmt::Write,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{c_str, prelude::*, str::CStr, sync::Arc};

/// The node's identity. Plain atomics: each value is read and written
/// whole, and nothing needs two of them to change together yet.
pub(crate) struct Identity {
    node_id: AtomicU32,
    address: AtomicU32,
    port: AtomicU32,
}

impl Identity {
    /// A node with no id or address yet, listening on the default port.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Identity {
                node_id: AtomicU32::new(0),
                address: AtomicU32::new(0),
                port: AtomicU32::new(id::DEFAULT_PORT.into()),
            },
            GFP_KERNEL,
        )?)
    }

    /// The node id, 0 while unset.
    pub(crate) fn node_id(&self) -> u32 {
        self.node_id.load(Ordering::Relaxed)
    }

    /// The node's address.
    pub(crate) fn address(&self) -> id::Ipv4 {
        id::Ipv4::from_bits(self.address.load(Ordering::Relaxed))
    }

    /// The krpc TCP port.
    pub(crate) fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed) as u16
    }
}

fn invalid(what: &str, input: &[u8], e: id::ParseError) -> Error {
    let shown = core::str::from_utf8(id::trim(input)).unwrap_or("<not text>");
    pr_warn!("rejected {} '{}': {}\n", what, shown, e.describe());
    EINVAL
}

/// configfs `node_id`: this node's id in the cluster, 1..=4095 (0: unset).
pub(crate) struct NodeIdAttr;
impl Attribute<Arc<Identity>> for NodeIdAttr {
    const NAME: &'static CStr = c_str!("node_id");
    const WRITABLE: bool = true;
    fn show(data: &Arc<Identity>, out: &mut Page<'_>) -> Result {
        writeln!(out, "{}", data.node_id()).map_err(|_| EINVAL)
    }
    fn store(data: &Arc<Identity>, input: &[u8]) -> Result {
        let v = id::parse_node_id(input).map_err(|e| invalid("node_id", input, e))?;
        let old = data.node_id.swap(v, Ordering::Relaxed);
        if old != v {
            pr_info!("node id set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `address`: this node's IPv4 address (0.0.0.0: unset).
pub(crate) struct AddressAttr;
impl Attribute<Arc<Identity>> for AddressAttr {
    const NAME: &'static CStr = c_str!("address");
    const WRITABLE: bool = true;
    fn show(data: &Arc<Identity>, out: &mut Page<'_>) -> Result {
        writeln!(out, "{}", data.address()).map_err(|_| EINVAL)
    }
    fn store(data: &Arc<Identity>, input: &[u8]) -> Result {
        let v = id::parse_ipv4(input).map_err(|e| invalid("address", input, e))?;
        let old = data.address.swap(v.to_bits(), Ordering::Relaxed);
        if old != v.to_bits() {
            pr_info!("address set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `port`: the TCP port krpc listens on.
pub(crate) struct PortAttr;
impl Attribute<Arc<Identity>> for PortAttr {
    const NAME: &'static CStr = c_str!("port");
    const WRITABLE: bool = true;
    fn show(data: &Arc<Identity>, out: &mut Page<'_>) -> Result {
        writeln!(out, "{}", data.port()).map_err(|_| EINVAL)
    }
    fn store(data: &Arc<Identity>, input: &[u8]) -> Result {
        let v = id::parse_port(input).map_err(|e| invalid("port", input, e))?;
        let old = data.port.swap(v.into(), Ordering::Relaxed);
        if old != u32::from(v) {
            pr_info!("krpc port set to {}\n", v);
        }
        Ok(())
    }
}

/// configfs `version`: release and interface version, read-only.
pub(crate) struct VersionAttr;
impl Attribute<Arc<Identity>> for VersionAttr {
    const NAME: &'static CStr = c_str!("version");
    fn show(_data: &Arc<Identity>, out: &mut Page<'_>) -> Result {
        writeln!(out, "{}", version::RELEASE).map_err(|_| EINVAL)
    }
}

/// Every attribute of `/sys/kernel/config/ssi`.
pub(crate) const CONFIG_ATTRS: [AttrDesc<Arc<Identity>>; 4] = [
    AttrDesc::of::<NodeIdAttr>(),
    AttrDesc::of::<AddressAttr>(),
    AttrDesc::of::<PortAttr>(),
    AttrDesc::of::<VersionAttr>(),
];

/// `/proc/ssi/version`: `key: value` lines that ssi-ctl reads.
pub(crate) struct VersionFile;
impl ProcShow<Identity> for VersionFile {
    const NAME: &'static CStr = c_str!("version");
    fn show(_data: &Identity, out: &mut SeqFile<'_>) -> Result {
        write!(out, "release: {}\ninterface: {}\n", version::RELEASE, version::INTERFACE)
            .map_err(|_| ENOSPC)
    }
}

/// `/proc/ssi/node`: this node's identity, `key: value` lines.
pub(crate) struct NodeFile;
impl ProcShow<Identity> for NodeFile {
    const NAME: &'static CStr = c_str!("node");
    fn show(data: &Identity, out: &mut SeqFile<'_>) -> Result {
        write!(
            out,
            "node_id: {}\naddress: {}\nport: {}\n",
            data.node_id(),
            data.address(),
            data.port()
        )
        .map_err(|_| ENOSPC)
    }
}
