//! `ssi-ctl checkpoint` and `ssi-ctl image`: asking ssi.ko for a
//! checkpoint through `/dev/ssi`, and reading an image back.

use crate::sysfs::CtlError;
use ssi_proto::ctl::{
    CtlOp, CtlReply, CtlRequest, CTL_IOCTL, CTL_LEN, FLAG_ALL_PAGES_HERE, FLAG_CHECK_ONLY, FLAG_KILL, FLAG_PAGES_LATER,
};
use ssi_proto::image::{self, Section};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// How `ssi-ctl migrate` moves a process (the names are those of
/// `ssi_proto::ctl::strategy_name`, and of /proc/ssi/migrations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Freeze, copy, resume there.
    Eager,
    /// Copy while it runs, then the dirty rest.
    Precopy,
    /// Resume there at once, push the memory after.
    Postcopy,
    /// Resume there at once, fetch pages when touched.
    Lazy,
}

impl Strategy {
    /// The strategy's code in a migrate request.
    pub fn code(self) -> u8 {
        use ssi_proto::ctl::{STRATEGY_EAGER, STRATEGY_LAZY, STRATEGY_POSTCOPY, STRATEGY_PRECOPY};
        match self {
            Strategy::Eager => STRATEGY_EAGER,
            Strategy::Precopy => STRATEGY_PRECOPY,
            Strategy::Postcopy => STRATEGY_POSTCOPY,
            Strategy::Lazy => STRATEGY_LAZY,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        ssi_proto::ctl::strategy_name(self.code())
    }
}

/// Where the request device is (SSI_CTL_ROOT moves it, for tests).
fn device(root: &Path) -> PathBuf {
    root.join("dev/ssi")
}

/// Sends one request block; the reply and the ioctl's errno.
pub(crate) fn request(root: &Path, req: &CtlRequest) -> Result<(CtlReply, i32), CtlError> {
    let dev_path = device(root);
    let dev = OpenOptions::new().read(true).write(true).open(&dev_path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CtlError::NotLoaded,
        _ => CtlError::Io(dev_path.clone(), e),
    })?;
    let mut block = [0u8; CTL_LEN];
    req.encode(&mut block);
    // SAFETY: the ioctl reads and writes exactly CTL_LEN bytes at `block`.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), CTL_IOCTL as _, block.as_mut_ptr()) };
    let errno = if r < 0 { io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) } else { 0 };
    Ok((CtlReply::decode(&block), errno))
}

pub(crate) fn refused(what: String, reply: &CtlReply, errno: i32) -> CtlError {
    let message = if reply.message().is_empty() {
        io::Error::from_raw_os_error(errno).to_string()
    } else {
        reply.message().to_string()
    };
    CtlError::Refused { what, message, errno }
}

/// `ssi-ctl checkpoint PID [-o FILE] [--kill]`.
pub fn checkpoint(root: &Path, pid: u32, out: Option<PathBuf>, kill: bool) -> Result<(), CtlError> {
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{pid}.ssi-img")));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| CtlError::Io(path.clone(), e))?;
    // An existing file keeps its mode on open: images are private.
    file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(|e| CtlError::Io(path.clone(), e))?;
    let req = CtlRequest {
        op: CtlOp::Checkpoint,
        pid,
        image_fd: file.as_raw_fd() as u32,
        flags: if kill { FLAG_KILL } else { 0 },
        token: 0,
        node: 0,
        strategy: 0,
        uffd: 0,
    };
    let (reply, errno) = request(root, &req)?;
    drop(file);
    if errno != 0 {
        let _ = fs::remove_file(&path);
        return Err(refused(format!("checkpoint of process {pid}"), &reply, errno));
    }
    println!(
        "checkpointed process {pid} to {}: {} bytes, {} pages, frozen {:.1} ms, total {:.1} ms{}",
        path.display(),
        reply.image_bytes,
        reply.pages,
        reply.frozen_ns as f64 / 1e6,
        reply.total_ns as f64 / 1e6,
        if kill { ", process killed" } else { "" }
    );
    Ok(())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or(b)).into_owned()
}

/// What `ssi-ctl image --json` says of an image.
#[derive(serde::Serialize)]
struct ImageJson<'a> {
    pid: u32,
    uid: u32,
    comm: &'a str,
    exe: &'a str,
    sections: u32,
    threads: u32,
    vmas: u32,
    files: u32,
    fds: &'a [u32],
    page_runs: u32,
    pages: u64,
    bytes: u64,
    image_id: String,
    /// An incremental image: based on its parent, which has the rest of
    /// its memory.
    incremental: bool,
    parent_id: Option<String>,
    parent: Option<String>,
}

