// SPDX-License-Identifier: GPL-2.0
//! Restart: turns the calling process (`ssi-ctl restart`, which has already
//! set what userspace can set: credentials, cwd, umask, limits, name, and
//! moved its vdso and vvar to the saved addresses) into the process of an
//! image, in the kernel, and returns to the saved user registers.
//!
//! Pass one reads the whole image (checksums, order, limits), opens every
//! file it names and checks they did not change since the checkpoint:
//! until then nothing is changed and any problem is a clean error. Pass two
//! replaces the address space, loads the pages, installs the descriptors,
//! signal state, FPU state and registers; a failure there (the image
//! changed under us, memory ran out) kills the process, with a log line.
//! An eager migration's image is restored while it still arrives
//! ([`Incoming::Arriving`]): pass one then reads its description only,
//! and pass two checks each run of pages as it comes.

use super::page_store::PageStore;
use super::task::{self, File};
use super::thread_plan::{apply_thread, thread_plan, ThreadPlan};
use super::threads::{RestoreGroups, ThreadPlans};
use crate::ctl_reply::{fail, say};
use crate::kernel_ext::eopnotsupp;
use crate::proto::{
    ctl::CtlReply,
    handover::{self, Verdict},
    image::{
        self, FileTarget, ImageReader, PagesBody, PagesRun, Section, SectionHeader, SectionKind, VmaKind, IMAGE_HEADER_LEN,
        PAGE_SIZE, SECTION_HEADER_LEN,
    },
};
use kernel::{alloc::flags::__GFP_NOWARN, prelude::*, sync::Arc};

const O_ACCMODE: u32 = 3;
const O_CREAT_TRUNC_EXCL: u32 = 0o100 | 0o1000 | 0o200;
const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED: u32 = 0x01;
const MAP_ANONYMOUS: u32 = 0x20;

/// One mapping to rebuild.
struct MapPlan {
    start: u64,
    end: u64,
    prot: u32,
    map_flags: u32,
    pgoff: u64,
    kind: VmaKind,
    file: Option<File>,
}

/// One descriptor to install.
struct FdPlan {
    fd: u32,
    cloexec: bool,
    /// None: keep the restarting side's descriptor (ttys, pipes on 0-2).
    file: Option<File>,
}

/// Everything pass one gathered.
struct Plan {
    maps: KVec<MapPlan>,
    fds: KVec<FdPlan>,
    mm: task::MmLayout,
    /// Every thread, in image order (the leader, this process's caller, first).
    threads: KVec<ThreadPlan>,
    handlers: [(u64, u64, u64, u64); image::NSIG],
    /// Process-wide pending signals, encoded.
    pending: KVec<u8>,
    itimer_real: (u64, u64),
    /// When the process started (wall clock ns; 0: unknown).
    start_ns: u64,
    /// The executable, for `/proc/PID/exe`.
    exe: Option<File>,
    /// Settings of the saved controlling terminal, for ours.
    termios: Option<[u8; image::TERMIOS2_LEN]>,
}

/// What [`SectionStream::next`] found.
enum Next {
    /// A section whose body (this long) is in the stream's buffer.
    Body(usize),
    /// A migration's Pages section whose data came apart from the image
    /// (`data_apart`): only its prefix was in the file.
    Pages(PagesRun),
}

/// An image still arriving while it is restored: an eager migration's.
/// The restore starts once its description came and rebuilds the process
/// while its page data comes (the copy into the process overlaps the
/// transfer); the process runs once the source hands it over.
pub(crate) trait Arriving {
    /// Waits until the image file holds its first `len` bytes, or the
    /// whole image came. `Err` if the migration was given up.
    fn await_description(&self, len: u64) -> Result;
    /// Adds the page data that came since to `store`, waiting until it
    /// holds at least `npages` pages. `Err` if the migration was given up
    /// or the whole image came without them.
    fn await_pages(&self, store: &mut PageStore, npages: u64) -> Result;
    /// Waits for the whole image (its commit) and adds the rest of its
    /// page data to `store`. `Err` if the migration was given up.
    fn await_whole(&self, store: &mut PageStore) -> Result;
}

/// Where the page data of an image to restore is.
#[derive(Clone, Copy)]
enum PageData<'a> {
    /// In the image file (a checkpoint).
    InFile,
    /// Apart from it: this many pages, all came (a migration's).
    Apart(u64),
    /// Apart from it, still arriving (an eager migration's).
    Arriving(&'a dyn Arriving),
}

impl<'a> PageData<'a> {
    fn arriving(self) -> Option<&'a dyn Arriving> {
        match self {
            PageData::Arriving(a) => Some(a),
            _ => None,
        }
    }
}

/// The message of a restore whose image stopped arriving.
fn given_up(reply: &mut CtlReply, e: Error) -> Error {
    fail(reply, e, format_args!("the migration was given up while its image came"))
}

