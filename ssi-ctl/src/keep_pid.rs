//! One pid for life (issue 20): the restart program of an incoming
//! migration makes the copy of itself that becomes the process, with the
//! process's own pid.
//!
//! The module starts the restart program as a usermode helper, which gets
//! a fresh pid from this node's range. The process keeps its pid `P`
//! instead: the program clones itself with `clone3(set_tid = [P])` (it is
//! root with every capability, which `set_tid` needs) and `CLONE_PARENT`
//! (the copy's parent is kthreadd, as the program's is: it is reaped when
//! it ends and nobody waits for it), tells the module that the copy carries
//! the restart on (`CtlOp::PassOn`), and ends. The copy runs this program
//! again (`execv` of `/proc/self/exe`, the same arguments without
//! `--keep-pid`), so nothing of the C library's per-process state of the
//! original (its cached thread id) comes along.
//!
//! `P` is free here by construction: only its home node allocates in its
//! range, and there its deputy holds it. If the clone fails all the same (a
//! copy of the process this node still lends memory for holds `P`, or this
//! node's `pid_max` is too low), the program carries on itself: the process
//! gets a new pid, as before issue 20, and the kernel log says why.

use crate::sysfs::CtlError;
use ssi_proto::ctl::{CtlOp, CtlReply, CtlRequest};
use std::ffi::{CString, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// `struct clone_args` of clone3 (include/uapi/linux/sched.h), up to
/// `cgroup` (`CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// How the hand-over went.
pub enum Outcome {
    /// The copy with the process's pid carries the restart on: this
    /// program ends.
    Passed,
    /// This program carries on itself (the process gets its pid); why.
    Kept(String),
}

/// The arguments of this program without `--keep-pid P`, for the copy.
pub fn args_without_keep_pid(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if skip_value {
            skip_value = false;
        } else if a == "--keep-pid" {
            skip_value = true;
        } else if !a.as_bytes().starts_with(b"--keep-pid=") {
            out.push(a);
        }
    }
    out
}

/// Makes the copy of this program with pid `pid` that carries restart
/// `token` on (see the module's documentation); `ask` sends a request to
/// the module (its reply and errno).
pub fn pass_on(token: u32, pid: u32, ask: impl FnOnce(&CtlRequest) -> Result<(CtlReply, i32), CtlError>) -> Outcome {
    let args: Vec<CString> = match args_without_keep_pid(std::env::args_os())
        .into_iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
    {
        Ok(a) => a,
        Err(_) => return Outcome::Kept("an argument holds a NUL byte".into()),
    };
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut pipe = [-1; 2];
    // SAFETY: plain syscall writing two descriptors into `pipe`.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Outcome::Kept(format!("pipe: {}", io::Error::last_os_error()));
    }
    let [go_read, go_write] = pipe;
    let tid = [pid as libc::pid_t];
    let cl = CloneArgs {
        flags: libc::CLONE_PARENT as u64,
        exit_signal: 0,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 reads `cl` (its size given) and `tid`; without
    // CLONE_VM the copy has its own copy of this single-threaded program's
    // memory, like after fork(): it only reads, execs or exits, with plain
    // syscalls and memory prepared before the clone.
    let child = unsafe { libc::syscall(libc::SYS_clone3, &cl as *const CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if child == 0 {
        // SAFETY: plain syscalls; `argv` is NUL-terminated and points at
        // NUL-terminated strings.
        unsafe {
            libc::close(go_write);
            let mut go = 0u8;
            if libc::read(go_read, (&mut go as *mut u8).cast(), 1) == 1 {
                libc::execv(c"/proc/self/exe".as_ptr(), argv.as_ptr());
            }
            libc::_exit(127);
        }
    }
    let clone_error = io::Error::last_os_error();
    // SAFETY: closes this program's own descriptor.
    unsafe { libc::close(go_read) };
    let outcome = if child < 0 {
        Outcome::Kept(format!("clone3 with pid {pid}: {clone_error}"))
    } else {
        let req =
            CtlRequest { op: CtlOp::PassOn, pid: child as u32, image_fd: 0, flags: 0, token, node: 0, strategy: 0, uffd: 0 };
        match ask(&req) {
            Ok((_, 0)) => {
                // SAFETY: writes one byte from a local to our pipe.
                let sent = unsafe { libc::write(go_write, [1u8].as_ptr().cast(), 1) } == 1;
                if sent {
                    Outcome::Passed
                } else {
                    Outcome::Kept(format!("cannot start the copy: {}", io::Error::last_os_error()))
                }
            }
            Ok((_, errno)) => Outcome::Kept(format!("the module refused the copy: {}", io::Error::from_raw_os_error(errno))),
            Err(e) => Outcome::Kept(e.to_string()),
        }
    };
    if child > 0 && matches!(outcome, Outcome::Kept(_)) {
        // SAFETY: plain syscall on our own copy (it waits on the pipe).
        unsafe { libc::kill(child as libc::pid_t, libc::SIGKILL) };
    }
    // SAFETY: closes this program's own descriptor.
    unsafe { libc::close(go_write) };
    outcome
}

/// Writes a warning with the module's log prefix style to the kernel log
/// (the restart program has no terminal); best effort.
pub fn log_kernel_warning(message: &str) {
    if let Ok(mut k) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = k.write_all(format!("<4>ssi-ctl: {message}\n").as_bytes());
    }
}

/// Why this program carries on itself, as the kernel log says it.
pub fn kept_message(pid: u32, why: &str) -> String {
    let me = std::process::id();
    format!("incoming migration: cannot give the process its pid {pid} here ({why}): it runs as pid {me}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_copy_runs_without_keep_pid() {
        let args = os(&["ssi-ctl", "restart", "--token", "7", "--as-uid", "0", "--migration", "--keep-pid", "131073"]);
        assert_eq!(args_without_keep_pid(args), os(&["ssi-ctl", "restart", "--token", "7", "--as-uid", "0", "--migration"]));
        let args = os(&["ssi-ctl", "restart", "--keep-pid=5", "--migration", "--pages-later", "lazy"]);
        assert_eq!(args_without_keep_pid(args), os(&["ssi-ctl", "restart", "--migration", "--pages-later", "lazy"]));
    }

    #[test]
    fn clone_args_are_version_2() {
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }
}
