//! Reading and writing ssi.ko's files under /proc/ssi and
//! /sys/kernel/config/ssi, with errors an operator can act on.

use ssi_proto::identity::{self, Ipv4};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong, and which exit code says so.
#[derive(Debug)]
pub enum CtlError {
    /// ssi.ko is not loaded (exit 3).
    NotLoaded,
    /// configfs is not mounted (exit 3).
    NoConfigfs(PathBuf),
    /// The caller lacks the rights (exit 4).
    Permission(PathBuf),
    /// A file had content ssi-ctl does not understand (exit 1).
    Malformed(PathBuf, String),
    /// Any other I/O error (exit 1).
    Io(PathBuf, io::Error),
    /// Not a setting ssi-ctl knows (exit 2).
    UnknownKey(String),
    /// The module refused the value (exit 2).
    InvalidValue(String, String),
    /// The setting cannot be read back (exit 2).
    WriteOnly(String),
    /// The setting cannot change while the node is in the cluster (exit 1).
    Busy(String),
    /// Joining needs a cluster secret (exit 1).
    NoSecret,
    /// The module refused or failed a request (exit 4 for EPERM, else 1).
    Refused { what: String, message: String, errno: i32 },
    /// A checkpoint image is damaged or not an image (exit 1).
    BadImage(PathBuf, String),
    /// No process of that pid in the cluster's listing (exit 1).
    NoProcess(u32),
    /// The module refused a change of the scheduler's configuration
    /// (exit 2): what was asked and why.
    Invalid { what: String, why: String },
    /// A change of the cluster-wide configuration on a node outside the
    /// cluster (exit 1).
    NotJoined,
}

impl CtlError {
    /// The errno that best describes it (for reports to the module).
    pub fn errno(&self) -> i32 {
        match self {
            CtlError::Refused { errno, .. } => *errno,
            CtlError::Io(_, e) => e.raw_os_error().unwrap_or(libc::EIO),
            CtlError::Permission(_) => libc::EACCES,
            CtlError::NotLoaded | CtlError::NoConfigfs(_) => libc::ENODEV,
            CtlError::BadImage(..) | CtlError::Malformed(..) => libc::EINVAL,
            CtlError::NoProcess(_) => libc::ESRCH,
            CtlError::Invalid { .. } => libc::EINVAL,
            CtlError::NotJoined => libc::ENOTCONN,
            _ => libc::EIO,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::NotLoaded | CtlError::NoConfigfs(_) => 3,
            CtlError::Permission(_) => 4,
            CtlError::Refused { errno, .. } if *errno == 1 || *errno == 13 => 4,
            CtlError::Malformed(..)
            | CtlError::Io(..)
            | CtlError::Busy(_)
            | CtlError::NoSecret
            | CtlError::Refused { .. }
            | CtlError::BadImage(..)
            | CtlError::NoProcess(_)
            | CtlError::NotJoined => 1,
            CtlError::UnknownKey(_) | CtlError::InvalidValue(..) | CtlError::WriteOnly(_) | CtlError::Invalid { .. } => 2,
        }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::NotLoaded => write!(
                f,
                "the ssi kernel module is not loaded (no /proc/ssi); load it with 'insmod ssi.ko' \
                 (on cluster nodes: insmod /opt/ssi/ssi.ko)"
            ),
            CtlError::NoConfigfs(p) => write!(
                f,
                "configfs is not mounted ({} missing); mount it with 'mount -t configfs none /sys/kernel/config'",
                p.display()
            ),
            CtlError::Permission(p) => write!(f, "permission denied on {} (are you root?)", p.display()),
            CtlError::Malformed(p, why) => write!(f, "unexpected content in {}: {why}", p.display()),
            CtlError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            CtlError::UnknownKey(k) => write!(f, "unknown setting '{k}'; settings: {}", CONFIG_KEYS.join(", ")),
            CtlError::InvalidValue(k, v) => {
                write!(f, "invalid value '{v}' for {k} (the kernel log says why: dmesg | grep ssi:)")
            }
            CtlError::WriteOnly(k) => write!(f, "{k} is write-only: it can be set but never read back"),
            CtlError::Busy(k) => write!(
                f,
                "{k} cannot change while this node is in the cluster; leave first with 'ssi-ctl config set enabled 0'"
            ),
            CtlError::NoSecret => write!(f, "cannot join: no cluster secret set ('ssi-ctl config set secret ...')"),
            CtlError::Refused { what, message, errno } => {
                write!(f, "{what} failed: {message} ({})", std::io::Error::from_raw_os_error(*errno))
            }
            CtlError::BadImage(p, why) => write!(f, "{} is not a valid image: {why}", p.display()),
            CtlError::NoProcess(pid) => {
                write!(f, "no process {pid} in the cluster (no alive node lists it; see ssi-ctl ps)")
            }
            CtlError::Invalid { what, why } => write!(f, "{what} refused: {why}"),
            CtlError::NotJoined => write!(
                f,
                "this node is not in a cluster: the scheduler's configuration is the cluster's \
                 (join first with 'ssi-ctl config set enabled 1')"
            ),
        }
    }
}