/// Reads the image section by section from a file.
struct SectionStream<'a> {
    file: &'a File,
    pos: i64,
    reader: ImageReader,
    body: KVec<u8>,
    /// The header of the section whose body is in `body`.
    header: Option<SectionHeader>,
    /// The section CRCs are not computed (bodies are still decoded and
    /// validated): a migration's image, which came in authenticated krpc
    /// frames (SipHash tags, stronger than the CRC) straight into the
    /// module's own kernel-memory file, never through storage the CRCs
    /// guard against.
    crcs_checked: bool,
    /// The file is a migration's image without its page data, which came
    /// apart (`PageStore`): a Pages section's prefix is followed by the
    /// next section.
    data_apart: bool,
    /// The whole file, read at once, when it is a migration's
    /// description (small; read several times by a prepared hand-over);
    /// empty otherwise.
    whole: KVec<u8>,
    /// The image is still arriving: reads wait for its bytes.
    arriving: Option<&'a dyn Arriving>,
}

/// The largest description of a migration read into memory at once (a
/// larger one, or one whose buffer cannot be had, is read from its file).
const MAX_DESCRIPTION_IN_MEMORY: u64 = 1 << 20;

/// Reads `buf.len()` bytes at `*pos` of `file`, or of `whole` if that is
/// the file's content (not empty); advances `*pos`.
fn read_image(file: &File, whole: &[u8], pos: &mut i64, buf: &mut [u8]) -> Result {
    if whole.is_empty() {
        return file.read_exact(buf, pos);
    }
    let at = usize::try_from(*pos).map_err(|_| EINVAL)?;
    let src = whole.get(at..at.checked_add(buf.len()).ok_or(EINVAL)?).ok_or(EINVAL)?;
    buf.copy_from_slice(src);
    *pos += buf.len() as i64;
    Ok(())
}

impl<'a> SectionStream<'a> {
    /// The image in `file`; `migration`: a migration's, in the module's
    /// own file (its CRCs are not computed). Any other image with
    /// unchecked pages is refused.
    /// `data_apart`: the page data is not in the file (a migration's).
    fn open(file: &'a File, reply: &mut CtlReply, migration: bool, data_apart: bool) -> Result<Self> {
        Self::open_following(file, reply, migration, data_apart, None)
    }

    /// A migration's image that may still be arriving (`arriving`).
    fn open_arriving(file: &'a File, reply: &mut CtlReply, arriving: Option<&'a dyn Arriving>) -> Result<Self> {
        Self::open_following(file, reply, true, true, arriving)
    }

    fn open_following(
        file: &'a File,
        reply: &mut CtlReply,
        migration: bool,
        data_apart: bool,
        arriving: Option<&'a dyn Arriving>,
    ) -> Result<Self> {
        let mut hdr = [0u8; IMAGE_HEADER_LEN];
        let mut pos = 0i64;
        if let Some(a) = arriving {
            a.await_description(IMAGE_HEADER_LEN as u64).map_err(|e| given_up(reply, e))?;
        }
        file.read_exact(&mut hdr, &mut pos).map_err(|_| fail(reply, EINVAL, format_args!("image truncated")))?;
        let reader = ImageReader::new(&hdr).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
        if reader.header().pages_unchecked() && !migration {
            return Err(fail(
                reply,
                EINVAL,
                format_args!(
                    "the image's pages have no checksums (a migration's stream): it cannot be restarted from a file"
                ),
            ));
        }
        // Grown to the largest body read (a migration's image has no page
        // data in its bodies: its sections are small).
        let body = KVec::new();
        let size = file.info().size;
        let mut whole = KVec::new();
        if data_apart && arriving.is_none() && size <= MAX_DESCRIPTION_IN_MEMORY {
            if let Ok(mut w) = KVec::from_elem(0u8, size as usize, GFP_KERNEL | __GFP_NOWARN) {
                file.read_exact(&mut w, &mut 0).map_err(|_| fail(reply, EINVAL, format_args!("image truncated")))?;
                whole = w;
            }
        }
        // A checkpoint image that comes as a migration (high availability's
        // restart, `migration/resume.rs`) passed through storage: its
        // CRCs are checked.
        let crcs_checked = migration && reader.header().pages_unchecked();
        Ok(SectionStream { file, pos, reader, body, header: None, crcs_checked, data_apart, whole, arriving })
    }

    /// Waits, for an image still arriving, until its next `len` bytes came.
    fn await_bytes(&self, len: usize, reply: &mut CtlReply) -> Result {
        match self.arriving {
            Some(a) => a.await_description(self.pos as u64 + len as u64).map_err(|e| given_up(reply, e)),
            None => Ok(()),
        }
    }

    /// The next section: its body read into `self.body`, or, for the
    /// Pages of a migration's image (no CRCs to check), only where its
    /// data is, left in the file; None after End.
    fn next(&mut self, reply: &mut CtlReply) -> Result<Option<Next>> {
        if self.reader.is_complete() {
            return Ok(None);
        }
        let truncated = |reply: &mut CtlReply| fail(reply, EINVAL, format_args!("image truncated"));
        let mut sh = [0u8; SECTION_HEADER_LEN];
        self.await_bytes(sh.len(), reply)?;
        read_image(self.file, &self.whole, &mut self.pos, &mut sh).map_err(|_| truncated(reply))?;
        let h = self.reader.read_section_header(&sh).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
        if h.kind == SectionKind::Pages && self.data_apart {
            let mut prefix = [0u8; PagesBody::PREFIX_LEN];
            self.await_bytes(prefix.len(), reply)?;
            read_image(self.file, &self.whole, &mut self.pos, &mut prefix).map_err(|_| truncated(reply))?;
            let run = self.reader.read_pages_prefix(&prefix).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
            return Ok(Some(Next::Pages(run)));
        }
        let len = h.body_len as usize;
        if len > self.body.len() {
            if len > image::MAX_SECTION_BODY as usize {
                return Err(EINVAL);
            }
            self.body = KVec::from_elem(0u8, len.next_power_of_two().min(image::MAX_SECTION_BODY as usize), GFP_KERNEL)?;
        }
        self.await_bytes(len, reply)?;
        let body = self.body.get_mut(..len).ok_or(EINVAL)?;
        read_image(self.file, &self.whole, &mut self.pos, body).map_err(|_| truncated(reply))?;
        self.header = Some(h);
        Ok(Some(Next::Body(len)))
    }

