//! Generators of valid values for the tests: a deterministic generator
//! driven by a proptest seed, a valid value of every body, whole images.

extern crate std;
use super::super::*;
use std::vec;
use std::vec::Vec;

/// Deterministic generator (splitmix64) driven by a proptest seed; its
/// values lean towards edges (0, MAX, small) to hit boundaries.
pub(super) struct Gen {
    pub(super) state: u64,
    /// Keep lists and paths tiny.
    pub(super) small: bool,
}

impl Gen {
    pub(super) fn new(seed: u64, small: bool) -> Gen {
        Gen { state: seed, small }
    }

    pub(super) fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(super) fn u64(&mut self) -> u64 {
        match self.below(8) {
            0 => 0,
            1 => u64::MAX,
            2 => self.below(256),
            _ => self.next(),
        }
    }

    pub(super) fn u32(&mut self) -> u32 {
        self.u64() as u32
    }

    pub(super) fn nonzero_u32(&mut self) -> u32 {
        self.u32().max(1)
    }

    pub(super) fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub(super) fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for b in a.iter_mut() {
            *b = self.next() as u8;
        }
        a
    }

    pub(super) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A list length in 0..=max: often small, sometimes the maximum.
    pub(super) fn count(&mut self, max: usize) -> usize {
        if self.small {
            return self.below(max.min(1) as u64 + 1) as usize;
        }
        match self.below(8) {
            0 => 0,
            1 => max,
            _ => self.below(max.min(4) as u64 + 1) as usize,
        }
    }

    /// A valid path: '/' then non-NUL bytes, sometimes MAX_PATH long.
    pub(super) fn path(&mut self) -> Vec<u8> {
        let len = if self.small {
            1 + self.below(8) as usize
        } else {
            match self.below(16) {
                0 => MAX_PATH,
                1 => 1,
                _ => 1 + self.below(40) as usize,
            }
        };
        let mut p = vec![b'/'];
        p.extend((1..len).map(|_| 1 + self.below(255) as u8));
        p
    }

    pub(super) fn siginfos(&mut self) -> Vec<SigInfo> {
        let n = self.count(MAX_PENDING_SIGNALS);
        (0..n)
            .map(|_| {
                let mut raw = self.array::<SIGINFO_LEN>();
                let signo = 1 + self.below(NSIG as u64) as i32;
                raw[..4].copy_from_slice(&signo.to_le_bytes());
                SigInfo(raw)
            })
            .collect()
    }

    pub(super) fn file_ref(&mut self) -> FileRef<'static> {
        FileRef {
            path: &[],
            size: self.u64(),
            mtime_sec: self.u64() as i64,
            mtime_nsec: self.below(1_000_000_000) as u32,
            ino: self.u64(),
        }
    }

    /// A page-aligned address below 2^47.
    pub(super) fn page_addr(&mut self) -> u64 {
        self.below(1 << 35) * PAGE_SIZE as u64
    }
}

/// Storage that a model's borrowed fields point into.
#[derive(Default)]
pub(super) struct Store {
    pub(super) u32s: Vec<u32>,
    pub(super) u64s: Vec<u64>,
    pub(super) infos: Vec<SigInfo>,
    pub(super) actions: Vec<SigAction>,
    pub(super) a: Vec<u8>,
    pub(super) b: Vec<u8>,
    pub(super) c: Vec<u8>,
}

/// An owned section: a template whose borrowed fields are filled from
/// `store` by `view`.
pub(super) struct Model {
    pub(super) template: Section<'static>,
    pub(super) store: Store,
}

impl Model {
    pub(super) fn view(&self) -> Section<'_> {
        let s = &self.store;
        match self.template {
            Section::Process(p) => Section::Process(ProcessBody {
                groups: RecordList::Items(&s.u32s),
                exe: FileRef {
                    path: &s.a,
                    ..p.exe
                },
                cwd: &s.b,
                root: &s.c,
                ..p
            }),
            Section::Thread(t) => Section::Thread(ThreadBody {
                pending: RecordList::Items(&s.infos),
                xstate: &s.a,
                ..t
            }),
            Section::Signals(_) => Section::Signals(SignalsBody {
                handlers: RecordList::Items(&s.actions),
                pending: RecordList::Items(&s.infos),
            }),
            Section::Mm(m) => Section::Mm(MmBody {
                auxv: RecordList::Items(&s.u64s),
                ..m
            }),
            Section::Vma(v) => Section::Vma(VmaBody {
                file: v.file.map(|f| FileRef { path: &s.a, ..f }),
                ..v
            }),
            Section::Pages(p) => Section::Pages(PagesBody { data: &s.a, ..p }),
            Section::File(f) => Section::File(FileBody {
                target: match f.target {
                    FileTarget::Regular(r) => FileTarget::Regular(FileRef { path: &s.a, ..r }),
                    FileTarget::Directory(r) => FileTarget::Directory(FileRef { path: &s.a, ..r }),
                    other => other,
                },
                ..f
            }),
            Section::Parent(p) => Section::Parent(ParentBody { path: &s.a, ..p }),
            Section::End(e) => Section::End(e),
        }
    }
}