/// Settings under /sys/kernel/config/ssi that ssi-ctl reads and writes.
pub const CONFIG_KEYS: [&str; 12] = [
    "node_id",
    "address",
    "port",
    "seeds",
    "secret",
    "heartbeat_ms",
    "dead_after_ms",
    "enabled",
    "version",
    "ctl_path",
    "ps_refresh_ms",
    "merged_proc",
];

/// One line of /proc/ssi/nodes.
#[derive(Debug, PartialEq)]
pub struct NodeRow {
    pub id: u32,
    pub address: String,
    pub port: u16,
    pub state: String,
    pub incarnation: String,
    pub cpus: u32,
    pub mem_total_kib: u64,
    pub mem_free_kib: u64,
    pub load: [String; 3],
    pub last_heard_ms: u64,
}

/// Merged resources of the alive nodes (/proc/ssi/resources).
#[derive(Debug, Default)]
pub struct Totals {
    pub alive_nodes: u32,
    pub cpus: u32,
    pub mem_total_kib: u64,
    pub mem_free_kib: u64,
}

/// Parses a table: a header line, then rows of `columns` whitespace
/// separated fields, each turned into a `T` by `row` (which gets the fields
/// and a number parser that names the line in its errors).
fn parse_table<T>(
    text: &str,
    columns: usize,
    row: impl Fn(&[&str], &dyn Fn(&str) -> Result<u64, String>) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != columns {
            return Err(format!("line {}: expected {columns} columns, found {}", i + 1, f.len()));
        }
        let num = |s: &str| s.parse::<u64>().map_err(|_| format!("line {}: '{s}' is not a number", i + 1));
        rows.push(row(&f, &num)?);
    }
    Ok(rows)
}

/// Parses `key: value` lines.
pub fn parse_kv(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

/// Parses /proc/ssi/nodes (a header line, then one node per line).
pub fn parse_nodes(text: &str) -> Result<Vec<NodeRow>, String> {
    parse_table(text, 12, |f, num| {
        Ok(NodeRow {
            id: num(f[0])? as u32,
            address: f[1].to_string(),
            port: num(f[2])? as u16,
            state: f[3].to_string(),
            incarnation: f[4].to_string(),
            cpus: num(f[5])? as u32,
            mem_total_kib: num(f[6])?,
            mem_free_kib: num(f[7])?,
            load: [f[8].to_string(), f[9].to_string(), f[10].to_string()],
            last_heard_ms: num(f[11])?,
        })
    })
}

/// One line of /proc/ssi/peers: a connected peer's traffic and RTT (and
/// the object `ssi-ctl stats --json` shows for it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PeerRow {
    pub id: u32,
    pub address: String,
    pub frames_sent: u64,
    pub frames_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Frames waiting in the send queue, and in the inbox.
    pub send_queue: u64,
    pub inbox: u64,
    /// Times a sender waited for room in the send queue.
    pub queue_waits: u64,
    pub rtt_us: u64,
    pub rtt_avg_us: u64,
    pub rtt_min_us: u64,
}

/// Parses /proc/ssi/peers (a header line, then one peer per line).
pub fn parse_peers(text: &str) -> Result<Vec<PeerRow>, String> {
    parse_table(text, 12, |f, num| {
        Ok(PeerRow {
            id: num(f[0])? as u32,
            address: f[1].to_string(),
            frames_sent: num(f[2])?,
            frames_received: num(f[3])?,
            bytes_sent: num(f[4])?,
            bytes_received: num(f[5])?,
            send_queue: num(f[6])?,
            inbox: num(f[7])?,
            queue_waits: num(f[8])?,
            rtt_us: num(f[9])?,
            rtt_avg_us: num(f[10])?,
            rtt_min_us: num(f[11])?,
        })
    })
}

