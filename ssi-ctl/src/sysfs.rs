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
}

impl CtlError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::NotLoaded | CtlError::NoConfigfs(_) => 3,
            CtlError::Permission(_) => 4,
            CtlError::Malformed(..) | CtlError::Io(..) => 1,
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
        }
    }
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
}

impl Node {
    pub fn from_env() -> Node {
        Node { root: std::env::var_os("SSI_CTL_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from) }
    }

    fn proc_dir(&self) -> PathBuf {
        self.root.join("proc/ssi")
    }

    fn config_dir(&self) -> PathBuf {
        self.root.join("sys/kernel/config/ssi")
    }

    fn read(&self, path: &Path) -> Result<String, CtlError> {
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
            t => Some(identity::parse_node_id(t.as_bytes()).map_err(|e| {
                CtlError::Malformed(self.config_dir().join("node_id"), e.describe().into())
            })?),
        };
        let address = identity::parse_ipv4(self.config("address")?.as_bytes()).ok().filter(|a| a.is_set());
        let port = identity::parse_port(self.config("port")?.as_bytes())
            .map_err(|e| CtlError::Malformed(self.config_dir().join("port"), e.describe().into()))?;
        Ok(Status { release, interface, node_id, address, port })
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_node(version: &str, node_id: &str) -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc/ssi")).unwrap();
        fs::create_dir_all(dir.path().join("sys/kernel/config/ssi")).unwrap();
        fs::write(dir.path().join("proc/ssi/version"), version).unwrap();
        let cfg = dir.path().join("sys/kernel/config/ssi");
        fs::write(cfg.join("node_id"), node_id).unwrap();
        fs::write(cfg.join("address"), "10.99.0.12\n").unwrap();
        fs::write(cfg.join("port"), "7070\n").unwrap();
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
    fn json_escapes() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