    /// The body read by [`SectionStream::next`], checked (its CRC with the
    /// CPU's instruction where there is one) and decoded.
    fn section(&mut self, len: usize, reply: &mut CtlReply) -> Result<Section<'_>> {
        let body = &self.body[..len];
        let header = self.header.take().ok_or(EINVAL)?;
        let crc = if self.crcs_checked {
            header.crc
        } else {
            let mut crc = header.crc_start();
            super::crc::update(&mut crc, body);
            crc.finish()
        };
        self.reader.read_section_body_with_crc(body, crc).map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))
    }
}

/// `path` with a NUL, for the kernel's path lookups.
fn nul_path(path: &[u8]) -> Result<KVec<u8>> {
    let mut p = KVec::with_capacity(path.len() + 1, GFP_KERNEL)?;
    p.extend_from_slice(path, GFP_KERNEL)?;
    p.push(0, GFP_KERNEL)?;
    Ok(p)
}

/// Opens a saved file and checks it is the one the checkpoint saw.
fn open_checked(f: &image::FileRef<'_>, flags: u32, what: &str, reply: &mut CtlReply) -> Result<File> {
    let p = nul_path(f.path)?;
    let name = core::str::from_utf8(f.path).unwrap_or("?");
    let file = task::open_path(&p, flags).map_err(|e| fail(reply, e, format_args!("cannot open {what} {name}")))?;
    let i = file.info();
    if i.size != f.size || i.mtime_sec != f.mtime_sec || i.mtime_nsec != f.mtime_nsec {
        return Err(fail(reply, crate::kernel_ext::estale(), format_args!("{what} {name} changed since the checkpoint")));
    }
    Ok(file)
}

/// Opens a saved open file by path.
fn open_saved(f: &image::FileRef<'_>, flags: u32, reply: &mut CtlReply) -> Result<File> {
    let p = nul_path(f.path)?;
    let name = core::str::from_utf8(f.path).unwrap_or("?");
    task::open_path(&p, flags).map_err(|e| fail(reply, e, format_args!("cannot open file {name}")))
}

fn char_device_path(minor: u32) -> &'static [u8] {
    match minor {
        3 => b"/dev/null\0",
        5 => b"/dev/zero\0",
        7 => b"/dev/full\0",
        8 => b"/dev/random\0",
        _ => b"/dev/urandom\0",
    }
}

/// Pass one: reads and checks everything, opens the files.
/// Makes the stand-in for a pipe or terminal on fds 0-2 that another node
/// keeps (a migration): (fd, readable, writable).
pub(crate) type Forwarder<'a> = &'a dyn Fn(u32, bool, bool) -> Result<File>;

/// The handlers and process-wide pending signals of a Signals section.
fn take_signals(plan: &mut Plan, sg: &image::SignalsBody<'_>) -> Result {
    for (i, h) in sg.handlers.iter().enumerate().take(image::NSIG) {
        plan.handlers[i] = (h.handler, h.flags, h.restorer, h.mask);
    }
    for si in sg.pending.iter() {
        plan.pending.extend_from_slice(&si.0, GFP_KERNEL)?;
    }
    Ok(())
}