pub(super) fn gen_process(g: &mut Gen, pid: u32, uid: u32, nr_threads: u32) -> Model {
    let mut rlimits = [Rlimit::default(); RLIM_NLIMITS];
    for l in rlimits.iter_mut() {
        let (x, y) = (g.u64(), g.u64());
        *l = Rlimit {
            cur: x.min(y),
            max: x.max(y),
        };
    }
    let mut timer = || Itimer {
        interval_ns: g.u64(),
        value_ns: g.u64(),
    };
    let itimers = Itimers {
        real: timer(),
        virt: timer(),
        prof: timer(),
    };
    let template = Section::Process(ProcessBody {
        pid,
        tgid: g.nonzero_u32(),
        global_pid: g.u64(),
        home_node: g.u32(),
        nr_threads,
        comm: g.array(),
        checkpoint_ns: g.u64(),
        creds: Creds {
            uid,
            euid: g.u32(),
            suid: g.u32(),
            fsuid: g.u32(),
            gid: g.u32(),
            egid: g.u32(),
            sgid: g.u32(),
            fsgid: g.u32(),
        },
        caps: Caps {
            inheritable: g.u64(),
            permitted: g.u64(),
            effective: g.u64(),
            bounding: g.u64(),
            ambient: g.u64(),
        },
        rlimits,
        itimers,
        securebits: g.u32(),
        personality: g.u32(),
        umask: g.below(0o1000) as u32,
        exit_signal: g.below(NSIG as u64 + 1) as u32,
        pdeath_signal: g.below(NSIG as u64 + 1) as u32,
        no_new_privs: g.bool(),
        groups: RecordList::default(),
        exe: g.file_ref(),
        cwd: &[],
        root: &[],
        start_ns: g.u64(),
    });
    let n = g.count(MAX_GROUPS);
    let store = Store {
        u32s: (0..n).map(|_| g.u32()).collect(),
        a: g.path(),
        b: g.path(),
        c: g.path(),
        ..Store::default()
    };
    Model { template, store }
}

pub(super) fn gen_thread(g: &mut Gen, index: u32) -> Model {
    let mut regs = [0u64; NR_REGS];
    for r in regs.iter_mut() {
        *r = g.u64();
    }
    let template = Section::Thread(ThreadBody {
        tid: g.nonzero_u32(),
        index,
        comm: g.array(),
        regs,
        sigmask: g.u64(),
        clear_child_tid: g.u64(),
        robust_list_head: g.u64(),
        robust_list_len: g.u64(),
        rseq: Rseq {
            addr: g.u64(),
            len: g.u32(),
            sig: g.u32(),
        },
        altstack: AltStack {
            sp: g.u64(),
            size: g.u64(),
            flags: g.u32() & KNOWN_ALTSTACK_FLAGS,
        },
        pending: RecordList::default(),
        xstate: &[],
    });
    let infos = g.siginfos();
    let xlen = g.count(MAX_XSTATE);
    let store = Store {
        infos,
        a: g.bytes(xlen),
        ..Store::default()
    };
    Model { template, store }
}

pub(super) fn gen_signals(g: &mut Gen) -> Model {
    let actions = (0..NSIG)
        .map(|_| SigAction {
            handler: g.u64(),
            flags: g.u64(),
            restorer: g.u64(),
            mask: g.u64(),
        })
        .collect();
    let infos = g.siginfos();
    Model {
        template: Section::Signals(SignalsBody::default()),
        store: Store {
            actions,
            infos,
            ..Store::default()
        },
    }
}

