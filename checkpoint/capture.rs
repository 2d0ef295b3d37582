// SPDX-License-Identifier: GPL-2.0
//! Capture: writes the image of the current process. It runs in the
//! target's own context (a task work on its way back to user mode, see
//! `checkpoint/mod.rs`), so the process is stopped at a safe point and
//! nothing of it changes while it is read.
//!
//! Two passes: the first looks at every mapping and open file and refuses,
//! naming the resource, what the image cannot represent, before anything is
//! written; the second writes the sections in the order the image format
//! fixes (`proto/src/image/`, `docs/image-format.md`).

use super::task::{self, File, FileClass, Vma};
use crate::ctl_reply::fail;
use crate::kernel_ext::eopnotsupp;
use crate::proto::{
    classify::path_is_deleted,
    ctl::CtlReply,
    image::{
        self, AltStack, Caps, Creds, FileBody, FileRef, FileTarget, ImageHeader, ImageWriter, Itimer, Itimers, MmBody,
        ParentBody, ProcessBody, RecordList, Rlimit, Rseq, Section, SigAction, SignalsBody, ThreadBody, VmaBody, VmaKind,
        PAGE_SIZE,
    },
};
use kernel::prelude::*;

/// Pages read from memory at once (one Pages section at most).
const CHUNK_PAGES: usize = image::MAX_PAGES_PER_SECTION as usize;
/// Encoded sections are gathered up to this size before a file write.
const OUT_FLUSH: usize = 64 << 10;
/// Pages read at a time when only file mappings' pages go in the image.
const FILES_ONLY_CHUNK_PAGES: usize = 16;
const PATH_BUF: usize = image::MAX_PATH + 1;

use task::{VM_EXEC, VM_GROWSDOWN, VM_LOCKED, VM_NORESERVE, VM_READ, VM_WRITE};

/// One thread's own state, read in its own context (every thread of the
/// process records itself while the others are parked, see
/// `checkpoint/mod.rs`).
pub(crate) struct ThreadRecord {
    tid: u32,
    comm: [u8; 16],
    /// Meaningful for the leader only (other threads have none).
    exit_signal: u32,
    pdeath_signal: u32,
    regs: [u64; image::NR_REGS],
    sigmask: u64,
    clear_child_tid: u64,
    robust: (u64, u64),
    rseq: Rseq,
    altstack: AltStack,
    /// Private pending signals, encoded, in the first `pending_len` bytes.
    pending: KVec<u8>,
    pending_len: usize,
    /// NT_X86_XSTATE, in the first `xstate_len` bytes.
    xstate: KVec<u8>,
    xstate_len: usize,
}

/// Records the calling thread's own state.
pub(crate) fn thread_record() -> Result<ThreadRecord> {
    let st = task::task_state()?;
    let mut xstate = KVec::from_elem(0u8, image::MAX_XSTATE, GFP_KERNEL)?;
    let xstate_len = task::xstate(&mut xstate)?;
    let mut pending = KVec::from_elem(0u8, image::MAX_PENDING_SIGNALS * image::SIGINFO_LEN, GFP_KERNEL)?;
    let pending_len = task::pending_signals(false, &mut pending)? * image::SIGINFO_LEN;
    Ok(ThreadRecord {
        tid: st.pid,
        comm: st.comm,
        exit_signal: st.exit_signal,
        pdeath_signal: st.pdeath_signal,
        regs: task::user_regs(),
        sigmask: st.blocked,
        clear_child_tid: st.clear_child_tid,
        robust: (st.robust_list, st.robust_list_len),
        rseq: Rseq { addr: st.rseq, len: st.rseq_len as u32, sig: st.rseq_sig as u32 },
        altstack: AltStack { sp: st.sas_ss_sp, size: st.sas_ss_size, flags: st.sas_ss_flags },
        pending,
        pending_len,
        xstate,
        xstate_len,
    })
}

/// What a checkpoint wrote.
pub(crate) struct Written {
    pub(crate) image_bytes: u64,
    pub(crate) pages: u64,
}