fn plan(
    image: &File,
    reply: &mut CtlReply,
    is_root: bool,
    caller_uid: u32,
    check_only: bool,
    forward: Option<Forwarder<'_>>,
    migration: bool,
    page_data: PageData<'_>,
) -> Result<KBox<Plan>> {
    let data_apart = !matches!(page_data, PageData::InFile);
    let mut s = SectionStream::open_following(image, reply, migration, data_apart, page_data.arriving())?;
    let hdr_uid = s.reader.header().uid;
    if !is_root && hdr_uid != caller_uid {
        return Err(fail(reply, EPERM, format_args!("only root or the image's owner (uid {hdr_uid}) may restart it")));
    }
    let mut plan = KBox::new(
        Plan {
            maps: KVec::new(),
            fds: KVec::new(),
            mm: task::MmLayout::default(),
            threads: KVec::new(),
            handlers: [(0, 0, 0, 0); image::NSIG],
            pending: KVec::new(),
            itimer_real: (0, 0),
            start_ns: 0,
            exe: None,
            termios: None,
        },
        GFP_KERNEL,
    )?;
    let mut pages_by_prefix = 0u64;
    while let Some(next) = s.next(reply)? {
        let len = match next {
            Next::Body(len) => len,
            // An image still arriving: its pages are checked as they come.
            Next::Pages(_) if page_data.arriving().is_some() => break,
            Next::Pages(run) => {
                check_pages_mapped(&plan, run.start, run.data_len(), reply)?;
                pages_by_prefix += u64::from(run.npages);
                continue;
            }
        };
        match s.section(len, reply)? {
            Section::Process(p) => {
                // Checked, and its /proc/PID/exe once restored.
                plan.exe = Some(open_checked(&p.exe, 0, "executable", reply)?);
                plan.itimer_real = (p.itimers.real.value_ns, p.itimers.real.interval_ns);
                plan.start_ns = p.start_ns;
            }
            Section::Signals(sg) => take_signals(&mut plan, &sg)?,
            Section::Mm(m) => {
                let mm = &mut plan.mm;
                mm.start_code = m.start_code;
                mm.end_code = m.end_code;
                mm.start_data = m.start_data;
                mm.end_data = m.end_data;
                mm.start_brk = m.start_brk;
                mm.brk = m.brk;
                mm.start_stack = m.start_stack;
                mm.arg_start = m.arg_start;
                mm.arg_end = m.arg_end;
                mm.env_start = m.env_start;
                mm.env_end = m.env_end;
                let n = m.auxv.len().min(mm.auxv.len());
                for (i, w) in m.auxv.iter().take(n).enumerate() {
                    mm.auxv[i] = w;
                }
                mm.auxv_words = n as u32;
            }
            Section::Vma(v) => {
                let file = match (&v.file, v.kind) {
                    (Some(f), VmaKind::FileShared) if v.prot & image::PROT_WRITE != 0 => {
                        Some(open_checked_shared(f, reply)?)
                    }
                    (Some(f), _) => Some(open_checked(f, 0, "mapped file", reply)?),
                    (None, _) => None,
                };
                plan.maps.push(
                    MapPlan {
                        start: v.start,
                        end: v.end,
                        prot: v.prot,
                        map_flags: v.map_flags,
                        pgoff: v.pgoff,
                        kind: v.kind,
                        file,
                    },
                    GFP_KERNEL,
                )?;
            }
            Section::Thread(t) => plan.threads.push(thread_plan(&t)?, GFP_KERNEL)?,
            Section::File(f) => {
                let keep_ours = f.fd <= 2
                    && matches!(
                        f.target,
                        FileTarget::Tty { .. } | FileTarget::PipeRead { .. } | FileTarget::PipeWrite { .. }
                    );
                if let FileTarget::Tty { termios, .. } = &f.target {
                    if termios.iter().any(|b| *b != 0) {
                        plan.termios = Some(*termios);
                    }
                }
                let file = match &f.target {
                    _ if keep_ours => match forward {
                        None => None,
                        Some(make) => {
                            let (r, w) = match &f.target {
                                FileTarget::PipeRead { .. } => (true, false),
                                FileTarget::PipeWrite { .. } => (false, true),
                                _ => (true, true),
                            };
                            Some(make(f.fd, r, w).map_err(|e| fail(reply, e, format_args!("cannot forward fd {}", f.fd)))?)
                        }
                    },
                    FileTarget::Regular(r) | FileTarget::Directory(r) => {
                        // Open files may have changed (a log the process
                        // appends to): only mapped files must be the same.
                        let file = open_saved(r, f.open_flags & !O_CREAT_TRUNC_EXCL, reply)?;
                        file.set_pos(f.pos);
                        Some(file)
                    }
                    FileTarget::CharDev { minor, .. } => Some(
                        task::open_path(char_device_path(*minor), f.open_flags & O_ACCMODE)
                            .map_err(|e| fail(reply, e, format_args!("cannot open a character device")))?,
                    ),
                    _ => {
                        return Err(fail(reply, eopnotsupp(), format_args!("fd {} is a pipe or terminal above fd 2", f.fd)))
                    }
                };
                plan.fds.push(FdPlan { fd: f.fd, cloexec: f.cloexec, file }, GFP_KERNEL)?;
            }
            Section::Pages(pg) => check_pages_mapped(&plan, pg.start, pg.data.len(), reply)?,
            Section::Parent(_) => {
                return Err(fail(reply, eopnotsupp(), format_args!("incremental images are not supported yet")));
            }
            Section::End(_) => {}
        }
    }
    if page_data.arriving().is_none() {
        s.reader.finish().map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
    }
    if matches!(page_data, PageData::Apart(n) if n != pages_by_prefix) {
        return Err(data_mismatch(reply));
    }
    let xsize = task::xstate_size()?;
    if plan.threads.iter().any(|t| t.xstate.len() != xsize) {
        return Err(fail(reply, EINVAL, format_args!("FPU state of another CPU model")));
    }
    if check_only {
        return Ok(plan);
    }
    // The vdso and vvar must already be where the process had them.
    for m in plan.maps.iter().filter(|m| matches!(m.kind, VmaKind::Vdso | VmaKind::Vvar)) {
        let here = task::vma_find(m.start);
        let ok = here.as_ref().is_some_and(|v| v.start == m.start && v.end == m.end && v.class.special.is_some());
        if !ok {
            return Err(fail(reply, EINVAL, format_args!("the vdso/vvar is not at {:#x} (ssi-ctl moves it)", m.start)));
        }
    }
    Ok(plan)
}

fn data_mismatch(reply: &mut CtlReply) -> Error {
    fail(reply, EINVAL, format_args!("the page data that came does not match the image"))
}