pub(super) fn gen_mm(g: &mut Gen, nr_vmas: u32) -> Model {
    let mut range = || {
        let (x, y) = (g.u64(), g.u64());
        (x.min(y), x.max(y))
    };
    let (start_code, end_code) = range();
    let (start_data, end_data) = range();
    let (start_brk, brk) = range();
    let (arg_start, arg_end) = range();
    let (env_start, env_end) = range();
    let template = Section::Mm(MmBody {
        start_code,
        end_code,
        start_data,
        end_data,
        start_brk,
        brk,
        start_stack: g.u64(),
        arg_start,
        arg_end,
        env_start,
        env_end,
        nr_vmas,
        auxv: RecordList::default(),
    });
    let pairs = g.count(MAX_AUXV_WORDS / 2);
    let store = Store {
        u64s: (0..pairs * 2).map(|_| g.u64()).collect(),
        ..Store::default()
    };
    Model { template, store }
}

pub(super) const VMA_KINDS: [VmaKind; 9] = [
    VmaKind::Anon,
    VmaKind::AnonShared,
    VmaKind::FilePrivate,
    VmaKind::FileShared,
    VmaKind::Heap,
    VmaKind::Stack,
    VmaKind::Vdso,
    VmaKind::Vvar,
    VmaKind::Vsyscall,
];

pub(super) fn gen_vma(g: &mut Gen, start: u64, end: u64) -> Model {
    let kind = VMA_KINDS[g.below(9) as usize];
    let sharing = if kind.is_shared() {
        MAP_SHARED
    } else {
        MAP_PRIVATE
    };
    let template = Section::Vma(VmaBody {
        start,
        end,
        pgoff: g.below(1 << 40),
        vm_flags: g.u64(),
        prot: g.u32() & KNOWN_PROT,
        map_flags: sharing | (g.u32() & (MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE)),
        kind,
        file: kind.has_file().then(|| g.file_ref()),
    });
    let store = Store {
        a: g.path(),
        ..Store::default()
    };
    Model { template, store }
}

pub(super) fn gen_pages(g: &mut Gen, start: u64, npages: u32) -> Model {
    Model {
        template: Section::Pages(PagesBody { start, data: &[] }),
        store: Store {
            a: g.bytes(npages as usize * PAGE_SIZE),
            ..Store::default()
        },
    }
}

pub(super) fn gen_file(g: &mut Gen, fd: u32) -> Model {
    let kind = FileKind::from_u8(1 + g.below(6) as u8).unwrap();
    let other_flags = g.u32() & !O_ACCMODE;
    let (access, target) = match kind {
        FileKind::Regular => (g.below(3) as u32, FileTarget::Regular(g.file_ref())),
        FileKind::Directory => (O_RDONLY, FileTarget::Directory(g.file_ref())),
        FileKind::CharDev => {
            let (major, minor) = ALLOWED_CHAR_DEVICES[g.below(5) as usize];
            (g.below(3) as u32, FileTarget::CharDev { major, minor })
        }
        FileKind::Tty => (
            g.below(3) as u32,
            FileTarget::Tty {
                termios: g.array(),
                winsize: g.array(),
            },
        ),
        FileKind::PipeRead => (
            O_RDONLY,
            FileTarget::PipeRead {
                pipe_id: g.nonzero_u32().into(),
            },
        ),
        FileKind::PipeWrite => (
            O_WRONLY,
            FileTarget::PipeWrite {
                pipe_id: g.u64().max(1),
            },
        ),
    };
    let template = Section::File(FileBody {
        fd,
        open_flags: access | other_flags,
        pos: g.u64() >> 1,
        cloexec: g.bool(),
        target,
    });
    let store = Store {
        a: g.path(),
        ..Store::default()
    };
    Model { template, store }
}

pub(super) fn gen_parent(g: &mut Gen, parent_id: u64) -> Model {
    Model {
        template: Section::Parent(ParentBody {
            parent_id,
            path: &[],
        }),
        store: Store {
            a: g.path(),
            ..Store::default()
        },
    }
}

