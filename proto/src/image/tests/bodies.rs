//! Tests of the section bodies: round trips, largest bodies, refusal of
//! invalid ones, and decoding arbitrary bytes without panicking.

extern crate std;
use super::super::super::le::Writer;
use super::super::codec::path_len;
use super::super::*;
use super::gen::*;
use super::parse::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// Encodes a body, checks the length and that decoding gives it back
/// and re-encodes to the same bytes. Returns the bytes.
fn round_trip(s: &Section<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; s.encoded_len()];
    let n = s.encode(&mut buf).unwrap();
    assert_eq!(n, s.encoded_len());
    assert!(n <= s.kind().max_body_len() as usize);
    let d = Section::decode(s.kind(), &buf).unwrap();
    assert_eq!(&d, s);
    let mut again = vec![0u8; n];
    assert_eq!(d.encode(&mut again), Ok(n));
    assert_eq!(again, buf);
    // A buffer one byte short is refused.
    if n > 0 {
        assert_eq!(s.encode(&mut buf[..n - 1]), Err(ImageError::BufferTooSmall));
    }
    buf
}

proptest! {
    #[test]
    fn a_zero_page_is_one_without_a_nonzero_byte(len in 0usize..9000, at in any::<usize>(), byte in 1u8..) {
        let mut page = vec![0u8; len];
        prop_assert!(is_zero_page(&page));
        if len > 0 {
            page[at % len] = byte;
            prop_assert!(!is_zero_page(&page));
        }
    }
}

#[test]
fn every_body_but_page_data_fits_the_description_limit() {
    use SectionKind::*;
    for kind in [Process, Thread, Signals, Mm, Vma, File, Parent, End] {
        assert!(kind.max_body_len() <= MAX_DESCRIPTION_BODY, "{kind}");
    }
    assert!(PagesBody::PREFIX_LEN as u32 <= MAX_DESCRIPTION_BODY);
    const { assert!(MAX_DESCRIPTION_BODY < MAX_SECTION_BODY) };
}

#[test]
fn largest_bodies_reach_their_kind_limit() {
    let long = |c: u8| {
        let mut p = vec![c; MAX_PATH];
        p[0] = b'/';
        p
    };
    let (p1, p2, p3) = (long(b'a'), long(b'b'), long(b'c'));
    let groups = [7u32; MAX_GROUPS];
    let process = ProcessBody {
        pid: 1,
        tgid: 1,
        nr_threads: MAX_THREADS,
        groups: RecordList::Items(&groups),
        exe: FileRef {
            path: &p1,
            ..FileRef::default()
        },
        cwd: &p2,
        root: &p3,
        ..ProcessBody::default()
    };
    let infos = [SigInfo({
        let mut s = [0u8; SIGINFO_LEN];
        s[0] = 9;
        s
    }); MAX_PENDING_SIGNALS];
    let xstate = [0u8; MAX_XSTATE];
    let thread = ThreadBody {
        tid: 1,
        pending: RecordList::Items(&infos),
        xstate: &xstate,
        ..ThreadBody::default()
    };
    let actions = [SigAction::default(); NSIG];
    let signals = SignalsBody {
        handlers: RecordList::Items(&actions),
        pending: RecordList::Items(&infos),
    };
    let auxv = [0u64; MAX_AUXV_WORDS];
    let mm = MmBody {
        nr_vmas: MAX_VMAS,
        auxv: RecordList::Items(&auxv),
        ..MmBody::default()
    };
    let file_ref = FileRef {
        path: &p1,
        ..FileRef::default()
    };
    let vma = VmaBody {
        start: 0,
        end: PAGE_SIZE as u64,
        pgoff: 0,
        vm_flags: 0,
        prot: KNOWN_PROT,
        map_flags: MAP_SHARED,
        kind: VmaKind::FileShared,
        file: Some(file_ref),
    };
    let data = vec![0u8; MAX_PAGES_PER_SECTION as usize * PAGE_SIZE];
    let pages = PagesBody {
        start: 0,
        data: &data,
    };
    let file = FileBody {
        fd: MAX_FDS - 1,
        open_flags: 0,
        pos: 0,
        cloexec: true,
        target: FileTarget::Regular(file_ref),
    };
    let parent = ParentBody {
        parent_id: 1,
        path: &p1,
    };
    let all = [
        Section::Process(process),
        Section::Thread(thread),
        Section::Signals(signals),
        Section::Mm(mm),
        Section::Vma(vma),
        Section::Pages(pages),
        Section::File(file),
        Section::Parent(parent),
        Section::End(EndBody::default()),
    ];
    for s in &all {
        let bytes = round_trip(s);
        assert_eq!(
            bytes.len(),
            s.kind().max_body_len() as usize,
            "{:?}",
            s.kind()
        );
    }
}