/// Pages at `start` must lie inside one mapping of the plan.
fn check_pages_mapped(plan: &Plan, start: u64, len: usize, reply: &mut CtlReply) -> Result {
    let end = start + len as u64;
    if !plan.maps.iter().any(|m| m.start <= start && end <= m.end) {
        return Err(fail(reply, EINVAL, format_args!("pages at {start:#x} outside every mapping")));
    }
    Ok(())
}

/// Whether the plan maps `addr` writable.
fn writable_at(plan: &Plan, addr: u64) -> bool {
    plan.maps.iter().any(|m| m.start <= addr && addr < m.end && m.prot & image::PROT_WRITE != 0)
}

fn open_checked_shared(f: &image::FileRef<'_>, reply: &mut CtlReply) -> Result<File> {
    open_checked(f, 2, "shared mapped file", reply)
}

/// Pass two, past the point of no return.
fn rebuild(
    image: &File,
    plan: &mut Plan,
    reply: &mut CtlReply,
    preload: Option<Preload<'_>>,
    pages: Option<PageStore>,
) -> Result<i64> {
    rebuild_structure(image, plan, reply, preload.is_some(), preload, pages, None)?;
    apply_state(plan)
}

/// Pass two but for the state the process runs on: its mappings, their
/// pages, its memory layout and descriptors.
/// `migration`: the image is a migration's (see [`SectionStream::open`]).
fn rebuild_structure(
    image: &File,
    plan: &mut Plan,
    reply: &mut CtlReply,
    migration: bool,
    preload: Option<Preload<'_>>,
    pages: Option<PageStore>,
    arriving: Option<&dyn Arriving>,
) -> Result {
    // Unmap everything but the vdso and vvar.
    let mut addr = 0u64;
    let mut ranges: KVec<(u64, u64)> = KVec::new();
    while let Some(v) = task::vma_find(addr) {
        addr = v.end;
        if v.class.special.is_none() {
            ranges.push((v.start, v.end), GFP_KERNEL)?;
        }
    }
    for (a, b) in ranges.iter() {
        task::unmap(*a, *b)?;
    }
    for m in plan.maps.iter() {
        let flags = m.map_flags & !(MAP_SHARED | MAP_PRIVATE);
        let r = match m.kind {
            VmaKind::Vdso | VmaKind::Vvar | VmaKind::Vsyscall => continue,
            VmaKind::Anon | VmaKind::Heap | VmaKind::Stack => {
                task::map(None, m.start, m.end - m.start, m.prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, 0)
            }
            VmaKind::FilePrivate => {
                task::map(m.file.as_ref(), m.start, m.end - m.start, m.prot, MAP_PRIVATE | flags, m.pgoff * PAGE_SIZE as u64)
            }
            VmaKind::FileShared => {
                task::map(m.file.as_ref(), m.start, m.end - m.start, m.prot, MAP_SHARED | flags, m.pgoff * PAGE_SIZE as u64)
            }
            VmaKind::AnonShared => Err(eopnotsupp()),
        };
        r.map_err(|e| fail(reply, e, format_args!("cannot map {:#x}-{:#x}", m.start, m.end)))?;
    }
    // Pages that came before the image (pre-copy), then the image's own.
    if let Some(load) = preload {
        load(MemoryStep::Mapped).map_err(|e| fail(reply, e, format_args!("cannot load the pre-copied pages")))?;
    }
    load_pages(image, plan, reply, migration, pages, arriving)?;
    task::set_mm_layout(&plan.mm)?;
    // Its age: `ps` shows its own start time, not the restart's.
    if plan.start_ns != 0 {
        task::set_current_age(crate::kernel_ext::real_time_ns().saturating_sub(plan.start_ns));
    }
    if let Some(exe) = &plan.exe {
        // Not fatal: the process runs the same either way.
        if let Err(e) = task::set_exe_file(exe) {
            pr_warn!("pid {}: /proc/PID/exe stays the restart program's (error {})\n", task::current_pid(), e.to_errno());
        }
    }
    // Descriptors: ours go, except the terminal or pipes kept on 0-2.
    let mut next = 0u32;
    while let Some((fd, _, _)) = task::next_file(next) {
        next = fd + 1;
        let keep = plan.fds.iter().any(|f| f.fd == fd && f.file.is_none());
        if !keep {
            task::close_fd(fd);
        }
    }
    for f in plan.fds.iter_mut() {
        if let Some(file) = f.file.take() {
            task::install_fd(file, f.fd, f.cloexec)?;
        }
    }
    Ok(())
}