/// Where the bytes of an image go, in order: a file (a checkpoint), or a
/// destination node as they come (a migration, `migration::stream`).
pub(crate) trait ImageSink {
    /// Appends `data` to the image.
    fn put(&mut self, data: &[u8]) -> Result;

    /// Whether the bytes reach their reader in authenticated frames and
    /// are never stored (a migration): the Pages sections then carry no
    /// CRC (`FLAG_PAGES_UNCHECKED`; computing it was a pass over all of
    /// the memory in the freeze).
    fn authenticated(&self) -> bool {
        false
    }

    /// Appends each of `parts`, in order.
    fn put_parts(&mut self, parts: &[&[u8]]) -> Result {
        for p in parts {
            self.put(p)?;
        }
        Ok(())
    }

    /// Whether memory is better put from where it is, page by page
    /// ([`ImageSink::put_parts`] of the held pages, see
    /// `task::HeldPages`), than copied into a buffer first: a migration's
    /// stream, which hands the pages to the socket as they are.
    fn takes_pages_in_place(&self) -> bool {
        false
    }
}

/// An image written into a file from its start.
pub(crate) struct FileSink<'a> {
    file: &'a File,
    pos: i64,
}

impl<'a> FileSink<'a> {
    pub(crate) fn new(file: &'a File) -> Self {
        FileSink { file, pos: 0 }
    }
}

impl ImageSink for FileSink<'_> {
    fn put(&mut self, data: &[u8]) -> Result {
        self.file.write_all(data, &mut self.pos)
    }
}

/// Where the image goes: an encoded-section buffer in front of the sink.
struct ImageOut<'a> {
    sink: &'a mut dyn ImageSink,
    bytes: u64,
    buf: KVec<u8>,
    used: usize,
    writer: ImageWriter,
    pages: u64,
    /// Pages sections without CRCs (`FLAG_PAGES_UNCHECKED`).
    pages_unchecked: bool,
}

impl<'a> ImageOut<'a> {
    fn new(sink: &'a mut dyn ImageSink, header: &ImageHeader) -> Result<Self> {
        let writer = ImageWriter::new(header).map_err(|_| EINVAL)?;
        // Page data never goes through it (`pages` puts it to the sink).
        let buf = KVec::from_elem(0u8, OUT_FLUSH + image::MAX_DESCRIPTION_BODY as usize + 64, GFP_KERNEL)?;
        let pages_unchecked = header.pages_unchecked();
        let mut out = ImageOut { sink, bytes: 0, buf, used: 0, writer, pages: 0, pages_unchecked };
        let h = header.encode().map_err(|_| EINVAL)?;
        out.buf[..h.len()].copy_from_slice(&h);
        out.used = h.len();
        Ok(out)
    }

    fn flush(&mut self) -> Result {
        self.sink.put(&self.buf[..self.used])?;
        self.bytes += self.used as u64;
        self.used = 0;
        Ok(())
    }

    fn section(&mut self, s: &Section<'_>) -> Result {
        if self.used >= OUT_FLUSH {
            self.flush()?;
        }
        let n = self.writer.write_section(s, &mut self.buf[self.used..]).map_err(|e| {
            pr_err!("checkpoint: cannot encode a {:?} section: {}\n", s.kind(), e.describe());
            EINVAL
        })?;
        self.used += n;
        Ok(())
    }

    /// A run of whole pages at `start`, written straight from `data`.
    fn pages(&mut self, start: u64, data: &[u8]) -> Result {
        self.pages_in_parts(start, &[data])
    }

    /// A run of whole pages at `start` whose data is `parts`, one after
    /// the other, written straight from them.
    fn pages_in_parts(&mut self, start: u64, parts: &[&[u8]]) -> Result {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let npages = (len / PAGE_SIZE) as u32;
        let crc = if self.pages_unchecked {
            0
        } else {
            let mut crc = self.writer.pages_crc_start(start, npages).map_err(|_| EINVAL)?;
            for p in parts {
                super::crc::update(&mut crc, p);
            }
            crc.finish()
        };
        if self.used >= OUT_FLUSH {
            self.flush()?;
        }
        let n = self.writer.write_pages_start(start, npages, crc, &mut self.buf[self.used..]).map_err(|_| EINVAL)?;
        self.used += n;
        self.flush()?;
        self.sink.put_parts(parts)?;
        self.bytes += len as u64;
        self.pages += u64::from(npages);
        Ok(())
    }