proptest! {
    #[test]
    fn every_body_round_trips(seed in any::<u64>()) {
        let mut g = Gen::new(seed, false);
        let m = gen_any(&mut g);
        let s = m.view();
        let bytes = round_trip(&s);
        // Every truncation is refused (sampled for long bodies), and so
        // is one byte too many.
        let cuts = (0..bytes.len().min(400))
            .chain((0..32).map(|_| g.below(bytes.len() as u64) as usize));
        for n in cuts {
            prop_assert!(Section::decode(s.kind(), &bytes[..n]).is_err(), "cut at {}", n);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(Section::decode(s.kind(), &longer).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        for kind in SectionKind::ALL {
            if let Ok(s) = Section::decode(kind, &bytes) {
                // What decodes is canonical: it re-encodes to the input.
                let mut out = vec![0u8; bytes.len()];
                prop_assert_eq!(s.encode(&mut out), Ok(bytes.len()));
                prop_assert_eq!(&out, &bytes);
            }
        }
        let _ = SectionHeader::decode(&bytes);
        let _ = ImageHeader::decode(&bytes);
        let _ = parse_image(&bytes);
    }

    /// Bodies of each kind with a valid start and random rest.
    #[test]
    fn mutated_bodies_never_panic(seed in any::<u64>(), pos in any::<prop::sample::Index>(), val in any::<u8>()) {
        let m = gen_any(&mut Gen::new(seed, true));
        let s = m.view();
        let mut bytes = vec![0u8; s.encoded_len()];
        s.encode(&mut bytes).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = val;
        if let Ok(d) = Section::decode(s.kind(), &bytes) {
            let mut out = vec![0u8; bytes.len()];
            prop_assert_eq!(d.encode(&mut out), Ok(bytes.len()));
            prop_assert_eq!(out, bytes);
        }
    }
}

/// Decoding `bytes` as `kind` fails with `err`.
fn refused(kind: SectionKind, bytes: &[u8], err: ImageError) {
    assert_eq!(Section::decode(kind, bytes), Err(err), "{kind:?}");
}

/// Encodes `s` without validating it (to build invalid bytes); `None`
/// if even that is impossible (paths are always checked).
fn try_raw_bytes(s: &Section<'_>) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; s.encoded_len()];
    if let Section::End(b) = s {
        b.encode(&mut buf).ok()?;
        return Some(buf);
    }
    let mut w = Writer::new(&mut buf);
    match s {
        Section::Process(b) => b.write_to(&mut w),
        Section::Thread(b) => b.write_to(&mut w),
        Section::Signals(b) => b.write_to(&mut w),
        Section::Mm(b) => b.write_to(&mut w),
        Section::Vma(b) => b.write_to(&mut w),
        Section::Pages(b) => b.write_to(&mut w),
        Section::File(b) => b.write_to(&mut w),
        Section::Parent(b) => b.write_to(&mut w),
        Section::End(_) => Ok(()),
    }
    .ok()?;
    Some(buf)
}

fn raw_bytes(s: &Section<'_>) -> Vec<u8> {
    try_raw_bytes(s).unwrap()
}

/// `s` (invalid) is refused by encode and, written anyway, by decode,
/// with `err`.
fn invalid(s: Section<'_>, err: ImageError) {
    let mut buf = vec![0u8; s.encoded_len() + 16];
    assert_eq!(s.encode(&mut buf), Err(err), "encode {s:?}");
    if let Some(raw) = try_raw_bytes(&s) {
        refused(s.kind(), &raw, err);
    }
}

#[test]
fn invalid_bodies_are_refused() {
    let m = gen_process(&mut Gen::new(1, true), 5, 6, 2);
    let Section::Process(p) = m.view() else {
        unreachable!()
    };
    macro_rules! proc_with {
        (|$x:ident| $change:expr) => {{
            let mut $x = p;
            $change;
            Section::Process($x)
        }};
    }
    invalid(proc_with!(|q| q.pid = 0), ImageError::InvalidValue);
    invalid(proc_with!(|q| q.nr_threads = 0), ImageError::InvalidValue);
    invalid(
        proc_with!(|q| q.nr_threads = MAX_THREADS + 1),
        ImageError::CountTooLarge,
    );
    invalid(proc_with!(|q| q.umask = 0o1000), ImageError::InvalidValue);
    invalid(proc_with!(|q| q.exit_signal = 65), ImageError::InvalidValue);
    invalid(
        proc_with!(|q| q.pdeath_signal = 65),
        ImageError::InvalidValue,
    );
    invalid(
        proc_with!(|q| q.rlimits[3] = Rlimit { cur: 2, max: 1 }),
        ImageError::InvalidValue,
    );
    invalid(proc_with!(|q| q.cwd = b"relative"), ImageError::InvalidPath);
    invalid(proc_with!(|q| q.root = b"/a\0b"), ImageError::InvalidPath);
    invalid(proc_with!(|q| q.exe.path = b""), ImageError::InvalidPath);
    invalid(
        proc_with!(|q| q.exe.mtime_nsec = 1_000_000_000),
        ImageError::InvalidValue,
    );
    let many = [0u32; MAX_GROUPS + 1];
    invalid(
        proc_with!(|q| q.groups = RecordList::Items(&many)),
        ImageError::CountTooLarge,
    );
    // no_new_privs byte 2.
    let mut b = raw_bytes(&Section::Process(p));
    b[444] = 2;
    refused(SectionKind::Process, &b, ImageError::InvalidValue);
    // A path length over MAX_PATH is refused before it is read.
    let mut b = raw_bytes(&Section::Process(p));
    // The body ends with cwd, root and the 8 bytes of start_ns.
    let cwd_len_at = b.len() - 8 - path_len(p.root) - path_len(p.cwd);
    b[cwd_len_at..cwd_len_at + 2].copy_from_slice(&(MAX_PATH as u16 + 1).to_le_bytes());
    refused(SectionKind::Process, &b, ImageError::InvalidPath);
    b[cwd_len_at..cwd_len_at + 2].copy_from_slice(&0u16.to_le_bytes());
    refused(SectionKind::Process, &b, ImageError::InvalidPath);
    // Relative paths and NULs are refused by decode too.
    let q = ProcessBody { cwd: b"/ab", ..p };
    let good = raw_bytes(&Section::Process(q));
    let cwd_at = good.len() - 8 - path_len(q.root) - 3;
    for (patch, at) in [(b'x', cwd_at), (0, cwd_at + 1)] {
        let mut b = good.clone();
        b[at] = patch;
        refused(SectionKind::Process, &b, ImageError::InvalidPath);
    }
    // A group count over the limit is refused before it is read.
    let mut b = raw_bytes(&Section::Process(p));
    b[445..449].copy_from_slice(&(MAX_GROUPS as u32 + 1).to_le_bytes());
    refused(SectionKind::Process, &b, ImageError::CountTooLarge);
    // A path longer than MAX_PATH cannot be encoded.
    let too_long = vec![b'/'; MAX_PATH + 1];
    invalid(
        proc_with!(|q| q.cwd = &too_long[..]),
        ImageError::InvalidPath,
    );

    let thread = ThreadBody {
        tid: 1,
        ..ThreadBody::default()
    };
    macro_rules! thread_with {
        (|$x:ident| $change:expr) => {{
            let mut $x = thread;
            $change;
            Section::Thread($x)
        }};
    }
    invalid(thread_with!(|t| t.tid = 0), ImageError::InvalidValue);
    invalid(
        thread_with!(|t| t.index = MAX_THREADS),
        ImageError::InvalidValue,
    );
    invalid(
        thread_with!(|t| t.altstack.flags = 4),
        ImageError::InvalidFlags,
    );
    let big_xstate = vec![0u8; MAX_XSTATE + 1];
    invalid(
        thread_with!(|t| t.xstate = &big_xstate[..]),
        ImageError::CountTooLarge,
    );
    for bad_signo in [0i32, -1, NSIG as i32 + 1] {
        let mut info = SigInfo::default();
        info.0[..4].copy_from_slice(&bad_signo.to_le_bytes());
        let infos = [info];
        invalid(
            thread_with!(|t| t.pending = RecordList::Items(&infos)),
            ImageError::InvalidValue,
        );
    }
    let infos = [SigInfo({
        let mut s = [0u8; SIGINFO_LEN];
        s[0] = 1;
        s
    }); MAX_PENDING_SIGNALS + 1];
    invalid(
        thread_with!(|t| t.pending = RecordList::Items(&infos)),
        ImageError::CountTooLarge,
    );
    let odd = [0u8; SIGINFO_LEN + 1];
    assert_eq!(
        thread_with!(|t| t.pending = RecordList::Encoded(&odd)).encode(&mut [0u8; 1024]),
        Err(ImageError::InvalidValue)
    );

    let actions = [SigAction::default(); NSIG];
    let short = Section::Signals(SignalsBody {
        handlers: RecordList::Items(&actions[..NSIG - 1]),
        pending: RecordList::default(),
    });
    assert_eq!(
        short.encode(&mut [0u8; 4096]),
        Err(ImageError::InvalidValue)
    );
    // Decoded, 63 handlers leave the body short.
    refused(
        SectionKind::Signals,
        &raw_bytes(&short),
        ImageError::Truncated,
    );

    let mm = MmBody::default();
    macro_rules! mm_with {
        (|$x:ident| $change:expr) => {{
            let mut $x = mm;
            $change;
            Section::Mm($x)
        }};
    }
    invalid(mm_with!(|x| x.start_code = 1), ImageError::InvalidRange);
    invalid(mm_with!(|x| x.start_brk = 1), ImageError::InvalidRange);
    invalid(mm_with!(|x| x.env_start = 1), ImageError::InvalidRange);
    invalid(
        mm_with!(|x| x.nr_vmas = MAX_VMAS + 1),
        ImageError::CountTooLarge,
    );
    let odd_auxv = [1u64; 3];
    invalid(
        mm_with!(|x| x.auxv = RecordList::Items(&odd_auxv)),
        ImageError::InvalidValue,
    );
    let long_auxv = [1u64; MAX_AUXV_WORDS + 2];
    invalid(
        mm_with!(|x| x.auxv = RecordList::Items(&long_auxv)),
        ImageError::CountTooLarge,
    );

    let vma = VmaBody {
        start: 0x1000,
        end: 0x3000,
        pgoff: 0,
        vm_flags: 0,
        prot: PROT_READ,
        map_flags: MAP_PRIVATE,
        kind: VmaKind::Anon,
        file: None,
    };
    macro_rules! vma_with {
        (|$x:ident| $change:expr) => {{
            let mut $x = vma;
            $change;
            Section::Vma($x)
        }};
    }
    invalid(vma_with!(|v| v.start = 0x1001), ImageError::Misaligned);
    invalid(vma_with!(|v| v.end = 0x3001), ImageError::Misaligned);
    invalid(vma_with!(|v| v.end = 0x1000), ImageError::InvalidRange);
    invalid(vma_with!(|v| v.start = 0x4000), ImageError::InvalidRange);
    invalid(
        vma_with!(|v| v.pgoff = u64::MAX - 1),
        ImageError::InvalidRange,
    );
    invalid(
        vma_with!(|v| v.pgoff = u64::MAX / 4096),
        ImageError::InvalidRange,
    );
    invalid(vma_with!(|v| v.prot = 8), ImageError::InvalidFlags);
    invalid(
        vma_with!(|v| v.map_flags = MAP_SHARED),
        ImageError::InvalidFlags,
    );
    invalid(
        vma_with!(|v| v.map_flags = MAP_SHARED | MAP_PRIVATE),
        ImageError::InvalidFlags,
    );
    invalid(vma_with!(|v| v.map_flags = 0), ImageError::InvalidFlags);
    invalid(
        vma_with!(|v| v.map_flags = MAP_PRIVATE | 0x20),
        ImageError::InvalidFlags,
    );
    invalid(
        vma_with!(|v| v.kind = VmaKind::AnonShared),
        ImageError::InvalidFlags,
    );
    let f = FileRef {
        path: b"/lib/x.so",
        ..FileRef::default()
    };
    let anon_with_file = vma_with!(|v| v.file = Some(f));
    assert_eq!(
        anon_with_file.encode(&mut [0u8; 256]),
        Err(ImageError::InvalidValue)
    );
    // Decoded, an anonymous kind has no file: its bytes are left over.
    refused(
        SectionKind::Vma,
        &raw_bytes(&anon_with_file),
        ImageError::TrailingBytes,
    );
    let mut b = raw_bytes(&Section::Vma(vma));
    b[40] = 0;
    refused(SectionKind::Vma, &b, ImageError::InvalidKind);
    b[40] = 10;
    refused(SectionKind::Vma, &b, ImageError::InvalidKind);
    // A file-backed kind without its file: the body is cut short.
    b[40] = VmaKind::FilePrivate.as_u8();
    refused(SectionKind::Vma, &b, ImageError::Truncated);
    assert_eq!(
        Section::Vma(VmaBody {
            kind: VmaKind::FilePrivate,
            ..vma
        })
        .encode(&mut [0u8; 128]),
        Err(ImageError::InvalidValue)
    );

    let page = [0u8; PAGE_SIZE];
    let pages = |start, data| Section::Pages(PagesBody { start, data });
    invalid(pages(0x1001, &page[..]), ImageError::Misaligned);
    invalid(pages(u64::MAX - 4095, &page[..]), ImageError::InvalidRange);
    invalid(pages(0, &[]), ImageError::InvalidValue);
    let mut b = raw_bytes(&pages(0x1000, &page[..]));
    b[12] = 1;
    refused(SectionKind::Pages, &b, ImageError::ReservedNotZero);
    b[12] = 0;
    b[8..12].copy_from_slice(&0u32.to_le_bytes());
    refused(SectionKind::Pages, &b, ImageError::InvalidValue);
    b[8..12].copy_from_slice(&(MAX_PAGES_PER_SECTION + 1).to_le_bytes());
    refused(SectionKind::Pages, &b, ImageError::CountTooLarge);
    b[8..12].copy_from_slice(&2u32.to_le_bytes());
    refused(SectionKind::Pages, &b, ImageError::Truncated);
    let too_many = vec![0u8; (MAX_PAGES_PER_SECTION as usize + 1) * PAGE_SIZE];
    invalid(pages(0, &too_many[..]), ImageError::CountTooLarge);
    assert_eq!(
        pages(0, &page[..100]).encode(&mut [0u8; 200]),
        Err(ImageError::InvalidValue)
    );

    let file = FileBody {
        fd: 3,
        open_flags: O_WRONLY,
        pos: 0,
        cloexec: false,
        target: FileTarget::PipeWrite { pipe_id: 9 },
    };
    macro_rules! file_with {
        (|$x:ident| $change:expr) => {{
            let mut $x = file;
            $change;
            Section::File($x)
        }};
    }
    invalid(file_with!(|x| x.fd = MAX_FDS), ImageError::InvalidValue);
    invalid(file_with!(|x| x.pos = 1 << 63), ImageError::InvalidValue);
    invalid(file_with!(|x| x.open_flags = 3), ImageError::InvalidFlags);
    invalid(
        file_with!(|x| x.open_flags = O_RDONLY),
        ImageError::InvalidFlags,
    );
    invalid(
        file_with!(|x| x.target = FileTarget::PipeRead { pipe_id: 9 }),
        ImageError::InvalidFlags,
    );
    invalid(
        file_with!(|x| x.target = FileTarget::PipeWrite { pipe_id: 0 }),
        ImageError::InvalidValue,
    );
    invalid(
        file_with!(|x| x.target = FileTarget::CharDev { major: 1, minor: 1 }),
        ImageError::InvalidValue,
    );
    invalid(
        file_with!(|x| x.target = FileTarget::Regular(FileRef::default())),
        ImageError::InvalidPath,
    );
    let mut b = raw_bytes(&Section::File(file));
    b[17] = 2;
    refused(SectionKind::File, &b, ImageError::InvalidValue);
    b[17] = 0;
    b[16] = 7;
    refused(SectionKind::File, &b, ImageError::InvalidKind);

    invalid(
        Section::Parent(ParentBody {
            parent_id: 0,
            path: b"/x",
        }),
        ImageError::BadImageId,
    );
    invalid(
        Section::Parent(ParentBody {
            parent_id: 1,
            path: b"x",
        }),
        ImageError::InvalidPath,
    );
}

#[test]
fn record_lists_compare_by_content() {
    let items = [1u32, 2, 3];
    let bytes = [1u8, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
    let a = RecordList::Items(&items[..]);
    let b = RecordList::<u32>::Encoded(&bytes);
    assert_eq!(a, b);
    assert_eq!(b.len(), 3);
    assert_eq!(b.get(2), Some(3));
    assert_eq!(b.get(3), None);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_ne!(a, RecordList::Items(&items[..2]));
    assert_ne!(b, RecordList::Encoded(&bytes[..11]));
    assert!(RecordList::<u64>::default().is_empty());
    let signals = SignalsBody::default();
    assert_eq!(signals.handler(0), None);
}