/// Writes the pages of `image` into the calling process, read again from
/// the image (their CRCs were checked by the first pass; a migration's
/// are not computed at all), or, for a migration's, from `pages`.
/// `arriving`: the image is still arriving (its page data comes into
/// `pages` as the runs need it; each run is checked as it comes, as pass
/// one checks those of an image that is whole).
fn load_pages(
    image: &File,
    plan: &Plan,
    reply: &mut CtlReply,
    migration: bool,
    mut pages: Option<PageStore>,
    arriving: Option<&dyn Arriving>,
) -> Result {
    let mut s = match arriving {
        Some(a) => SectionStream::open_arriving(image, reply, Some(a))?,
        None => SectionStream::open(image, reply, migration, pages.is_some())?,
    };
    while let Some(next) = s.next(reply)? {
        match next {
            Next::Pages(run) => {
                // Only a stream opened with the data apart yields these.
                let store = pages.as_mut().ok_or(EINVAL)?;
                if let Some(a) = arriving {
                    check_pages_mapped(plan, run.start, run.data_len(), reply)?;
                    if store.pages_left() < u64::from(run.npages) {
                        a.await_pages(store, u64::from(run.npages)).map_err(|e| given_up(reply, e))?;
                    }
                }
                reply.pages += u64::from(run.npages);
                store.load(run.start, run.npages, writable_at(plan, run.start))?;
            }
            Next::Body(len) => {
                if let Section::Pages(pg) = s.section(len, reply)? {
                    reply.pages += (pg.data.len() / PAGE_SIZE) as u64;
                    if writable_at(plan, pg.start) {
                        task::write_user(pg.start, pg.data)?;
                    } else {
                        task::poke_user(pg.start, pg.data)?;
                    }
                }
            }
        }
    }
    if let Some(a) = arriving {
        s.reader.finish().map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
        let store = pages.as_mut().ok_or(EINVAL)?;
        a.await_whole(store).map_err(|e| given_up(reply, e))?;
        if store.pages_left() != 0 {
            return Err(data_mismatch(reply));
        }
    }
    Ok(())
}

/// What a prepared hand-over compares next in an image.
enum Compared {
    /// A section's body (this long), in the stream's buffer.
    Body(usize),
    /// A Pages section's run.
    Run(PagesRun),
}

/// The next item of `s` that a prepared hand-over compares (see
/// `proto::handover`); the other sections are decoded and skipped. None
/// after End.
fn next_compared(s: &mut SectionStream<'_>, runs: bool, reply: &mut CtlReply) -> Result<Option<Compared>> {
    while let Some(next) = s.next(reply)? {
        let len = match next {
            Next::Pages(run) if runs => return Ok(Some(Compared::Run(run))),
            Next::Pages(_) => continue,
            Next::Body(len) => len,
        };
        let kind = s.header.as_ref().ok_or(EINVAL)?.kind;
        if !handover::taken_from_final(kind) {
            return Ok(Some(Compared::Body(len)));
        }
        s.section(len, reply)?;
    }
    Ok(None)
}

/// Whether `last`, a migration's final image, describes the process
/// rebuilt from `ahead` (the image sent while it ran): the same sections
/// and pages but for the state it carries over (`proto::handover`).
/// `runs`: the Pages sections' runs are compared too (not for pre-copy,
/// whose final image holds only the pages dirtied since the last round).
/// `Err` if the process's identity changed: the migration is given up.
fn same_structure(ahead: &File, last: &File, runs: bool, reply: &mut CtlReply) -> Result<bool> {
    let mut a = SectionStream::open(ahead, reply, true, true)?;
    let mut b = SectionStream::open(last, reply, true, true)?;
    loop {
        match (next_compared(&mut a, runs, reply)?, next_compared(&mut b, runs, reply)?) {
            (None, None) => return Ok(true),
            (Some(Compared::Body(la)), Some(Compared::Body(lb))) => {
                let sa = a.section(la, reply)?;
                let sb = b.section(lb, reply)?;
                match handover::compare(&sa, &sb) {
                    Verdict::Same => {}
                    Verdict::Changed => return Ok(false),
                    Verdict::Refused => {
                        return Err(fail(
                            reply,
                            EAGAIN,
                            format_args!(
                            "the process changed its credentials, directories, limits or name while it migrated: try again"
                        ),
                        ))
                    }
                }
            }
            (Some(Compared::Run(ra)), Some(Compared::Run(rb))) if handover::same_pages(&ra, &rb) => {}
            _ => return Ok(false),
        }
    }
}

/// Takes the state of `last` (a migration's final image, of the same
/// structure as the process rebuilt from `plan`) into `plan`, and its file
/// positions and pages into the calling process.
fn take_final_state(last: &File, plan: &mut Plan, reply: &mut CtlReply, pages: Option<PageStore>) -> Result {
    let mut s = SectionStream::open(last, reply, true, pages.is_some())?;
    plan.threads = KVec::new();
    plan.pending = KVec::new();
    plan.termios = None;
    while let Some(next) = s.next(reply)? {
        let Next::Body(len) = next else { continue };
        match s.section(len, reply)? {
            Section::Process(p) => plan.itimer_real = (p.itimers.real.value_ns, p.itimers.real.interval_ns),
            Section::Signals(sg) => take_signals(plan, &sg)?,
            Section::Thread(t) => plan.threads.push(thread_plan(&t)?, GFP_KERNEL)?,
            Section::File(f) => match &f.target {
                FileTarget::Regular(_) | FileTarget::Directory(_) => {
                    File::from_fd(f.fd).ok_or(EBADF)?.set_pos(f.pos);
                }
                FileTarget::Tty { termios, .. } if termios.iter().any(|b| *b != 0) => plan.termios = Some(*termios),
                _ => {}
            },
            _ => {}
        }
    }
    s.reader.finish().map_err(|e| fail(reply, EINVAL, format_args!("{}", e)))?;
    let xsize = task::xstate_size()?;
    if plan.threads.iter().any(|t| t.xstate.len() != xsize) {
        return Err(fail(reply, EINVAL, format_args!("FPU state of another CPU model")));
    }
    load_pages(last, plan, reply, true, pages, None)
}