/// `ssi-ctl image FILE [--json]`: checks an image and says what it holds.
pub fn image_info(path: &Path, json: bool, maps: bool) -> Result<(), CtlError> {
    let data = fs::read(path).map_err(|e| CtlError::Io(path.to_path_buf(), e))?;
    let mut comm = String::new();
    let mut exe = String::new();
    let (mut pid, mut uid) = (0u32, 0u32);
    let mut fds = Vec::new();
    let mut parent: Option<(u64, String)> = None;
    let summary = image::read_image(&data, |_, s| match s {
        Section::Parent(p) => parent = Some((p.parent_id, text(p.path))),
        Section::Process(p) => {
            comm = text(&p.comm);
            exe = text(p.exe.path);
            pid = p.pid;
            uid = p.creds.uid;
        }
        Section::File(f) => fds.push(f.fd),
        Section::Vma(v) if maps => println!(
            "map {:012x}-{:012x} prot {} {:?} pgoff {} {}",
            v.start,
            v.end,
            v.prot,
            v.kind,
            v.pgoff,
            v.file.map(|f| text(f.path)).unwrap_or_default()
        ),
        Section::Pages(p) if maps => println!("pages {:012x} +{}", p.start, p.data.len() / image::PAGE_SIZE),
        _ => {}
    })
    .map_err(|e| CtlError::BadImage(path.to_path_buf(), e.to_string()))?;
    let image_id =
        data.get(..image::IMAGE_HEADER_LEN).and_then(|h| image::ImageHeader::decode(h).ok()).map_or(0, |h| h.image_id);
    if json {
        let info = ImageJson {
            pid,
            uid,
            comm: &comm,
            exe: &exe,
            sections: summary.sections,
            threads: summary.threads,
            vmas: summary.vmas,
            files: summary.files,
            fds: &fds,
            page_runs: summary.page_runs,
            pages: summary.total_pages,
            bytes: data.len() as u64,
            image_id: format!("{image_id:016x}"),
            incremental: parent.is_some(),
            parent_id: parent.as_ref().map(|(id, _)| format!("{id:016x}")),
            parent: parent.as_ref().map(|(_, p)| p.clone()),
        };
        println!("{}", serde_json::to_string(&info).expect("plain data serializes to JSON"));
    } else {
        println!("image:    {} ({} bytes), valid", path.display(), data.len());
        println!("process:  {pid} {comm} (uid {uid}), {exe}");
        println!(
            "content:  {} sections, {} thread(s), {} mappings, {} files (fds {:?}), {} pages in {} runs",
            summary.sections, summary.threads, summary.vmas, summary.files, fds, summary.total_pages, summary.page_runs
        );
        match &parent {
            None => println!("kind:     full image (id {image_id:016x})"),
            Some((id, p)) => {
                println!("kind:     incremental image (id {image_id:016x}): only the pages written since its parent");
                println!("parent:   {p} (id {id:016x})");
                explain_chain(p, *id);
            }
        }
    }
    Ok(())
}

/// Follows the Parent sections from an incremental image's parent `path`
/// (which must have id `id`) to the full image, one line per image.
fn explain_chain(path: &str, id: u64) {
    let (mut path, mut id) = (path.to_string(), id);
    for depth in 1..=image::MAX_CHAIN {
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) => return println!("chain:    {path}: {e}: the chain is broken"),
        };
        let found = data.get(..image::IMAGE_HEADER_LEN).and_then(|h| image::ImageHeader::decode(h).ok()).map(|h| h.image_id);
        if found != Some(id) {
            return println!("chain:    {path} is not image {id:016x}: the chain is broken");
        }
        let mut next: Option<(u64, String)> = None;
        let summary = image::read_image(&data, |_, s| {
            if let Section::Parent(p) = s {
                next = Some((p.parent_id, text(p.path)));
            }
        });
        match (summary, next) {
            (Err(e), _) => return println!("chain:    {path}: {e}: the chain is broken"),
            (Ok(s), None) => {
                return println!("chain:    {path}: full image, {} pages ({depth} image(s) before this one)", s.total_pages)
            }
            (Ok(s), Some((pid, ppath))) => {
                println!("chain:    {path}: incremental, {} pages", s.total_pages);
                (path, id) = (ppath, pid);
            }
        }
    }
    println!("chain:    longer than {} images", image::MAX_CHAIN);
}

/// Opens an image for reading (images are 0600: another user gets
/// "permission denied", exit status 4).
fn open_image(path: &Path) -> Result<File, CtlError> {
    File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => CtlError::Permission(path.to_path_buf()),
        _ => CtlError::Io(path.to_path_buf(), e),
    })
}

/// What `ssi-ctl restart` sets itself before handing over to the module.
struct RestartPrologue {
    /// The saved process's pid.
    pid: u32,
    /// ITIMER_VIRTUAL and ITIMER_PROF (ITIMER_REAL is set by the module).
    cpu_timers: [image::Itimer; 2],
    /// The name of each saved thread, by index.
    thread_comms: Vec<Vec<u8>>,
    uid: [u32; 3],
    gid: [u32; 3],
    groups: Vec<u32>,
    cwd: PathBuf,
    umask: u32,
    personality: u32,
    comm: Vec<u8>,
    rlimits: Vec<(u64, u64)>,
    /// vvar and vdso ranges of the saved process.
    specials: Vec<(image::VmaKind, u64, u64)>,
}