    fn finish(mut self) -> Result<Written> {
        let n = self.writer.write_end(&mut self.buf[self.used..]).map_err(|_| EINVAL)?;
        self.used += n;
        self.flush()?;
        Ok(Written { image_bytes: self.bytes, pages: self.pages })
    }
}

/// How one mapping goes into the image.
struct Plan {
    vma: Vma,
    kind: VmaKind,
}

/// Looks at every mapping; refuses the ones an image cannot hold.
fn plan_mappings(reply: &mut CtlReply, path_buf: &mut [u8]) -> Result<KVec<Plan>> {
    let mut plans = KVec::new();
    let mut addr = 0u64;
    while let Some(vma) = task::vma_find(addr) {
        addr = vma.end;
        let kind = vma
            .class
            .kind()
            .map_err(|u| fail(reply, eopnotsupp(), format_args!("{} at {:#x} is not supported", u.what(), vma.start)))?;
        if let Some(f) = vma.file.as_ref().filter(|_| kind.has_file()) {
            if path_is_deleted(f.path(path_buf)?) {
                return Err(fail(
                    reply,
                    eopnotsupp(),
                    format_args!("mapping at {:#x} of a deleted file is not supported", vma.start),
                ));
            }
        }
        plans.push(Plan { vma, kind }, GFP_KERNEL)?;
    }
    if plans.len() > image::MAX_VMAS as usize {
        return Err(fail(reply, E2BIG, format_args!("{} mappings: more than an image holds", plans.len())));
    }
    Ok(plans)
}

/// An open file as the image holds it (paths are written in pass two).
struct OpenFile {
    fd: u32,
    cloexec: bool,
    file: File,
    info: task::FileInfo,
}

fn plan_files(reply: &mut CtlReply, path_buf: &mut [u8]) -> Result<KVec<OpenFile>> {
    let mut files = KVec::new();
    let mut next = 0u32;
    while let Some((fd, cloexec, file)) = task::next_file(next) {
        next = fd + 1;
        if fd >= image::MAX_FDS {
            return Err(fail(
                reply,
                E2BIG,
                format_args!("fd {} is above the {} descriptors an image holds", fd, image::MAX_FDS),
            ));
        }
        let info = file.info();
        let path = file.path(path_buf).unwrap_or(b"?");
        let name = core::str::from_utf8(path).unwrap_or("?");
        let stdio = fd <= 2;
        match info.kind {
            FileClass::Regular | FileClass::Directory if path_is_deleted(path) => {
                return Err(fail(reply, eopnotsupp(), format_args!("fd {} is a deleted or unnamed file ({})", fd, name)));
            }
            FileClass::Regular | FileClass::Directory => {}
            FileClass::CharDev if image::ALLOWED_CHAR_DEVICES.contains(&(info.major, info.minor)) => {}
            FileClass::Tty | FileClass::Pipe if stdio => {}
            FileClass::Socket => {
                return Err(fail(
                    reply,
                    eopnotsupp(),
                    format_args!("fd {} is a socket ({}): sockets are not supported", fd, name),
                ));
            }
            FileClass::Pipe => {
                return Err(fail(
                    reply,
                    eopnotsupp(),
                    format_args!("fd {} is a pipe ({}): only fds 0-2 may be pipes", fd, name),
                ));
            }
            FileClass::Tty => {
                return Err(fail(
                    reply,
                    eopnotsupp(),
                    format_args!("fd {} is a terminal ({}): only fds 0-2 may be", fd, name),
                ));
            }
            _ => {
                return Err(fail(reply, eopnotsupp(), format_args!("fd {} is not supported ({})", fd, name)));
            }
        }
        files.push(OpenFile { fd, cloexec, file, info }, GFP_KERNEL)?;
    }
    Ok(files)
}