/// Any valid body, of any kind.
pub(super) fn gen_any(g: &mut Gen) -> Model {
    match g.below(9) {
        0 => {
            let (pid, uid) = (g.nonzero_u32(), g.u32());
            let n = 1 + g.below(u64::from(MAX_THREADS)) as u32;
            gen_process(g, pid, uid, n)
        }
        1 => {
            let index = g.below(u64::from(MAX_THREADS)) as u32;
            gen_thread(g, index)
        }
        2 => gen_signals(g),
        3 => {
            let n = g.below(u64::from(MAX_VMAS) + 1) as u32;
            gen_mm(g, n)
        }
        4 => {
            let start = g.page_addr();
            let end = start + (1 + g.below(1 << 20)) * PAGE_SIZE as u64;
            gen_vma(g, start, end)
        }
        5 => {
            let n = if g.below(8) == 0 {
                MAX_PAGES_PER_SECTION
            } else {
                1 + g.below(3) as u32
            };
            let start = g.page_addr();
            gen_pages(g, start, n)
        }
        6 => {
            let fd = g.below(u64::from(MAX_FDS)) as u32;
            gen_file(g, fd)
        }
        7 => {
            let id = g.u64().max(1);
            gen_parent(g, id)
        }
        _ => Model {
            template: Section::End(EndBody {
                section_count: g.u32(),
                total_pages: g.u64(),
            }),
            store: Store::default(),
        },
    }
}

pub(super) struct ImageModel {
    pub(super) header: ImageHeader,
    /// Every section but End.
    pub(super) sections: Vec<Model>,
}

/// A valid image. `small`: every kind of section once, tiny bodies.
pub(super) fn gen_image(g: &mut Gen, small: bool) -> ImageModel {
    let incremental = small || g.bool();
    let image_id = g.next().max(2);
    let header = ImageHeader {
        flags: if incremental { FLAG_INCREMENTAL } else { 0 },
        image_id,
        parent_id: if incremental { image_id - 1 } else { 0 },
        created_ns: g.u64(),
        source_node: g.u32(),
        pid: g.nonzero_u32(),
        uid: g.u32(),
        arch: ARCH_X86_64,
    };
    let pick = |g: &mut Gen, max: u64| if small { 1 } else { g.below(max + 1) };
    let nr_threads = if small { 1 } else { 1 + g.below(3) as u32 };
    let nr_vmas = pick(g, 3) as u32;
    let mut sections = vec![gen_process(g, header.pid, header.uid, nr_threads)];
    if incremental {
        sections.push(gen_parent(g, header.parent_id));
    }
    sections.push(gen_signals(g));
    sections.push(gen_mm(g, nr_vmas));
    let mut addr = g.page_addr();
    for _ in 0..nr_vmas {
        let start = addr + g.below(3) * PAGE_SIZE as u64;
        let end = start + (1 + g.below(4)) * PAGE_SIZE as u64;
        sections.push(gen_vma(g, start, end));
        addr = end;
    }
    for index in 0..nr_threads {
        sections.push(gen_thread(g, index));
    }
    let mut fd = g.below(4) as u32;
    for _ in 0..pick(g, 3) {
        sections.push(gen_file(g, fd));
        fd += 1 + g.below(5) as u32;
    }
    let mut addr = g.page_addr();
    for _ in 0..pick(g, 3) {
        let start = addr + g.below(3) * PAGE_SIZE as u64;
        let npages = 1 + g.below(if small { 1 } else { 3 }) as u32;
        sections.push(gen_pages(g, start, npages));
        addr = start + u64::from(npages) * PAGE_SIZE as u64;
    }
    ImageModel { header, sections }
}

pub(super) fn encode_image(m: &ImageModel) -> Vec<u8> {
    let mut out = m.header.encode().unwrap().to_vec();
    let mut w = ImageWriter::new(&m.header).unwrap();
    let mut buf = vec![0u8; SECTION_HEADER_LEN + MAX_SECTION_BODY as usize];
    for s in &m.sections {
        let n = w.write_section(&s.view(), &mut buf).unwrap();
        out.extend_from_slice(&buf[..n]);
    }
    let n = w.write_end(&mut buf).unwrap();
    out.extend_from_slice(&buf[..n]);
    out
}

pub(super) fn image_from_seed(seed: u64) -> (ImageModel, Vec<u8>) {
    let m = gen_image(&mut Gen::new(seed, false), false);
    let bytes = encode_image(&m);
    (m, bytes)
}

pub(super) fn sample_header() -> ImageHeader {
    ImageHeader {
        flags: FLAG_INCREMENTAL,
        image_id: 0x1112_1314_1516_1718,
        parent_id: 0x2122_2324_2526_2728,
        created_ns: 0x3132_3334_3536_3738,
        source_node: 0x4142_4344,
        pid: 0x5152_5354,
        uid: 0x6162_6364,
        arch: ARCH_X86_64,
    }
}

/// Rewrites the header CRC after a change, so later checks are reached.
pub(super) fn fix_header_crc(b: &mut [u8]) {
    b[60..64].fill(0);
    let crc = crc32c(&b[..64]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
}