/// The local node as seen through ssi.ko's files. `root` is `/` normally;
/// the environment variable SSI_CTL_ROOT points it elsewhere (tests).
pub struct Node {
    root: PathBuf,
}

/// What `ssi-ctl status` reports.
#[derive(Debug)]
pub struct Status {
    pub release: String,
    pub interface: u32,
    pub node_id: Option<u32>,
    pub address: Option<Ipv4>,
    pub port: u16,
    pub enabled: bool,
    pub incarnation: String,
    pub connected_peers: u32,
    pub totals: Totals,
}

impl Node {
    pub fn from_env() -> Node {
        Node { root: std::env::var_os("SSI_CTL_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from) }
    }

    /// The node whose files are under `root`.
    #[cfg(test)]
    pub fn with_root(root: &Path) -> Node {
        Node { root: root.to_path_buf() }
    }

    fn proc_dir(&self) -> PathBuf {
        self.root.join("proc/ssi")
    }

    fn config_dir(&self) -> PathBuf {
        self.root.join("sys/kernel/config/ssi")
    }

    /// A file under /sys/kernel/config/ssi (`rel`: `scheduler/list`, ...).
    pub fn config_path(&self, rel: &str) -> PathBuf {
        self.config_dir().join(rel)
    }

    /// A file of /proc/ssi.
    pub fn proc_path(&self, name: &str) -> PathBuf {
        self.proc_dir().join(name)
    }

    /// Reads a file, with errors an operator can act on.
    pub fn read(&self, path: &Path) -> Result<String, CtlError> {
        std::fs::read_to_string(path).map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => CtlError::Permission(path.to_path_buf()),
            _ => CtlError::Io(path.to_path_buf(), e),
        })
    }

    /// Fails with a clear error unless the module and configfs are there.
    pub fn check_loaded(&self) -> Result<(), CtlError> {
        if !self.proc_dir().is_dir() {
            return Err(CtlError::NotLoaded);
        }
        let configfs = self.root.join("sys/kernel/config");
        if !self.config_dir().is_dir() {
            return Err(if configfs.join("ssi").exists() || is_empty_dir(&configfs) {
                CtlError::NoConfigfs(configfs)
            } else {
                CtlError::NotLoaded
            });
        }
        Ok(())
    }

    /// Reads a configfs attribute, trimmed.
    pub fn config(&self, name: &str) -> Result<String, CtlError> {
        Ok(self.read(&self.config_dir().join(name))?.trim().to_string())
    }

    pub fn status(&self) -> Result<Status, CtlError> {
        self.check_loaded()?;
        let version_path = self.proc_dir().join("version");
        let version = self.read(&version_path)?;
        let field = |key: &str| {
            version
                .lines()
                .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
                .ok_or_else(|| CtlError::Malformed(version_path.clone(), format!("no '{key}:' line")))
        };
        let release = field("release")?.to_string();
        let interface = field("interface")?
            .parse()
            .map_err(|_| CtlError::Malformed(version_path.clone(), "interface is not a number".into()))?;
        let node_id_text = self.config("node_id")?;
        let node_id = match node_id_text.as_str() {
            "0" => None,
            t => Some(
                identity::parse_node_id(t.as_bytes())
                    .map_err(|e| CtlError::Malformed(self.config_dir().join("node_id"), e.describe().into()))?,
            ),
        };
        let address = identity::parse_ipv4(self.config("address")?.as_bytes()).ok().filter(|a| a.is_set());
        let port = identity::parse_port(self.config("port")?.as_bytes())
            .map_err(|e| CtlError::Malformed(self.config_dir().join("port"), e.describe().into()))?;
        let node_kv = parse_kv(&self.read(&self.proc_dir().join("node"))?);
        let get = |k: &str| node_kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let res = parse_kv(&self.read(&self.proc_dir().join("resources"))?);
        let num = |k: &str| res.iter().find(|(key, _)| key == k).and_then(|(_, v)| v.parse::<u64>().ok()).unwrap_or(0);
        Ok(Status {
            release,
            interface,
            node_id,
            address,
            port,
            enabled: get("enabled") == "1",
            incarnation: get("incarnation"),
            connected_peers: get("connected_peers").parse().unwrap_or(0),
            totals: Totals {
                alive_nodes: num("nodes") as u32,
                cpus: num("cpus") as u32,
                mem_total_kib: num("mem_total_kib"),
                mem_free_kib: num("mem_free_kib"),
            },
        })
    }