fn prot_of(vm_flags: u64) -> u32 {
    let mut p = 0;
    if vm_flags & VM_READ != 0 {
        p |= image::PROT_READ;
    }
    if vm_flags & VM_WRITE != 0 {
        p |= image::PROT_WRITE;
    }
    if vm_flags & VM_EXEC != 0 {
        p |= image::PROT_EXEC;
    }
    p
}

fn map_flags_of(kind: VmaKind, vm_flags: u64) -> u32 {
    let mut f = if kind.is_shared() { image::MAP_SHARED } else { image::MAP_PRIVATE };
    if vm_flags & VM_GROWSDOWN != 0 {
        f |= image::MAP_GROWSDOWN;
    }
    if vm_flags & VM_LOCKED != 0 {
        f |= image::MAP_LOCKED;
    }
    if vm_flags & VM_NORESERVE != 0 {
        f |= image::MAP_NORESERVE;
    }
    f
}

fn file_ref<'p>(path: &'p [u8], info: &task::FileInfo) -> FileRef<'p> {
    FileRef { path, size: info.size, mtime_sec: info.mtime_sec, mtime_nsec: info.mtime_nsec, ino: info.ino }
}

/// The pages written since some earlier moment, which alone go in an
/// image ([`Memory::Dirty`]): at a pre-copy's freeze, those written since
/// its last round.
///
/// Filled by a migration's hand-over hook (pre-copy's scan of the
/// process's page states, `migration/precopy.rs`) in the frozen
/// process's context, right before the capture; asked by the capture, on
/// the same thread, for every page of the private mappings it writes.
pub(crate) trait DirtyPages {
    /// Whether the page at `addr` (page-aligned) was written since.
    fn is_dirty(&self, addr: u64) -> bool;
}

/// Which memory pages go in an image.
#[derive(Clone, Copy)]
pub(crate) enum Memory<'a> {
    /// Every page not in a file (a checkpoint, an eager migration).
    All,
    /// Pre-copy's freeze: the dirty pages, whatever they hold.
    Dirty(&'a dyn DirtyPages),
    /// Post-copy and lazy: only the written pages of private file
    /// mappings and locked memory; the rest comes later.
    FilesOnly,
    /// Pre-copy's image sent ahead: no memory (the rounds bring it).
    Nothing,
}