/// Pass two's end: the state the process runs on (terminal settings,
/// signals, timers, its thread's state and registers).
fn apply_state(plan: &Plan) -> Result<i64> {
    // The saved terminal settings go to our controlling terminal, if one
    // of the kept descriptors is it (a restart with no terminal has none).
    if let Some(termios) = &plan.termios {
        let applied = (0..=2u32).filter_map(File::from_fd).any(|f| f.set_ctty_termios(termios).is_ok());
        if !applied {
            pr_info!("restart: no controlling terminal on fds 0-2: saved terminal settings not applied\n");
        }
    }
    // Signals, timers, thread state, FPU, registers.
    for (i, h) in plan.handlers.iter().enumerate() {
        let sig = i as i32 + 1;
        if sig != 9 && sig != 19 {
            task::set_sigaction(sig, *h)?;
        }
    }
    for si in plan.pending.chunks_exact(image::SIGINFO_LEN) {
        task::queue_signal(si)?;
    }
    task::set_itimer_real(plan.itimer_real);
    apply_thread(plan.threads.first().ok_or(EINVAL)?)
}

/// How the image to restore came.
#[derive(Clone, Copy)]
pub(crate) enum Incoming<'a> {
    /// Whole, before the restore began (a checkpoint, a migration's
    /// image once committed).
    Whole,
    /// Still arriving (an eager migration's): the restore starts once its
    /// description came, rebuilds the process as its pages come and then
    /// waits for the hand-over.
    Arriving(&'a dyn Arriving),
    /// A prepared hand-over (post-copy, lazy): the image was sent while
    /// the process ran on; the process is rebuilt from it at once, then
    /// this waits for the image captured at the freeze (and its page data)
    /// and the process takes that one's state, or, if its structure
    /// changed, is rebuilt again from it; `checked` runs after that (a
    /// failure then kills the restarting process: the source, which has
    /// not handed the process over, lets it go on there).
    /// `memory_before` (pre-copy): the memory came in rounds before the
    /// final image, whose pages are only those dirtied since; the images'
    /// Pages sections are not compared.
    Prepared { wait_final: &'a dyn Fn() -> Result<(File, Option<PageStore>)>, memory_before: bool },
}

/// A migration's memory that is not in its image, given to the restore,
/// called at each [`MemoryStep`] (pre-copy: the pages that came before the
/// image; post-copy, lazy: the registration for pages that come later).
pub(crate) type Preload<'a> = &'a dyn Fn(MemoryStep) -> Result;

/// Where the restore of a migration's memory is, for [`Preload`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemoryStep {
    /// The mappings were just made (before the image's pages are written).
    Mapped,
    /// A prepared process keeps the structure it was rebuilt ahead with
    /// (before the final image's pages are written).
    Kept,
    /// A prepared process is about to be rebuilt again: its mappings go.
    Unmapping,
}

/// Where the page data of a whole image is: apart from it (`store`) or in it.
fn page_data_of(store: Option<&PageStore>) -> PageData<'static> {
    store.map_or(PageData::InFile, |p| PageData::Apart(p.pages_left()))
}

/// Reads and checks the image `image` and the files it names, as a
/// restart would, changing nothing.
pub(crate) fn check(image: &File, reply: &mut CtlReply) -> Result {
    let (is_root, uid) = task::caller_identity();
    plan(image, reply, is_root, uid, true, None, false, PageData::InFile).map(|_| ())
}

