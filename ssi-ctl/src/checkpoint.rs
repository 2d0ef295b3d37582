//! `ssi-ctl checkpoint` and `ssi-ctl image`: asking ssi.ko for a
//! checkpoint through `/dev/ssi`, and reading an image back.

use crate::sysfs::{json_str, CtlError};
use ssi_proto::ctl::{CtlOp, CtlReply, CtlRequest, CTL_IOCTL, CTL_LEN, FLAG_KILL};
use ssi_proto::image::{self, Section};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Where the request device is (SSI_CTL_ROOT moves it, for tests).
fn device(root: &Path) -> PathBuf {
    root.join("dev/ssi")
}

/// Sends one request block; the reply and the ioctl's errno.
fn request(root: &Path, req: &CtlRequest) -> Result<(CtlReply, i32), CtlError> {
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

fn refused(what: String, reply: &CtlReply, errno: i32) -> CtlError {
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
    let req = CtlRequest { op: CtlOp::Checkpoint, pid, image_fd: file.as_raw_fd() as u32, flags: if kill { FLAG_KILL } else { 0 } };
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

/// `ssi-ctl image FILE [--json]`: checks an image and says what it holds.
pub fn image_info(path: &Path, json: bool) -> Result<(), CtlError> {
    let data = fs::read(path).map_err(|e| CtlError::Io(path.to_path_buf(), e))?;
    let mut comm = String::new();
    let mut exe = String::new();
    let (mut pid, mut uid) = (0u32, 0u32);
    let mut fds = Vec::new();
    let summary = image::read_image(&data, |_, s| match s {
        Section::Process(p) => {
            comm = text(&p.comm);
            exe = text(p.exe.path);
            pid = p.pid;
            uid = p.creds.uid;
        }
        Section::File(f) => fds.push(f.fd),
        _ => {}
    })
    .map_err(|e| CtlError::BadImage(path.to_path_buf(), e.to_string()))?;
    if json {
        println!(
            "{{\"pid\":{pid},\"uid\":{uid},\"comm\":{},\"exe\":{},\"sections\":{},\"threads\":{},\"vmas\":{},\"files\":{},\
             \"fds\":{:?},\"page_runs\":{},\"pages\":{},\"bytes\":{}}}",
            json_str(&comm),
            json_str(&exe),
            summary.sections,
            summary.threads,
            summary.vmas,
            summary.files,
            fds,
            summary.page_runs,
            summary.total_pages,
            data.len()
        );
    } else {
        println!("image:    {} ({} bytes), valid", path.display(), data.len());
        println!("process:  {pid} {comm} (uid {uid}), {exe}");
        println!("content:  {} sections, {} thread(s), {} mappings, {} files (fds {:?}), {} pages in {} runs",
            summary.sections, summary.threads, summary.vmas, summary.files, fds, summary.total_pages, summary.page_runs);
    }
    Ok(())
}