/// Writes the memory of `p` that is not in a file: every non-zero page of
/// private anonymous memory, and the written (copied) pages of private
/// file mappings (`memory` narrows it). Unreadable (PROT_NONE) memory is
/// not stored.
/// `held`: private anonymous memory is sent from where it is (the sink
/// takes pages in place), `chunk` is for the rest.
fn write_memory(
    out: &mut ImageOut<'_>,
    p: &Plan,
    chunk: &mut [u8],
    memory: Memory<'_>,
    mut held: Option<&mut task::HeldPages>,
) -> Result {
    let v = &p.vma;
    if v.vm_flags & VM_READ == 0 || matches!(memory, Memory::Nothing) {
        return Ok(());
    }
    let file_backed = match p.kind {
        VmaKind::Anon | VmaKind::Heap | VmaKind::Stack => false,
        VmaKind::FilePrivate => true,
        _ => return Ok(()),
    };
    // Locked memory is filled when it is mapped at the restore, before it
    // could be registered for pages that come later: it goes in the image.
    if !file_backed && matches!(memory, Memory::FilesOnly) && v.vm_flags & VM_LOCKED == 0 {
        return Ok(());
    }
    let dirty = match memory {
        Memory::Dirty(pages) => Some(pages),
        Memory::All | Memory::FilesOnly | Memory::Nothing => None,
    };
    let mut addr = v.start;
    while addr < v.end {
        let n = (((v.end - addr) as usize) / PAGE_SIZE).min(chunk.len() / PAGE_SIZE).min(CHUNK_PAGES);
        let data = &mut chunk[..n * PAGE_SIZE];
        let mut keep = [false; CHUNK_PAGES];
        if let Some(d) = dirty {
            // Pre-copy: the dirty pages, whatever they hold (a page that
            // became zero must replace what the destination has).
            for (i, k) in keep.iter_mut().enumerate().take(n) {
                let at = addr + (i * PAGE_SIZE) as u64;
                *k = d.is_dirty(at) && (!file_backed || task::page_is_anon(at));
            }
            if !file_backed && keep[..n].iter().any(|&k| k) {
                task::read_user(addr, data)?;
            }
        } else if file_backed {
            // Only pages the process wrote differ from the file (and only
            // those are read: pages past the file's end cannot be).
            for (i, k) in keep.iter_mut().enumerate().take(n) {
                *k = task::page_is_anon(addr + (i * PAGE_SIZE) as u64);
            }
        } else {
            if let Some(h) = held.as_deref_mut() {
                if write_held(out, h, addr, n)? {
                    addr += (n * PAGE_SIZE) as u64;
                    continue;
                }
            }
            task::read_user(addr, data)?;
            for (i, k) in keep.iter_mut().enumerate().take(n) {
                *k = !image::is_zero_page(&data[i * PAGE_SIZE..(i + 1) * PAGE_SIZE]);
            }
        }
        // Runs of kept pages, each one Pages section.
        let mut i = 0;
        while i < n {
            if !keep[i] {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < n && keep[j] {
                j += 1;
            }
            let run = &mut data[i * PAGE_SIZE..j * PAGE_SIZE];
            let run_addr = addr + (i * PAGE_SIZE) as u64;
            if file_backed {
                task::read_user(run_addr, run)?;
            }
            out.pages(run_addr, run)?;
            i = j;
        }
        addr += (n * PAGE_SIZE) as u64;
    }
    Ok(())
}

/// The `n` pages of private anonymous memory at `addr`, sent from where
/// they are (held in `held` meanwhile, not copied into a buffer): the
/// non-zero ones, each run of them one Pages section. `Ok(false)` if they
/// could not all be held (nothing was written).
fn write_held(out: &mut ImageOut<'_>, held: &mut task::HeldPages, addr: u64, n: usize) -> Result<bool> {
    if !held.hold(addr, n)? {
        return Ok(false);
    }
    let views = held.views();
    let mut i = 0;
    while i < n {
        if image::is_zero_page(views[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < n && !image::is_zero_page(views[j]) {
            j += 1;
        }
        out.pages_in_parts(addr + (i * PAGE_SIZE) as u64, &views[i..j])?;
        i = j;
    }
    held.release();
    Ok(true)
}

/// Identity of the image being written.
pub(crate) struct Origin {
    pub(crate) node: u32,
    pub(crate) image_id: u64,
    pub(crate) created_ns: u64,
}

/// Captures the current process into `sink`. Refusals and failures leave
/// the process as it was and say why in `reply`.
///
/// `threads` are the records of every thread of the process, the leader's
/// first; the others are parked while this runs.
///
/// `memory`: which pages go in the image (pre-copy: only the pages the
/// scan holds as dirty, zero ones too; the destination has the others).
pub(crate) fn capture_current(
    sink: &mut dyn ImageSink,
    origin: &Origin,
    threads: &[KBox<ThreadRecord>],
    reply: &mut CtlReply,
    memory: Memory<'_>,
    parent: Option<&super::increment::ParentRef<'_>>,
) -> Result<Written> {
    let st = task::task_state()?;
    // This thread may be any of them: the process's own values are the
    // leader's (the first record) and its pid is the thread group id.
    let leader = threads.first().ok_or(EINVAL)?;
    if st.nr_threads as usize != threads.len() {
        return Err(fail(
            reply,
            EAGAIN,
            format_args!("the process started or ended a thread during the checkpoint: try again"),
        ));
    }
    if st.ptraced != 0 {
        return Err(fail(reply, EBUSY, format_args!("the process is being traced")));
    }
    if st.posix_timers != 0 {
        return Err(fail(reply, eopnotsupp(), format_args!("POSIX timers (timer_create) are not supported")));
    }
    if st.groups_truncated != 0 {
        return Err(fail(reply, E2BIG, format_args!("more than {} supplementary groups", image::MAX_GROUPS)));
    }
    let mut path_buf = KVec::from_elem(0u8, PATH_BUF, GFP_KERNEL)?;
    let mut path_buf2 = KVec::from_elem(0u8, PATH_BUF, GFP_KERNEL)?;
    let mut path_buf3 = KVec::from_elem(0u8, PATH_BUF, GFP_KERNEL)?;
    if task::root_path(&mut path_buf)? != b"/" {
        return Err(fail(reply, eopnotsupp(), format_args!("chrooted processes are not supported")));
    }
    let plans = plan_mappings(reply, &mut path_buf)?;
    let files = plan_files(reply, &mut path_buf)?;
    let mm = task::mm_layout()?;

    // Everything below only reads: the image can hold this process.
    let mut shared_pending = KVec::from_elem(0u8, image::MAX_PENDING_SIGNALS * image::SIGINFO_LEN, GFP_KERNEL)?;
    let ns = task::pending_signals(true, &mut shared_pending)
        .map_err(|e| fail(reply, e, format_args!("too many pending signals")))?;
    let mut handlers = [SigAction::default(); image::NSIG];
    for (i, h) in handlers.iter_mut().enumerate() {
        let (handler, flags, restorer, mask) = task::sigaction(i as i32 + 1);
        *h = SigAction { handler, flags, restorer, mask };
    }

    let unchecked = if sink.authenticated() { image::FLAG_PAGES_UNCHECKED } else { 0 };
    let header = ImageHeader {
        flags: unchecked | if parent.is_some() { image::FLAG_INCREMENTAL } else { 0 },
        image_id: origin.image_id,
        parent_id: parent.map_or(0, |p| p.image_id),
        created_ns: origin.created_ns,
        source_node: origin.node,
        pid: st.tgid,
        uid: st.uid,
        arch: image::ARCH_X86_64,
    };
    let mut out = ImageOut::new(sink, &header)?;

    // The executable: the file mapped at the start of the code.
    let exe = plans
        .iter()
        .find(|p| p.vma.start <= mm.start_code && mm.start_code < p.vma.end)
        .and_then(|p| p.vma.file.as_ref())
        .ok_or_else(|| fail(reply, EINVAL, format_args!("no executable mapped at the start of the code")))?;
    let exe_path = exe.path(&mut path_buf)?;
    let exe_ref = file_ref(exe_path, &exe.info());
    let cwd = task::cwd_path(&mut path_buf2)?;
    let root = task::root_path(&mut path_buf3)?;
    let groups = &st.groups[..st.ngroups as usize];
    let mut rlimits = [Rlimit::default(); image::RLIM_NLIMITS];
    for (i, r) in rlimits.iter_mut().enumerate() {
        *r = Rlimit { cur: st.rlim_cur[i], max: st.rlim_max[i] };
    }
    out.section(&Section::Process(ProcessBody {
        pid: st.tgid,
        tgid: st.tgid,
        global_pid: (u64::from(origin.node) << 32) | u64::from(st.tgid),
        home_node: origin.node,
        nr_threads: threads.len() as u32,
        comm: leader.comm,
        checkpoint_ns: task::mono_ns(),
        creds: Creds {
            uid: st.uid,
            euid: st.euid,
            suid: st.suid,
            fsuid: st.fsuid,
            gid: st.gid,
            egid: st.egid,
            sgid: st.sgid,
            fsgid: st.fsgid,
        },
        caps: Caps {
            inheritable: st.cap_inheritable,
            permitted: st.cap_permitted,
            effective: st.cap_effective,
            bounding: st.cap_bset,
            ambient: st.cap_ambient,
        },
        rlimits,
        itimers: Itimers {
            real: Itimer { interval_ns: st.it_real_interval_ns, value_ns: st.it_real_value_ns },
            virt: Itimer { interval_ns: st.it_virt_interval_ns, value_ns: st.it_virt_value_ns },
            prof: Itimer { interval_ns: st.it_prof_interval_ns, value_ns: st.it_prof_value_ns },
        },
        securebits: st.securebits,
        personality: st.personality,
        umask: st.umask,
        exit_signal: leader.exit_signal,
        pdeath_signal: leader.pdeath_signal,
        no_new_privs: st.no_new_privs != 0,
        groups: RecordList::Items(groups),
        exe: exe_ref,
        cwd,
        root,
        start_ns: crate::kernel_ext::real_time_ns().saturating_sub(task::current_age_ns()),
    }))?;
    if let Some(p) = parent {
        out.section(&Section::Parent(ParentBody { parent_id: p.image_id, path: p.path }))?;
    }
    out.section(&Section::Signals(SignalsBody {
        handlers: RecordList::Items(&handlers),
        pending: RecordList::Encoded(&shared_pending[..ns * image::SIGINFO_LEN]),
    }))?;
    let auxv = &mm.auxv[..mm.auxv_words as usize];
    out.section(&Section::Mm(MmBody {
        start_code: mm.start_code,
        end_code: mm.end_code,
        start_data: mm.start_data,
        end_data: mm.end_data,
        start_brk: mm.start_brk,
        brk: mm.brk,
        start_stack: mm.start_stack,
        arg_start: mm.arg_start,
        arg_end: mm.arg_end,
        env_start: mm.env_start,
        env_end: mm.env_end,
        nr_vmas: plans.len() as u32,
        auxv: RecordList::Items(auxv),
    }))?;
    for p in plans.iter() {
        let v = &p.vma;
        let (path, info) = match &v.file {
            Some(f) if p.kind.has_file() => (f.path(&mut path_buf)?, Some(f.info())),
            _ => (&[][..], None),
        };
        out.section(&Section::Vma(VmaBody {
            start: v.start,
            end: v.end,
            pgoff: if p.kind.has_file() { v.pgoff } else { 0 },
            vm_flags: v.vm_flags,
            prot: prot_of(v.vm_flags),
            map_flags: map_flags_of(p.kind, v.vm_flags),
            kind: p.kind,
            file: info.as_ref().map(|i| file_ref(path, i)),
        }))?;
    }
    for (index, t) in threads.iter().enumerate() {
        out.section(&Section::Thread(ThreadBody {
            tid: t.tid,
            index: index as u32,
            comm: t.comm,
            regs: t.regs,
            sigmask: t.sigmask,
            clear_child_tid: t.clear_child_tid,
            robust_list_head: t.robust.0,
            robust_list_len: t.robust.1,
            rseq: t.rseq,
            altstack: t.altstack,
            pending: RecordList::Encoded(&t.pending[..t.pending_len]),
            xstate: &t.xstate[..t.xstate_len],
        }))?;
    }
    for f in files.iter() {
        let i = &f.info;
        let path = f.file.path(&mut path_buf).unwrap_or(b"");
        let target = match i.kind {
            FileClass::Regular => FileTarget::Regular(file_ref(path, i)),
            FileClass::Directory => FileTarget::Directory(file_ref(path, i)),
            FileClass::CharDev => FileTarget::CharDev { major: i.major, minor: i.minor },
            FileClass::Tty => {
                // Settings of the controlling terminal; another tty's are
                // not read (all zeros: none captured).
                let (termios, winsize) =
                    f.file.ctty_settings().unwrap_or(([0; image::TERMIOS2_LEN], [0; image::WINSIZE_LEN]));
                FileTarget::Tty { termios, winsize }
            }
            _ if i.writable != 0 => FileTarget::PipeWrite { pipe_id: i.ino },
            _ => FileTarget::PipeRead { pipe_id: i.ino },
        };
        out.section(&Section::File(FileBody { fd: f.fd, open_flags: i.flags, pos: i.pos, cloexec: f.cloexec, target }))?;
    }
    // Only the pages a process wrote into its file mappings (a migration
    // whose memory comes later) need no more than a small buffer.
    let chunk_pages =
        if matches!(memory, Memory::FilesOnly | Memory::Nothing) { FILES_ONLY_CHUNK_PAGES } else { CHUNK_PAGES };
    let mut chunk = KVec::from_elem(0u8, chunk_pages * PAGE_SIZE, GFP_KERNEL)?;
    let mut held = if matches!(memory, Memory::All) && out.sink.takes_pages_in_place() {
        Some(task::HeldPages::new(CHUNK_PAGES)?)
    } else {
        None
    };
    for p in plans.iter() {
        write_memory(&mut out, p, &mut chunk, memory, held.as_mut())?;
    }
    out.finish()
}