    /// Every node this node knows.
    pub fn nodes(&self) -> Result<Vec<NodeRow>, CtlError> {
        self.check_loaded()?;
        let path = self.proc_dir().join("nodes");
        parse_nodes(&self.read(&path)?).map_err(|why| CtlError::Malformed(path, why))
    }

    /// krpc counters, in the module's order.
    pub fn krpc_stats(&self) -> Result<Vec<(String, String)>, CtlError> {
        self.check_loaded()?;
        Ok(parse_kv(&self.read(&self.proc_dir().join("krpc"))?))
    }

    /// Recent migrations, deputies, lenders and hosted processes.
    pub fn migrations(&self) -> Result<crate::migrations::Migrations, CtlError> {
        self.check_loaded()?;
        let path = self.proc_dir().join("migrations");
        crate::migrations::parse(&self.read(&path)?).map_err(|why| CtlError::Malformed(path, why))
    }

    /// Every user process of the cluster's alive nodes (`/proc/ssi/ps`),
    /// sorted by node, then pid.
    pub fn ps(&self) -> Result<Vec<crate::ps::ProcRow>, CtlError> {
        self.check_loaded()?;
        let path = self.proc_dir().join("ps");
        crate::ps::parse(&self.read(&path)?).map_err(|why| CtlError::Malformed(path, why))
    }

    /// This node's id as the module runs it (`/proc/ssi/node`), if set.
    pub fn own_node_id(&self) -> Option<u16> {
        let text = self.read(&self.proc_dir().join("node")).ok()?;
        let id = parse_kv(&text).into_iter().find(|(k, _)| k == "node_id")?.1;
        id.parse().ok().filter(|&n| n != 0)
    }

    /// User names by uid from `etc/passwd` under the root; none if it
    /// cannot be read (then `ssi-ctl ps` shows uids).
    pub fn users(&self) -> std::collections::HashMap<u32, String> {
        std::fs::read_to_string(self.root.join("etc/passwd")).map(|t| crate::ps::parse_passwd(&t)).unwrap_or_default()
    }

    /// The directory ssi.ko's files are under (`/` normally).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Connected peers with their traffic and round-trip times.
    pub fn peers(&self) -> Result<Vec<PeerRow>, CtlError> {
        self.check_loaded()?;
        let path = self.proc_dir().join("peers");
        parse_peers(&self.read(&path)?).map_err(|why| CtlError::Malformed(path, why))
    }

    fn check_key(key: &str) -> Result<(), CtlError> {
        if CONFIG_KEYS.contains(&key) {
            Ok(())
        } else {
            Err(CtlError::UnknownKey(key.to_string()))
        }
    }

    /// Reads a setting.
    pub fn config_get(&self, key: &str) -> Result<String, CtlError> {
        Self::check_key(key)?;
        if key == "secret" {
            return Err(CtlError::WriteOnly(key.into()));
        }
        self.check_loaded()?;
        self.config(key)
    }

    /// Writes a setting; the module validates it.
    pub fn config_set(&self, key: &str, value: &str) -> Result<(), CtlError> {
        Self::check_key(key)?;
        self.check_loaded()?;
        let path = self.config_dir().join(key);
        std::fs::write(&path, format!("{value}\n")).map_err(|e| match e.raw_os_error() {
            Some(libc_errno::EINVAL) => CtlError::InvalidValue(key.into(), value.into()),
            Some(libc_errno::EBUSY) => CtlError::Busy(key.into()),
            Some(libc_errno::ENOKEY) => CtlError::NoSecret,
            Some(libc_errno::EACCES) | Some(libc_errno::EPERM) => CtlError::Permission(path.clone()),
            _ => CtlError::Io(path.clone(), e),
        })
    }
}