/// Reads the image's description (every section before the memory pages,
/// checksums checked) and keeps what the prologue needs. The pages are the
/// module's: its first pass reads and checks the whole image again before
/// anything changes, so reading them here too would only cost time.
fn scan_image(path: &Path) -> Result<RestartPrologue, CtlError> {
    use std::io::Read;
    let bad = |why: String| CtlError::BadImage(path.to_path_buf(), why);
    let f = open_image(path)?;
    let mut r = io::BufReader::with_capacity(1 << 20, f);
    let mut hdr = [0u8; image::IMAGE_HEADER_LEN];
    r.read_exact(&mut hdr).map_err(|_| bad("image truncated".into()))?;
    let mut reader = image::ImageReader::new(&hdr).map_err(|e| bad(e.to_string()))?;
    let mut body = vec![0u8; image::MAX_SECTION_BODY as usize];
    let mut p = RestartPrologue {
        pid: 0,
        cpu_timers: [image::Itimer::default(); 2],
        thread_comms: Vec::new(),
        uid: [0; 3],
        gid: [0; 3],
        groups: Vec::new(),
        cwd: PathBuf::from("/"),
        umask: 0o022,
        personality: 0,
        comm: Vec::new(),
        rlimits: Vec::new(),
        specials: Vec::new(),
    };
    while !reader.is_complete() {
        let mut sh = [0u8; image::SECTION_HEADER_LEN];
        r.read_exact(&mut sh).map_err(|_| bad("image truncated".into()))?;
        let h = reader.read_section_header(&sh).map_err(|e| bad(e.to_string()))?;
        if h.kind == image::SectionKind::Pages {
            return Ok(p);
        }
        let b = &mut body[..h.body_len as usize];
        r.read_exact(b).map_err(|_| bad("image truncated".into()))?;
        match reader.read_section_body(b).map_err(|e| bad(e.to_string()))? {
            Section::Process(s) => {
                let c = &s.creds;
                p.pid = s.pid;
                p.cpu_timers = [s.itimers.virt, s.itimers.prof];
                p.uid = [c.uid, c.euid, c.suid];
                p.gid = [c.gid, c.egid, c.sgid];
                p.groups = s.groups.iter().collect();
                p.cwd = PathBuf::from(String::from_utf8_lossy(s.cwd).into_owned());
                p.umask = s.umask;
                p.personality = s.personality;
                p.comm = s.comm.split(|c| *c == 0).next().unwrap_or(&[]).to_vec();
                p.rlimits = s.rlimits.iter().map(|l| (l.cur, l.max)).collect();
            }
            Section::Vma(v) if matches!(v.kind, image::VmaKind::Vdso | image::VmaKind::Vvar) => {
                p.specials.push((v.kind, v.start, v.end));
            }
            Section::Thread(t) => p.thread_comms.push(t.comm.split(|c| *c == 0).next().unwrap_or(&[]).to_vec()),
            _ => {}
        }
    }
    reader.finish().map_err(|e| bad(e.to_string()))?;
    let mut extra = [0u8; 1];
    if r.read(&mut extra).unwrap_or(0) != 0 {
        return Err(bad("data after the end of the image".into()));
    }
    Ok(p)
}

/// This process's mappings: the [vdso] and [vvar] (name, start, end), and
/// every other one (start, end).
struct OwnMappings {
    special: Vec<(String, u64, u64)>,
    other: Vec<(u64, u64)>,
}

fn own_mappings() -> io::Result<OwnMappings> {
    let maps = fs::read_to_string("/proc/self/maps")?;
    let (mut special, mut other) = (Vec::new(), Vec::new());
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let range = f.next().unwrap_or("");
        let name = f.nth(4).unwrap_or("");
        let (a, b) = range.split_once('-').unwrap_or(("0", "0"));
        let (a, b) = (u64::from_str_radix(a, 16).unwrap_or(0), u64::from_str_radix(b, 16).unwrap_or(0));
        if name == "[vdso]" || name == "[vvar]" {
            special.push((name.to_string(), a, b));
        } else {
            other.push((a, b));
        }
    }
    Ok(OwnMappings { special, other })
}

fn os_err(what: &str) -> CtlError {
    CtlError::Io(PathBuf::from(what), io::Error::last_os_error())
}