/// Restores the image `image` into the calling process. On success the
/// registers are the saved ones (rax is set on the way out, see
/// `task::set_ax_on_return`); nothing must be written to user memory
/// afterwards.
///
/// `forward` makes stand-ins for the pipes and terminals on fds 0-2 (a
/// migration; otherwise the caller's own stay); `preload` is given for a
/// migration only (its image is in the module's own memory): it writes
/// pages that came before the image (pre-copy) once the mappings exist;
/// `pages` is a migration's page data, split off its image as it came
/// (the image file holds the rest). `checked` runs once the
/// image passed every check, just before the point of no return; its error
/// ends the restore there, nothing changed.
///
/// `incoming` says how the image came (see [`Incoming`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn restore(
    image: &File,
    reply: &mut CtlReply,
    groups: &RestoreGroups,
    forward: Option<Forwarder<'_>>,
    preload: Option<Preload<'_>>,
    pages: Option<PageStore>,
    incoming: Incoming<'_>,
    checked: impl FnOnce() -> Result,
) -> Result<i64> {
    let (is_root, uid) = task::caller_identity();
    let tgid = task::task_state()?.tgid;
    let page_data = match (incoming, pages.as_ref()) {
        (Incoming::Arriving(a), _) => PageData::Arriving(a),
        (_, store) => page_data_of(store),
    };
    let t_start = task::mono_ns();
    let mut plan = match plan(image, reply, is_root, uid, false, forward, preload.is_some(), page_data) {
        Ok(p) => p,
        Err(e) => {
            groups.abort(tgid);
            return Err(e);
        }
    };
    // The other threads of the image are threads of this process, waiting
    // in the module; nothing else may run in it while it is replaced.
    let others = plan.threads.len().saturating_sub(1);
    if others > 0 {
        groups
            .wait_joined(tgid, others)
            .map_err(|e| fail(reply, e, format_args!("the {others} other threads of the restart did not come in")))?;
    }
    let nr_threads = task::task_state()?.nr_threads as usize;
    if nr_threads != others + 1 {
        groups.abort(tgid);
        return Err(fail(
            reply,
            EINVAL,
            format_args!("the restarting process has {nr_threads} threads, the image {}", others + 1),
        ));
    }
    let t_checked = task::mono_ns();
    let migration = preload.is_some();
    let us = |a: u64, b: u64| b.saturating_sub(a) / 1000;
    let rebuilt = match incoming {
        Incoming::Arriving(arriving) => {
            // Rebuilt while the pages come; it runs once handed over (a
            // failure after the rebuild began kills the restarting
            // process: the source, which has not handed the process over,
            // lets it go on there).
            let streamed = || -> Result<i64> {
                rebuild_structure(image, &mut plan, reply, true, preload, pages, Some(arriving))?;
                let t_built = task::mono_ns();
                checked()
                    .map_err(|e| fail(reply, e, format_args!("the migration was given up before the process ran here")))?;
                let t_go = task::mono_ns();
                let ax = apply_state(&plan)?;
                pr_info!(
                    "pid {}: restored for a migration: checks {} us, rebuilt as its image came in {} us, waited for the hand-over {} us, resumed in {} us\n",
                    tgid,
                    us(t_start, t_checked),
                    us(t_checked, t_built),
                    us(t_built, t_go),
                    us(t_go, task::mono_ns())
                );
                Ok(ax)
            };
            streamed()
        }
        Incoming::Whole => {
            if let Err(e) = checked() {
                groups.abort(tgid);
                return Err(fail(reply, e, format_args!("the migration was given up before the process ran here")));
            }
            let t_go = task::mono_ns();
            let r = rebuild(image, &mut plan, reply, preload, pages);
            if r.is_ok() && migration {
                // The rebuild is part of a migration's freeze (the source
                // counts up to `MigrateGo`).
                pr_info!(
                    "pid {}: restored for a migration: checks {} us, waited for the hand-over {} us, rebuilt in {} us\n",
                    tgid,
                    us(t_start, t_checked),
                    us(t_checked, t_go),
                    us(t_go, task::mono_ns())
                );
            }
            r
        }
        Incoming::Prepared { wait_final, memory_before } => {
            let prepared = || -> Result<i64> {
                // The memory that comes later is registered once the
                // structure is final: the rebuild again of a changed one
                // must not unmap registered ranges (the page server would
                // take that for the process discarding them).
                rebuild_structure(image, &mut plan, reply, true, None, pages, None)?;
                let t_built = task::mono_ns();
                let (last, last_pages) = wait_final()
                    .map_err(|e| fail(reply, e, format_args!("the migration was given up before its final state came")))?;
                let t_final = task::mono_ns();
                let same = same_structure(image, &last, !memory_before, reply)?;
                if same {
                    if let Some(settle) = preload {
                        settle(MemoryStep::Kept).map_err(|e| {
                            fail(reply, e, format_args!("cannot settle the memory (pre-copied, or coming later)"))
                        })?;
                    }
                    take_final_state(&last, &mut plan, reply, last_pages)?;
                } else {
                    let page_data = page_data_of(last_pages.as_ref());
                    plan = self::plan(&last, reply, is_root, uid, false, forward, true, page_data)?;
                    if plan.threads.len() != others + 1 {
                        return Err(fail(
                            reply,
                            EINVAL,
                            format_args!("the process started or ended a thread while it migrated"),
                        ));
                    }
                    if let Some(save) = preload {
                        save(MemoryStep::Unmapping)
                            .map_err(|e| fail(reply, e, format_args!("cannot save the pre-copied pages")))?;
                    }
                    rebuild_structure(&last, &mut plan, reply, true, preload, last_pages, None)?;
                }
                let t_applied = task::mono_ns();
                checked()
                    .map_err(|e| fail(reply, e, format_args!("the migration was given up before the process ran here")))?;
                let t_go = task::mono_ns();
                let ax = apply_state(&plan)?;
                // From the final state on it is the migration's freeze.
                pr_info!(
                    "pid {}: restored for a migration: checks {} us, rebuilt ahead in {} us, waited for the final state {} us, {} in {} us, waited for the hand-over {} us, resumed in {} us\n",
                    tgid,
                    us(t_start, t_checked),
                    us(t_checked, t_built),
                    us(t_built, t_final),
                    if same { "took its state" } else { "its structure changed: rebuilt again" },
                    us(t_final, t_applied),
                    us(t_applied, t_go),
                    us(t_go, task::mono_ns())
                );
                Ok(ax)
            };
            prepared()
        }
    };
    match rebuilt {
        Ok(ax) => {
            if others > 0 {
                let threads = core::mem::replace(&mut plan.threads, KVec::new());
                match Arc::new(ThreadPlans { threads }, GFP_KERNEL) {
                    Ok(plans) => groups.release(tgid, plans),
                    Err(_) => {
                        groups.abort(tgid);
                        task::kill_current();
                        return Err(ENOMEM);
                    }
                }
            }
            Ok(ax)
        }
        Err(e) => {
            groups.abort(tgid);
            if reply.message().is_empty() {
                say(reply, format_args!("error {}", e.to_errno()));
            }
            pr_err!("restart failed after the point of no return ({}): process killed\n", reply.message());
            task::kill_current();
            Err(e)
        }
    }
}