/// errno values of Linux/x86_64 that ssi-ctl interprets.
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const EACCES: i32 = 13;
    pub const EBUSY: i32 = 16;
    pub const EINVAL: i32 = 22;
    pub const ENOKEY: i32 = 126;
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).map(|mut d| d.next().is_none()).unwrap_or(true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    /// A node's files under a temporary directory: version, identity,
    /// cluster state and resources.
    pub(crate) fn fake_node(version: &str, node_id: &str) -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc/ssi")).unwrap();
        fs::create_dir_all(dir.path().join("sys/kernel/config/ssi")).unwrap();
        fs::write(dir.path().join("proc/ssi/version"), version).unwrap();
        let cfg = dir.path().join("sys/kernel/config/ssi");
        fs::write(cfg.join("node_id"), node_id).unwrap();
        fs::write(cfg.join("address"), "10.99.0.12\n").unwrap();
        fs::write(cfg.join("port"), "7070\n").unwrap();
        fs::write(dir.path().join("proc/ssi/node"), "node_id: 2\nenabled: 1\nincarnation: 0000abcd\nconnected_peers: 2\n")
            .unwrap();
        fs::write(dir.path().join("proc/ssi/resources"), "nodes: 3\ncpus: 6\nmem_total_kib: 3000\nmem_free_kib: 2000\n")
            .unwrap();
        let node = Node { root: dir.path().to_path_buf() };
        (dir, node)
    }

    #[test]
    fn status_reads_identity() {
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        let st = node.status().unwrap();
        assert_eq!(st.release, "0.1.0");
        assert_eq!(st.node_id, Some(2));
        assert_eq!(st.address, Some(Ipv4([10, 99, 0, 12])));
        assert_eq!(st.port, 7070);
    }

    #[test]
    fn unset_node_id_is_none() {
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "0\n");
        assert_eq!(node.status().unwrap().node_id, None);
    }

    #[test]
    fn missing_module_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node { root: dir.path().to_path_buf() };
        let err = node.status().unwrap_err();
        assert!(matches!(err, CtlError::NotLoaded));
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("not loaded"));
    }

    #[test]
    fn malformed_version_is_reported() {
        let (_d, node) = fake_node("garbage\n", "1\n");
        assert!(matches!(node.status().unwrap_err(), CtlError::Malformed(..)));
    }

    #[test]
    fn status_reads_cluster() {
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        let st = node.status().unwrap();
        assert!(st.enabled);
        assert_eq!(st.connected_peers, 2);
        assert_eq!(st.totals.alive_nodes, 3);
        assert_eq!(st.totals.mem_total_kib, 3000);
    }

    #[test]
    fn nodes_table() {
        let text = "  id address port state incarn cpus mem_kib free_kib load1 load5 load15 heard_ms\n   1 10.99.0.11  7070 alive  3ce85d07    2      1010192       977192   1.45   0.44   0.15       140\n";
        let rows = parse_nodes(text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, 1);
        assert_eq!(rows[0].state, "alive");
        assert_eq!(rows[0].load[0], "1.45");
        assert!(parse_nodes("h\n1 2 3\n").is_err());
        assert!(parse_nodes("h\n1 a 7070 alive x 2 x 1 1 1 1 1\n").is_err());
    }

    #[test]
    fn config_keys_are_checked() {
        let (_d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        assert!(matches!(node.config_get("bogus"), Err(CtlError::UnknownKey(_))));
        assert!(matches!(node.config_get("secret"), Err(CtlError::WriteOnly(_))));
        assert_eq!(node.config_get("port").unwrap(), "7070");
        node.config_set("port", "7071").unwrap();
        assert_eq!(node.config_get("port").unwrap(), "7071");
        assert_eq!(CtlError::UnknownKey("x".into()).exit_code(), 2);
    }

    #[test]
    fn peers_table_parses_and_rejects_short_lines() {
        let text = "  id address          frames_tx  frames_rx     bytes_tx     bytes_rx  sendq  inbox qwaits    rtt_us   rtt_avg   rtt_min\n\
                    \u{20}  2 10.99.0.2             10         12         1000         1200      0      0      0       350       400       300\n";
        let rows = parse_peers(text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, 2);
        assert_eq!(rows[0].address, "10.99.0.2");
        assert_eq!(rows[0].rtt_avg_us, 400);
        assert_eq!(rows[0].rtt_min_us, 300);
        assert!(parse_peers("header\n 2 10.99.0.2 1 2 3\n").is_err());
        assert!(parse_peers("header\n 2 10.99.0.2 1 2 3 4 5 6 7 8 x 10\n").is_err());
    }

    #[test]
    fn exit_codes() {
        let p = || PathBuf::from("/x");
        let io = || io::Error::from_raw_os_error(libc::EIO);
        let refused = |errno| CtlError::Refused { what: "w".into(), message: "m".into(), errno };
        let cases: Vec<(CtlError, u8)> = vec![
            (CtlError::NotLoaded, 3),
            (CtlError::NoConfigfs(p()), 3),
            (CtlError::Permission(p()), 4),
            (refused(libc::EPERM), 4),
            (refused(libc::EACCES), 4),
            (refused(libc::EINVAL), 1),
            (refused(libc::EAGAIN), 1),
            (CtlError::Malformed(p(), "why".into()), 1),
            (CtlError::Io(p(), io()), 1),
            (CtlError::Busy("port".into()), 1),
            (CtlError::NoSecret, 1),
            (CtlError::BadImage(p(), "why".into()), 1),
            (CtlError::UnknownKey("k".into()), 2),
            (CtlError::InvalidValue("k".into(), "v".into()), 2),
            (CtlError::WriteOnly("secret".into()), 2),
            (CtlError::Invalid { what: "w".into(), why: "y".into() }, 2),
            (CtlError::NotJoined, 1),
        ];
        for (e, code) in &cases {
            assert_eq!(e.exit_code(), *code, "{e:?}");
        }
    }

    #[test]
    fn errnos_for_reports() {
        assert_eq!(CtlError::Refused { what: "w".into(), message: "m".into(), errno: libc::EBUSY }.errno(), libc::EBUSY);
        assert_eq!(CtlError::Io("/x".into(), io::Error::from_raw_os_error(libc::ENOENT)).errno(), libc::ENOENT);
        assert_eq!(CtlError::Io("/x".into(), io::Error::other("no errno")).errno(), libc::EIO);
        assert_eq!(CtlError::Permission("/x".into()).errno(), libc::EACCES);
        assert_eq!(CtlError::NotLoaded.errno(), libc::ENODEV);
        assert_eq!(CtlError::BadImage("/x".into(), "w".into()).errno(), libc::EINVAL);
        assert_eq!(CtlError::NoSecret.errno(), libc::EIO);
    }

    #[test]
    fn refusals_say_why() {
        let e =
            CtlError::Refused { what: "migration of 7".into(), message: "fd 3 is a socket".into(), errno: libc::EOPNOTSUPP };
        let text = e.to_string();
        assert!(text.starts_with("migration of 7 failed: fd 3 is a socket ("), "{text}");
        assert!(CtlError::Busy("port".into()).to_string().contains("config set enabled 0"));
    }

    #[test]
    fn migrations_file_is_read_under_the_root() {
        let (d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        let path = d.path().join("proc/ssi/migrations");
        fs::write(
            &path,
            "id dir pid peer strategy state bytes rounds frozen_us total_us\n\
                          0000000200000001 out 5 3 eager done 100 0 10 20\n\
                          deputies: 0\npid home_id node pid_there\n",
        )
        .unwrap();
        let m = node.migrations().unwrap();
        assert_eq!(m.migrations.len(), 1);
        assert_eq!(m.migrations[0].peer, 3);
        fs::write(&path, "id dir pid peer strategy state bytes rounds frozen_us total_us\nshort line\n").unwrap();
        let err = node.migrations().unwrap_err();
        assert!(matches!(err, CtlError::Malformed(..)), "{err:?}");
        assert_eq!(err.exit_code(), 1);
        fs::remove_dir_all(d.path().join("proc/ssi")).unwrap();
        assert!(matches!(node.migrations(), Err(CtlError::NotLoaded)));
    }

    #[test]
    fn ps_file_and_passwd_are_read_under_the_root() {
        let (d, node) = fake_node("release: 0.1.0\ninterface: 1\n", "2\n");
        let path = d.path().join("proc/ssi/ps");
        let header = ssi_proto::procs::PS_HEADER;
        fs::write(&path, format!("{header}\n2 9 1 0 0 S 1 0 4 0 0 0 b b\n1 7 1 0 0 S 1 0 4 0 0 0 a a\n")).unwrap();
        let rows = node.ps().unwrap();
        assert_eq!(rows.iter().map(|r| (r.node, r.pid)).collect::<Vec<_>>(), [(1, 7), (2, 9)]);
        assert!(node.users().is_empty());
        fs::create_dir_all(d.path().join("etc")).unwrap();
        fs::write(d.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert_eq!(node.users().get(&0).map(String::as_str), Some("root"));
        fs::write(&path, format!("{header}\n1 7 1 0 0 S 1 0 4 0 0 0 a\n")).unwrap();
        let err = node.ps().unwrap_err();
        assert!(matches!(&err, CtlError::Malformed(_, why) if why.starts_with("line 2:")), "{err:?}");
        assert_eq!(err.exit_code(), 1);
        fs::remove_dir_all(d.path().join("proc/ssi")).unwrap();
        assert!(matches!(node.ps(), Err(CtlError::NotLoaded)));
    }
}