/// `ssi-ctl restart --check FILE...`: the module reads and checks each
/// image and the files it names, as a restart on this node would; nothing
/// changes. One line per image; the first failure's error is returned.
pub fn restart_check(root: &Path, paths: &[PathBuf]) -> Result<(), CtlError> {
    let mut first_error = None;
    for path in paths {
        // An incremental image is checked as the chain it heads, merged.
        let image = match crate::chain::merged(path) {
            Ok(Some((merged, _))) => Ok(merged),
            Ok(None) => open_image(path),
            Err(e) => Err(e),
        };
        let outcome = image.and_then(|image| {
            let req = CtlRequest {
                op: CtlOp::Restore,
                pid: 0,
                image_fd: image.as_raw_fd() as u32,
                flags: FLAG_CHECK_ONLY,
                token: 0,
                node: 0,
                strategy: 0,
                uffd: 0,
            };
            let (reply, errno) = request(root, &req)?;
            if errno != 0 {
                return Err(refused(format!("check of {}", path.display()), &reply, errno));
            }
            Ok(())
        });
        match outcome {
            Ok(()) => println!("{}: this node can restart it", path.display()),
            Err(e @ CtlError::NotLoaded) => return Err(e),
            Err(e) => {
                if paths.len() > 1 {
                    println!("{}: {e}", path.display());
                }
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// `ssi-ctl restart --node N FILE`: node N restarts the image (it must be
/// on the shared file system, at the same path); returns once the process
/// runs there, or with node N's reason.
pub fn restart_remote(root: &Path, node: u16, path: &Path) -> Result<(), CtlError> {
    let p = scan_image(path)?;
    // SAFETY: plain syscalls.
    let (me, root_user) = unsafe { (libc::getuid(), libc::geteuid() == 0) };
    if !root_user && p.uid[0] != me {
        return Err(not_owner(path, p.uid[0]));
    }
    let abs = fs::canonicalize(path).map_err(|e| CtlError::Io(path.to_path_buf(), e))?;
    let image = open_image(&abs)?;
    let req = CtlRequest {
        op: CtlOp::RemoteRestart,
        pid: 0,
        image_fd: image.as_raw_fd() as u32,
        flags: 0,
        token: 0,
        node,
        strategy: 0,
        uffd: 0,
    };
    let (reply, errno) = request(root, &req)?;
    if errno != 0 {
        return Err(refused(format!("restart of {} on node {node}", path.display()), &reply, errno));
    }
    println!(
        "restarted {} (process {} {}) on node {node} as pid {}",
        path.display(),
        p.pid,
        String::from_utf8_lossy(&p.comm),
        reply.pid
    );
    Ok(())
}

/// `ssi-ctl restart --token T --as-uid U FILE`, started by the module for
/// a restart asked from another node: restarts FILE as user U may; a
/// failure is reported to the module under the token.
pub fn restart_for(root: &Path, path: &Path, (token, uid): (u32, u32)) -> Result<(), CtlError> {
    stdio_to_dev_null();
    report_failure(root, token, restart(root, path, Some((token, uid)), None))
}

/// `ssi-ctl restart --token T --as-uid U --migration`, started by the
/// module when an incoming migration begins: the image is in the module
/// (no file on the way). Post-copy, lazy: the page server is started
/// first (it waits for the ranges the restore registers). Then the module
/// is asked for the image, which blocks until all of it came; it is
/// restored as `restart_for` does. `keep_pid`: the process's cluster-wide
/// pid, which a copy of this program takes first (`keep_pid.rs`).
pub fn restart_migration(
    root: &Path,
    token: u32,
    uid: u32,
    pages_later: Option<bool>,
    keep_pid: Option<u32>,
) -> Result<(), CtlError> {
    stdio_to_dev_null();
    if let Some(pid) = keep_pid {
        match crate::keep_pid::pass_on(token, pid, |req| request(root, req)) {
            crate::keep_pid::Outcome::Passed => std::process::exit(0),
            crate::keep_pid::Outcome::Kept(why) => {
                crate::keep_pid::log_kernel_warning(&crate::keep_pid::kept_message(pid, &why))
            }
        }
    }
    let outcome = pages_later.map(|push| start_pager(root, token, push)).transpose().and_then(|uffd| {
        let req =
            CtlRequest { op: CtlOp::MigrationImage, pid: 0, image_fd: 0, flags: 0, token, node: 0, strategy: 0, uffd: 0 };
        let (reply, errno) = request(root, &req)?;
        if errno != 0 {
            return Err(refused("incoming migration".into(), &reply, errno));
        }
        // The image's descriptor, reopened by path like any image.
        let path = PathBuf::from(format!("/proc/self/fd/{}", reply.pid));
        restart(root, &path, Some((token, uid)), uffd.as_ref().map(|u| u.as_raw_fd()))
    });
    report_failure(root, token, outcome)
}

/// A usermode helper starts without descriptors 0-2; the process gets
/// /dev/null there (and messages must not fail for lack of stderr).
fn stdio_to_dev_null() {
    for fd in 0..=2 {
        // SAFETY: plain syscalls on this process's descriptor table.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) < 0 {
                let n = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if n >= 0 && n != fd {
                    libc::dup2(n, fd);
                    libc::close(n);
                }
            }
        }
    }
}

/// Tells the module why restart `token` failed, if it did; `outcome`.
fn report_failure(root: &Path, token: u32, outcome: Result<(), CtlError>) -> Result<(), CtlError> {
    if let Err(e) = &outcome {
        let mut reply = CtlReply::EMPTY;
        reply.errno = e.errno() as u32;
        reply.set_message(&e.to_string());
        let req = CtlRequest { op: CtlOp::Report, pid: 0, image_fd: 0, flags: 0, token, node: 0, strategy: 0, uffd: 0 };
        let mut block = [0u8; CTL_LEN];
        req.encode(&mut block);
        reply.encode_into(&mut block);
        if let Ok(dev) = OpenOptions::new().read(true).write(true).open(device(root)) {
            // SAFETY: the ioctl reads and writes CTL_LEN bytes at `block`.
            unsafe { libc::ioctl(dev.as_raw_fd(), CTL_IOCTL as _, block.as_mut_ptr()) };
        }
    }
    outcome
}

/// Post-copy, lazy: creates the userfaultfd, gets the migration's pages
/// file and forks the page server (a grandchild, in its own session);
/// the userfaultfd, for the restore request.
/// The page server needs no privilege once its descriptors are open: it
/// goes on as nobody (no supplementary groups), so a fault in it cannot be
/// turned into root's power.
fn drop_root() -> io::Result<()> {
    const NOBODY: libc::uid_t = 65534;
    // SAFETY: plain system calls on this process's credentials.
    let failed = unsafe {
        libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(NOBODY, NOBODY, NOBODY) != 0
            || libc::setresuid(NOBODY, NOBODY, NOBODY) != 0
    };
    if failed {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn start_pager(root: &Path, token: u32, push: bool) -> Result<OwnedFd, CtlError> {
    let uffd = crate::pager::userfaultfd().map_err(|e| CtlError::Io(PathBuf::from("userfaultfd"), e))?;
    let req = CtlRequest { op: CtlOp::MigrationPages, pid: 0, image_fd: 0, flags: 0, token, node: 0, strategy: 0, uffd: 0 };
    let (reply, errno) = request(root, &req)?;
    if errno != 0 {
        return Err(refused("pages of the incoming migration".into(), &reply, errno));
    }
    // SAFETY: the module installed this descriptor for us (close-on-exec).
    let pages = unsafe { fs::File::from_raw_fd(reply.pid as RawFd) };
    // SAFETY: plain system calls.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if pidfd < 0 {
        return Err(os_err("pidfd_open"));
    }
    // SAFETY: a new descriptor we own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) };
    // SAFETY: this process has one thread here; the child only forks
    // again or exits, the grandchild runs the server and exits.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(os_err("fork"));
    }
    if child == 0 {
        // SAFETY: plain system calls.
        unsafe {
            libc::setsid();
            match libc::fork() {
                0 => {}
                n => libc::_exit(i32::from(n < 0)),
            }
            libc::prctl(libc::PR_SET_NAME, c"ssi-pager".as_ptr());
        }
        // Only what the server needs stays open (the image, in kernel
        // memory, must not live on with it).
        keep_only_fds(&[0, 1, 2, uffd.as_raw_fd(), pages.as_raw_fd(), pidfd.as_raw_fd()]);
        let uffd_copy = uffd.try_clone();
        let code = match uffd_copy.and_then(|u| drop_root().map(|()| u)) {
            Ok(u) => {
                let mut server = crate::pager::Server::new(u, pages, pidfd, push);
                let done = |f: &fs::File| -> io::Result<()> {
                    let req = CtlRequest {
                        op: CtlOp::MigrationPages,
                        pid: 0,
                        image_fd: 0,
                        flags: FLAG_ALL_PAGES_HERE,
                        token,
                        node: 0,
                        strategy: 0,
                        uffd: f.as_raw_fd() as u32,
                    };
                    match request(root, &req) {
                        Ok((_, 0)) => Ok(()),
                        Ok((_, errno)) => Err(io::Error::from_raw_os_error(errno)),
                        Err(e) => Err(io::Error::other(e.to_string())),
                    }
                };
                i32::from(server.run(done).is_err())
            }
            Err(_) => 1,
        };
        // SAFETY: ends the server without running this process's exit
        // handlers (it is a copy of the restarting process).
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    let waited = unsafe { libc::waitpid(child, &mut status, 0) };
    if waited != child || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(CtlError::Io(PathBuf::from("page server"), io::Error::other("could not start the page server")));
    }
    Ok(uffd)
}

/// Closes every descriptor of this process but `keep`.
fn keep_only_fds(keep: &[RawFd]) {
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut from = 0u32;
    for &k in &keep {
        let k = k as u32;
        if k > from {
            // SAFETY: closes descriptors of this process only.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0) };
        }
        from = from.max(k + 1);
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

/// `ssi-ctl migrate PID NODE`: moves the process; returns once it runs on
/// NODE (it keeps its pid here, where its deputy stays).
pub fn migrate(root: &Path, pid: u32, node: u16, strategy: Strategy) -> Result<(), CtlError> {
    let req =
        CtlRequest { op: CtlOp::Migrate, pid, image_fd: 0, flags: 0, token: 0, node, strategy: strategy.code(), uffd: 0 };
    let (reply, errno) = request(root, &req)?;
    if errno != 0 {
        return Err(refused(format!("migration of {pid} to node {node}"), &reply, errno));
    }
    // The module says which strategy ran (coming home, post-copy and lazy
    // run as eager).
    let ran = if reply.message().is_empty() { strategy.name() } else { reply.message() };
    println!(
        "migrated {pid} to node {node} as pid {} ({ran}): {} bytes, frozen {} us, {} us in all",
        reply.pid,
        reply.image_bytes,
        reply.frozen_ns / 1000,
        reply.total_ns / 1000
    );
    Ok(())
}

/// `ssi-ctl migrate PID NODE` of a process that node `there` runs as pid
/// `there_pid` (by the cluster listing): the module asks node `there`,
/// which checks the permission and migrates it, and waits for the outcome.
pub fn migrate_elsewhere(
    root: &Path,
    pid: u32,
    there: u16,
    there_pid: u32,
    node: u16,
    strategy: Strategy,
) -> Result<(), CtlError> {
    let req = CtlRequest {
        op: CtlOp::MigrateElsewhere,
        pid: there_pid,
        image_fd: 0,
        flags: 0,
        token: u32::from(there),
        node,
        strategy: strategy.code(),
        uffd: 0,
    };
    let (reply, errno) = request(root, &req)?;
    if errno != 0 {
        return Err(refused(format!("migration of {pid} (on node {there}) to node {node}"), &reply, errno));
    }
    let ran = if reply.message().is_empty() { strategy.name() } else { reply.message() };
    println!(
        "migrated {pid} to node {node} as pid {} ({ran}, from node {there}): {} bytes, frozen {} us, {} us in all",
        reply.pid,
        reply.image_bytes,
        reply.frozen_ns / 1000,
        reply.total_ns / 1000
    );
    Ok(())
}

/// The names of the resource limits, by number (`RLIMIT_*` of Linux).
const RLIMIT_NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

/// What a `setrlimit` of resource `i` to (`cur`, `max`) that failed with
/// `e` tried.
fn rlimit_step(i: usize, cur: u64, max: u64, e: &io::Error) -> String {
    let value = |v: u64| if v == libc::RLIM_INFINITY { "unlimited".to_string() } else { v.to_string() };
    let name = RLIMIT_NAMES.get(i).map_or_else(|| format!("resource limit {i}"), |n| n.to_string());
    let hint = if e.raw_os_error() == Some(libc::EPERM) { " (only root may raise a hard limit)" } else { "" };
    format!("cannot set {name} to the saved soft {}, hard {}{hint}", value(cur), value(max))
}

/// A step of the restart's prologue failed with `e`: the restart fails,
/// saying what was tried and the system's reason.
fn restart_step_failed(path: &Path, step: String, e: &io::Error) -> CtlError {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    CtlError::Refused { what: format!("restart of {}", path.display()), message: step, errno }
}

fn not_owner(path: &Path, owner: u32) -> CtlError {
    CtlError::Refused {
        what: format!("restart of {}", path.display()),
        message: format!("only root or the image's owner (uid {owner}) may restart it"),
        errno: libc::EPERM,
    }
}

/// `ssi-ctl restart FILE`: this process becomes the saved one. `remote`:
/// the token of the remote restart it carries out and the user who asked.
///
/// `uffd` (post-copy, lazy): the userfaultfd the module registers the
/// process's anonymous memory with; the image has none.
pub fn restart(root: &Path, path: &Path, remote: Option<(u32, u32)>, uffd: Option<RawFd>) -> Result<(), CtlError> {
    let p = scan_image(path)?;
    // SAFETY: plain syscalls.
    let (me, root_user) = unsafe { (libc::getuid(), libc::geteuid() == 0) };
    if let Some((_, asked)) = remote {
        if asked != 0 && asked != p.uid[0] {
            return Err(not_owner(path, p.uid[0]));
        }
    }
    if !root_user && p.uid[0] != me {
        return Err(not_owner(path, p.uid[0]));
    }
    // An incremental image: the chain it heads, merged into one.
    let image = match crate::chain::merged(path)? {
        Some((merged, n)) => {
            eprintln!("ssi-ctl: {} heads a chain of {n} images: restarting from them merged", path.display());
            merged
        }
        None => open_image(path)?,
    };
    let dev_path = device(root);
    let dev = OpenOptions::new().read(true).write(true).open(&dev_path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => CtlError::NotLoaded,
        _ => CtlError::Io(dev_path.clone(), e),
    })?;
    let OwnMappings { special: specials, other: others } =
        own_mappings().map_err(|e| CtlError::Io(PathBuf::from("/proc/self/maps"), e))?;
    for (kind, start, end) in &p.specials {
        let name = if *kind == image::VmaKind::Vdso { "[vdso]" } else { "[vvar]" };
        let Some((_, a, b)) = specials.iter().find(|(n, ..)| n == name) else {
            return Err(CtlError::BadImage(path.to_path_buf(), format!("this kernel has no {name}")));
        };
        if b - a != end - start {
            return Err(CtlError::BadImage(path.to_path_buf(), format!("{name} of another size: another kernel")));
        }
        if others.iter().any(|(x, y)| x < end && start < y) {
            return Err(CtlError::Refused {
                what: format!("restart of {}", path.display()),
                message: format!("{name} address {start:#x} is taken in this process; try again"),
                errno: libc::EAGAIN,
            });
        }
    }
    // From here on, this process prepares to be the saved one: set what
    // userspace can set, in an order that keeps the rights it needs.
    // SAFETY: plain syscalls on this process; `set` is a valid sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::umask(p.umask as libc::mode_t);
    }
    std::env::set_current_dir(&p.cwd).map_err(|e| CtlError::Io(p.cwd.clone(), e))?;
    for (i, (cur, max)) in p.rlimits.iter().enumerate() {
        let l = libc::rlimit { rlim_cur: *cur, rlim_max: *max };
        // SAFETY: plain syscall with a valid rlimit.
        if unsafe { libc::setrlimit(i as _, &l) } != 0 {
            let e = io::Error::last_os_error();
            return Err(restart_step_failed(path, rlimit_step(i, *cur, *max, &e), &e));
        }
    }
    // SAFETY: plain syscall. It returns the previous persona, or -1.
    if unsafe { libc::personality(p.personality as libc::c_ulong) } == -1 {
        let e = io::Error::last_os_error();
        return Err(restart_step_failed(path, format!("cannot set the saved personality {:#x}", p.personality), &e));
    }
    let mut comm = p.comm.clone();
    comm.push(0);
    // SAFETY: plain syscall; `comm` is NUL-terminated.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
    if root_user && (p.uid != [0, 0, 0] || p.gid != [0, 0, 0]) {
        // SAFETY: plain syscalls with valid arguments.
        unsafe {
            if libc::setgroups(p.groups.len(), p.groups.as_ptr()) != 0 {
                return Err(os_err("setgroups"));
            }
            if libc::setresgid(p.gid[0], p.gid[1], p.gid[2]) != 0 {
                return Err(os_err("setresgid"));
            }
            if libc::setresuid(p.uid[0], p.uid[1], p.uid[2]) != 0 {
                return Err(os_err("setresuid"));
            }
        }
    }
    // One thread per extra thread of the image: each waits in the module
    // until the main thread rebuilt the process, then becomes its saved
    // thread (see checkpoint/threads.rs). They inherit the blocked mask
    // and the credentials set above.
    for (index, comm) in p.thread_comms.iter().enumerate().skip(1) {
        let mut name = comm.clone();
        name.push(0);
        let fd = dev.as_raw_fd();
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let mut block = [0u8; CTL_LEN];
                let req = CtlRequest {
                    op: CtlOp::RestoreThread,
                    pid: index as u32,
                    image_fd: 0,
                    flags: 0,
                    token: 0,
                    node: 0,
                    strategy: 0,
                    uffd: 0,
                };
                req.encode(&mut block);
                // SAFETY: plain syscalls; `name` is NUL-terminated and the
                // ioctl reads and writes CTL_LEN bytes at `block`. On
                // success the ioctl does not return here.
                unsafe {
                    libc::prctl(libc::PR_SET_NAME, name.as_ptr());
                    libc::ioctl(fd, CTL_IOCTL as _, block.as_mut_ptr());
                }
                // The restart failed before the point of no return: the
                // main thread reports it and exits.
            })
            .map_err(|e| CtlError::Io(PathBuf::from("thread"), e))?;
    }
    // Move the vdso and vvar where the process had them (the C library it
    // runs holds pointers into them). No vdso call may follow.
    for (kind, start, end) in &p.specials {
        let name = if *kind == image::VmaKind::Vdso { "[vdso]" } else { "[vvar]" };
        let Some((_, a, b)) = specials.iter().find(|(n, ..)| n == name) else { continue };
        if a == start {
            continue;
        }
        // SAFETY: moves a mapping of this process onto a range checked free.
        let r = unsafe {
            libc::mremap(
                *a as *mut libc::c_void,
                (b - a) as usize,
                (end - start) as usize,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                *start as *mut libc::c_void,
            )
        };
        if r == libc::MAP_FAILED {
            return Err(os_err("mremap of the vdso"));
        }
    }
    // The CPU-time interval timers count this process's time from here on.
    for (which, t) in [libc::ITIMER_VIRTUAL, libc::ITIMER_PROF].into_iter().zip(p.cpu_timers) {
        if t.value_ns == 0 {
            continue;
        }
        let tv = |ns: u64| libc::timeval { tv_sec: (ns / 1_000_000_000) as _, tv_usec: ((ns % 1_000_000_000) / 1000) as _ };
        let itv = libc::itimerval { it_interval: tv(t.interval_ns), it_value: tv(t.value_ns.max(1000)) };
        // SAFETY: plain syscall with a valid itimerval.
        if unsafe { libc::setitimer(which, &itv, std::ptr::null_mut()) } != 0 {
            return Err(os_err("setitimer"));
        }
    }
    let mut block = [0u8; CTL_LEN];
    let token = remote.map_or(0, |(t, _)| t);
    let flags = if uffd.is_some() { FLAG_PAGES_LATER } else { 0 };
    let uffd = uffd.map_or(0, |fd| fd as u32);
    CtlRequest { op: CtlOp::Restore, pid: 0, image_fd: image.as_raw_fd() as u32, flags, token, node: 0, strategy: 0, uffd }
        .encode(&mut block);
    // SAFETY: the ioctl reads and writes CTL_LEN bytes at `block`; on
    // success it does not return here (this process is the restored one).
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), CTL_IOCTL as _, block.as_mut_ptr()) };
    let errno = if r < 0 { io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) } else { 0 };
    Err(refused(format!("restart of {}", path.display()), &CtlReply::decode(&block), errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_json_keeps_its_fields() {
        let fds = [0, 1, 2, 3];
        let info = ImageJson {
            pid: 412,
            uid: 0,
            comm: "ssi-wl-counter",
            exe: "/opt/ssi/bin/ssi-wl-counter",
            sections: 20,
            threads: 1,
            vmas: 12,
            files: 4,
            fds: &fds,
            page_runs: 7,
            pages: 40,
            bytes: 170000,
            image_id: "00000000000000ab".into(),
            incremental: true,
            parent_id: Some("00000000000000aa".into()),
            parent: Some("/cluster/ssi-ha/412/1.img".into()),
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            "{\"pid\":412,\"uid\":0,\"comm\":\"ssi-wl-counter\",\"exe\":\"/opt/ssi/bin/ssi-wl-counter\",\"sections\":20,\
             \"threads\":1,\"vmas\":12,\"files\":4,\"fds\":[0,1,2,3],\"page_runs\":7,\"pages\":40,\"bytes\":170000,\
             \"image_id\":\"00000000000000ab\",\"incremental\":true,\"parent_id\":\"00000000000000aa\",\
             \"parent\":\"/cluster/ssi-ha/412/1.img\"}"
        );
    }

    #[test]
    fn strategies_match_the_module() {
        use clap::ValueEnum;
        for s in Strategy::value_variants() {
            assert_eq!(ssi_proto::ctl::strategy_of(s.name()), Some(s.code()));
            assert_eq!(s.to_possible_value().unwrap().get_name(), s.name());
        }
        assert_eq!(Strategy::Eager.code(), 0);
        assert_eq!(Strategy::Lazy.code(), 3);
    }

    #[test]
    fn failed_restart_steps_say_which_and_why() {
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(
            rlimit_step(libc::RLIMIT_NOFILE as usize, 1024, 4096, &eperm),
            "cannot set RLIMIT_NOFILE to the saved soft 1024, hard 4096 (only root may raise a hard limit)"
        );
        let einval = io::Error::from_raw_os_error(libc::EINVAL);
        assert_eq!(
            rlimit_step(libc::RLIMIT_STACK as usize, 8 << 20, libc::RLIM_INFINITY, &einval),
            "cannot set RLIMIT_STACK to the saved soft 8388608, hard unlimited"
        );
        assert!(rlimit_step(40, 1, 1, &einval).starts_with("cannot set resource limit 40 "));
        let e = restart_step_failed(Path::new("/cluster/x.img"), "cannot set the saved personality 0x8".into(), &einval);
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            e.to_string(),
            format!("restart of /cluster/x.img failed: cannot set the saved personality 0x8 ({einval})")
        );
        assert_eq!(restart_step_failed(Path::new("x"), String::new(), &eperm).exit_code(), 4);
        // The names follow Linux's numbers.
        assert_eq!(RLIMIT_NAMES[libc::RLIMIT_AS as usize], "RLIMIT_AS");
        assert_eq!(RLIMIT_NAMES[libc::RLIMIT_RTTIME as usize], "RLIMIT_RTTIME");
        assert_eq!(RLIMIT_NAMES.len(), libc::RLIMIT_RTTIME as usize + 1);
    }
}
