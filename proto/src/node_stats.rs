//! Merged resources (issue 20): `NodeStats` asks a node for what its
//! `/proc/meminfo`, `/proc/stat`, `/proc/loadavg` and `/proc/cpuinfo` say;
//! the reply is one record ([`NodeStats`]) parsed from those texts
//! ([`encode`]). The renderers ([`write_meminfo`], [`write_stat`],
//! [`write_loadavg`], [`write_cpuinfo`]) write the cluster's files from the
//! records of every node, so `free`, `top` and `vmstat` describe the
//! cluster.
//!
//! Record layout (little-endian):
//!
//! ```text
//! off  len
//! 0    1    version = VERSION
//! 1    1    zero
//! 2    2    cpus: per-CPU entries at the end (<= MAX_CPUS)
//! 4    4    zero
//! 8    8    mem_present: bit i set if meminfo showed MEM_KEYS[i]
//! 16   8*M  the MEM_KEYS values (kB, or pages for HugePages_*)
//! ..   80   the `cpu` total line: 10 counters in USER_HZ ticks
//! ..   48   intr (total), ctxt, btime, processes, procs_running, procs_blocked
//! ..   88   softirq: total, then 10 counters
//! ..   24   loadavg: 3 x u32 hundredths, runnable u32, threads u32, last_pid u32
//! ..   T    the CPU_KEYS values of the first processor of /proc/cpuinfo,
//!           each in its own field: printable ASCII, then NUL padding
//! ..   80*cpus  one `cpuN` line each: 10 counters, in the node's order
//! ```

use super::le::{Reader, Writer};
use super::wire::WireError;
use core::fmt::{self, Write};

/// Version of the request and of the record.
pub const VERSION: u8 = 1;
/// Encoded length of a request: the version.
pub const REQUEST_LEN: usize = 1;
/// Most CPUs one node reports (`cpuN` lines past these are left out).
pub const MAX_CPUS: usize = 1024;
/// Counters of one `cpu` line: user nice system idle iowait irq softirq
/// steal guest guest_nice.
pub const CPU_FIELDS: usize = 10;
/// Encoded length of one `cpuN` entry.
pub const CPU_LEN: usize = CPU_FIELDS * 8;
/// Counters of the `softirq` line: the total, then one per softirq.
pub const SOFTIRQ_FIELDS: usize = 11;

/// How the cluster's value of a meminfo key is made from the nodes'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// The sum over nodes (an amount).
    Sum,
    /// This node's value (a size or a limit of the address space, not an
    /// amount: `VmallocTotal`, `Hugepagesize`).
    Own,
}

/// A key of `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemKey {
    /// Its name, without the colon.
    pub name: &'static str,
    /// Its value is in kB (shown with " kB"); otherwise a count.
    pub kb: bool,
    /// How nodes' values merge.
    pub merge: Merge,
}

const fn kb(name: &'static str) -> MemKey {
    MemKey {
        name,
        kb: true,
        merge: Merge::Sum,
    }
}

/// The keys of `/proc/meminfo` a record carries, in the kernel's order
/// (`fs/proc/meminfo.c`, `mm/hugetlb.c`, `arch/x86/mm/pat/set_memory.c`).
pub const MEM_KEYS: [MemKey; 62] = [
    kb("MemTotal"),
    kb("MemFree"),
    kb("MemAvailable"),
    kb("Buffers"),
    kb("Cached"),
    kb("SwapCached"),
    kb("Active"),
    kb("Inactive"),
    kb("Active(anon)"),
    kb("Inactive(anon)"),
    kb("Active(file)"),
    kb("Inactive(file)"),
    kb("Unevictable"),
    kb("Mlocked"),
    kb("HighTotal"),
    kb("HighFree"),
    kb("LowTotal"),
    kb("LowFree"),
    kb("MmapCopy"),
    kb("SwapTotal"),
    kb("SwapFree"),
    kb("Zswap"),
    kb("Zswapped"),
    kb("Dirty"),
    kb("Writeback"),
    kb("AnonPages"),
    kb("Mapped"),
    kb("Shmem"),
    kb("KReclaimable"),
    kb("Slab"),
    kb("SReclaimable"),
    kb("SUnreclaim"),
    kb("KernelStack"),
    kb("ShadowCallStack"),
    kb("PageTables"),
    kb("SecPageTables"),
    kb("NFS_Unstable"),
    kb("Bounce"),
    kb("WritebackTmp"),
    kb("CommitLimit"),
    kb("Committed_AS"),
    MemKey {
        name: "VmallocTotal",
        kb: true,
        merge: Merge::Own,
    },
    kb("VmallocUsed"),
    kb("VmallocChunk"),
    kb("Percpu"),
    kb("HardwareCorrupted"),
    kb("AnonHugePages"),
    kb("ShmemHugePages"),
    kb("ShmemPmdMapped"),
    kb("FileHugePages"),
    kb("FilePmdMapped"),
    kb("CmaTotal"),
    kb("CmaFree"),
    kb("Unaccepted"),
    MemKey {
        name: "HugePages_Total",
        kb: false,
        merge: Merge::Sum,
    },
    MemKey {
        name: "HugePages_Free",
        kb: false,
        merge: Merge::Sum,
    },
    MemKey {
        name: "HugePages_Rsvd",
        kb: false,
        merge: Merge::Sum,
    },
    MemKey {
        name: "HugePages_Surp",
        kb: false,
        merge: Merge::Sum,
    },
    MemKey {
        name: "Hugepagesize",
        kb: true,
        merge: Merge::Own,
    },
    kb("Hugetlb"),
    kb("DirectMap4k"),
    kb("DirectMap2M"),
];

/// A key of `/proc/cpuinfo` a record carries, from its first processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuKey {
    /// Its name.
    pub name: &'static str,
    /// Its name as the kernel shows it, tabs included, before ": ".
    pub shown: &'static str,
    /// Bytes the record keeps of its value (longer values are cut at a
    /// space: `flags` keeps the first flags that fit).
    pub len: usize,
    /// Shown before the per-node keys (`physical id`...), else after.
    pub head: bool,
}

const fn ck(name: &'static str, shown: &'static str, len: usize, head: bool) -> CpuKey {
    CpuKey {
        name,
        shown,
        len,
        head,
    }
}

/// The keys of `/proc/cpuinfo` a record carries (`arch/x86/kernel/cpu/
/// proc.c`), in the kernel's order.
pub const CPU_KEYS: [CpuKey; 18] = [
    ck("vendor_id", "vendor_id\t", 16, true),
    ck("cpu family", "cpu family\t", 8, true),
    ck("model", "model\t\t", 8, true),
    ck("model name", "model name\t", 64, true),
    ck("stepping", "stepping\t", 8, true),
    ck("microcode", "microcode\t", 16, true),
    ck("cpu MHz", "cpu MHz\t\t", 16, true),
    ck("cache size", "cache size\t", 16, true),
    ck("fpu", "fpu\t\t", 4, false),
    ck("fpu_exception", "fpu_exception\t", 4, false),
    ck("cpuid level", "cpuid level\t", 8, false),
    ck("wp", "wp\t\t", 4, false),
    ck("flags", "flags\t\t", 1024, false),
    ck("bugs", "bugs\t\t", 256, false),
    ck("bogomips", "bogomips\t", 16, false),
    ck("clflush size", "clflush size\t", 8, false),
    ck("cache_alignment", "cache_alignment\t", 8, false),
    ck("address sizes", "address sizes\t", 48, false),
];

const fn cpu_keys_len() -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < CPU_KEYS.len() {
        n += CPU_KEYS[i].len;
        i += 1;
    }
    n
}

const MEM_OFF: usize = 16;
const TOTAL_OFF: usize = MEM_OFF + MEM_KEYS.len() * 8;
const COUNTERS_OFF: usize = TOTAL_OFF + CPU_LEN;
const SOFTIRQ_OFF: usize = COUNTERS_OFF + 6 * 8;
const LOAD_OFF: usize = SOFTIRQ_OFF + SOFTIRQ_FIELDS * 8;
const CPUINFO_OFF: usize = LOAD_OFF + 6 * 4;
/// Encoded length of a record without its per-CPU entries.
pub const FIXED_LEN: usize = CPUINFO_OFF + cpu_keys_len();

// Every key has its bit; a record of the most CPUs fits well in a frame.
const _: () = assert!(MEM_KEYS.len() <= 64);
const _: () = assert!(FIXED_LEN + MAX_CPUS * CPU_LEN <= super::wire::MAX_BODY as usize / 4);

/// The counters of `/proc/stat` other than the CPUs'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// `intr`: interrupts serviced (the total only).
    pub intr: u64,
    /// `ctxt`: context switches.
    pub ctxt: u64,
    /// `btime`: boot time, seconds since the epoch.
    pub btime: u64,
    /// `processes`: forks since boot.
    pub processes: u64,
    /// `procs_running`: runnable tasks.
    pub procs_running: u64,
    /// `procs_blocked`: tasks waiting for I/O.
    pub procs_blocked: u64,
}

/// `/proc/loadavg` of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// The 1, 5 and 15 minute averages, in hundredths.
    pub avg: [u32; 3],
    /// Runnable tasks.
    pub runnable: u32,
    /// Tasks (threads) in all.
    pub threads: u32,
    /// The last pid given out.
    pub last_pid: u32,
}

/// Writes a `NodeStats` request into `out`; returns the bytes written.
pub fn encode_request(out: &mut [u8]) -> Result<usize, WireError> {
    let mut w = Writer::new(out);
    w.u8(VERSION)?;
    Ok(w.pos())
}

/// Checks a `NodeStats` request.
pub fn decode_request(body: &[u8]) -> Result<(), WireError> {
    let mut r = Reader::new(body);
    if r.u8()? != VERSION {
        return Err(WireError::BadVersion);
    }
    r.finish()?;
    Ok(())
}

/// The lines of `text`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
}

/// `s` without leading and trailing blanks.
fn trim(s: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_blank(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

/// The blank-separated words of `s`.
fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

/// A decimal number (saturating), or `None` if `w` is not one.
fn number(w: &[u8]) -> Option<u64> {
    if w.is_empty() || w.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in w {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(v)
}

/// A load average `12.34` in hundredths.
fn hundredths(w: &[u8]) -> Option<u32> {
    let dot = w.iter().position(|&b| b == b'.')?;
    let int = number(w.get(..dot)?)?;
    let frac = w.get(dot + 1..)?;
    if frac.len() != 2 {
        return None;
    }
    let v = int.saturating_mul(100).saturating_add(number(frac)?);
    Some(u32::try_from(v).unwrap_or(u32::MAX))
}

/// The first numbers of `words`, into `out` (0 where missing).
fn numbers<'a>(words: impl Iterator<Item = &'a [u8]>, out: &mut [u64]) {
    for (o, w) in out.iter_mut().zip(words) {
        *o = number(w).unwrap_or(0);
    }
}

/// Whether the first word of a `/proc/stat` line names a CPU (`cpu3`).
fn per_cpu(name: &[u8]) -> bool {
    name.len() > 3 && name.starts_with(b"cpu") && name[3..].iter().all(u8::is_ascii_digit)
}

/// How many `cpuN` entries the record of a node whose `/proc/stat` says
/// `stat` holds.
pub fn cpu_count(stat: &[u8]) -> usize {
    lines(stat)
        .filter(|l| words(l).next().is_some_and(per_cpu))
        .count()
        .min(MAX_CPUS)
}

/// The length of the record [`encode`] writes for a node whose
/// `/proc/stat` says `stat`.
pub fn encoded_len(stat: &[u8]) -> usize {
    FIXED_LEN + cpu_count(stat) * CPU_LEN
}

/// What a node's files say, as read from its `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    /// `/proc/meminfo`.
    pub meminfo: &'a [u8],
    /// `/proc/stat`.
    pub stat: &'a [u8],
    /// `/proc/loadavg`.
    pub loadavg: &'a [u8],
    /// `/proc/cpuinfo`.
    pub cpuinfo: &'a [u8],
}

/// Whether `b` may stand in a cpuinfo value.
fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

/// `value`, cut to at most `len` printable bytes (at the last space that
/// fits, if it must be cut).
fn cut(value: &[u8], len: usize) -> &[u8] {
    let value = match value.iter().position(|&b| !printable(b)) {
        Some(i) => value.get(..i).unwrap_or(&[]),
        None => value,
    };
    if value.len() <= len {
        return value;
    }
    let head = value.get(..len).unwrap_or(&[]);
    let keep = if value.get(len) == Some(&b' ') {
        len
    } else {
        head.iter().rposition(|&b| b == b' ').unwrap_or(len)
    };
    trim(head.get(..keep).unwrap_or(&[]))
}

/// Parses a node's files into its record, in `out` (at least
/// [`encoded_len`]`(texts.stat)` bytes); returns the bytes written.
/// Lines and keys it does not know are skipped; missing ones are 0.
pub fn encode(texts: &Texts<'_>, out: &mut [u8]) -> Result<usize, WireError> {
    let cpus = cpu_count(texts.stat);
    let mut mem = [0u64; MEM_KEYS.len()];
    let mut present = 0u64;
    for l in lines(texts.meminfo) {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&l[..colon]);
        let Some(i) = MEM_KEYS.iter().position(|k| k.name.as_bytes() == name) else {
            continue;
        };
        if let Some(v) = words(&l[colon + 1..]).next().and_then(number) {
            mem[i] = v;
            present |= 1 << i;
        }
    }
    let mut total = [0u64; CPU_FIELDS];
    let mut softirq = [0u64; SOFTIRQ_FIELDS];
    let mut c = Counters::default();
    for l in lines(texts.stat) {
        let mut ws = words(l);
        let Some(name) = ws.next() else { continue };
        let first = || words(l).nth(1).and_then(number).unwrap_or(0);
        match name {
            b"cpu" => numbers(ws, &mut total),
            b"intr" => c.intr = first(),
            b"ctxt" => c.ctxt = first(),
            b"btime" => c.btime = first(),
            b"processes" => c.processes = first(),
            b"procs_running" => c.procs_running = first(),
            b"procs_blocked" => c.procs_blocked = first(),
            b"softirq" => numbers(ws, &mut softirq),
            _ => {}
        }
    }
    let mut load = Load::default();
    if let Some(l) = lines(texts.loadavg).next() {
        let mut ws = words(l);
        for a in &mut load.avg {
            *a = ws.next().and_then(hundredths).unwrap_or(0);
        }
        if let Some(rt) = ws.next() {
            let mut parts = rt.split(|&b| b == b'/');
            let mut part = || {
                parts
                    .next()
                    .and_then(number)
                    .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX))
            };
            load.runnable = part();
            load.threads = part();
        }
        load.last_pid = ws
            .next()
            .and_then(number)
            .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
    }

    let mut w = Writer::new(out);
    w.u8(VERSION)?;
    w.u8(0)?;
    w.u16(cpus as u16)?;
    w.u32(0)?;
    w.u64(present)?;
    for v in mem {
        w.u64(v)?;
    }
    for v in total {
        w.u64(v)?;
    }
    for v in [
        c.intr,
        c.ctxt,
        c.btime,
        c.processes,
        c.procs_running,
        c.procs_blocked,
    ] {
        w.u64(v)?;
    }
    for v in softirq {
        w.u64(v)?;
    }
    for v in load.avg {
        w.u32(v)?;
    }
    w.u32(load.runnable)?;
    w.u32(load.threads)?;
    w.u32(load.last_pid)?;
    // The keys of the first processor (up to the first blank line).
    let block = || lines(texts.cpuinfo).take_while(|l| !trim(l).is_empty());
    for k in &CPU_KEYS {
        let value = block()
            .find_map(|l| {
                let colon = l.iter().position(|&b| b == b':')?;
                (trim(&l[..colon]) == k.name.as_bytes()).then(|| trim(&l[colon + 1..]))
            })
            .unwrap_or(&[]);
        let value = cut(value, k.len);
        let field = w.reserve(k.len)?;
        field.fill(0);
        for (d, s) in field.iter_mut().zip(value) {
            *d = *s;
        }
    }
    let mut left = cpus;
    for l in lines(texts.stat) {
        if left == 0 {
            break;
        }
        let mut ws = words(l);
        if !ws.next().is_some_and(per_cpu) {
            continue;
        }
        let mut v = [0u64; CPU_FIELDS];
        numbers(ws, &mut v);
        for x in v {
            w.u64(x)?;
        }
        left -= 1;
    }
    Ok(w.pos())
}

/// A node's record, checked: what its files said when it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats<'a> {
    body: &'a [u8],
}

impl<'a> NodeStats<'a> {
    /// Checks a record: its version, length, zero bytes, key bits and
    /// cpuinfo fields (printable ASCII, then only NUL bytes).
    pub fn decode(body: &'a [u8]) -> Result<NodeStats<'a>, WireError> {
        let mut r = Reader::new(body);
        if r.u8()? != VERSION {
            return Err(WireError::BadVersion);
        }
        let zero = r.u8()?;
        let cpus = usize::from(r.u16()?);
        let zero2 = r.u32()?;
        let present = r.u64()?;
        if zero != 0 || zero2 != 0 {
            return Err(WireError::BadReserved);
        }
        if cpus > MAX_CPUS || present >> MEM_KEYS.len() != 0 {
            return Err(WireError::InvalidValue);
        }
        if body.len() < FIXED_LEN + cpus * CPU_LEN {
            return Err(WireError::Truncated);
        }
        if body.len() > FIXED_LEN + cpus * CPU_LEN {
            return Err(WireError::TrailingBytes);
        }
        let mut off = CPUINFO_OFF;
        for k in &CPU_KEYS {
            let field = body.get(off..off + k.len).ok_or(WireError::Truncated)?;
            let n = field.iter().position(|&b| b == 0).unwrap_or(k.len);
            if !field[..n].iter().all(|&b| printable(b)) || field[n..].iter().any(|&b| b != 0) {
                return Err(WireError::InvalidValue);
            }
            off += k.len;
        }
        Ok(NodeStats { body })
    }

    fn u64_at(&self, off: usize) -> u64 {
        self.body
            .get(off..off + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }

    fn u32_at(&self, off: usize) -> u32 {
        self.body
            .get(off..off + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// How many `cpuN` entries it holds.
    pub fn cpus(&self) -> usize {
        self.body
            .get(2..4)
            .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    }

    /// The value of `MEM_KEYS[i]`, if its meminfo showed it.
    pub fn mem(&self, i: usize) -> Option<u64> {
        let present = self.u64_at(8);
        (i < MEM_KEYS.len() && present & (1 << i) != 0).then(|| self.u64_at(MEM_OFF + i * 8))
    }

    /// The value of the meminfo key `name` (0 if not shown).
    pub fn mem_named(&self, name: &str) -> u64 {
        MEM_KEYS
            .iter()
            .position(|k| k.name == name)
            .and_then(|i| self.mem(i))
            .unwrap_or(0)
    }

    /// The `cpu` total line.
    pub fn cpu_total(&self) -> [u64; CPU_FIELDS] {
        core::array::from_fn(|f| self.u64_at(TOTAL_OFF + f * 8))
    }

    /// Its `i`th `cpuN` line (zeros past the last).
    pub fn cpu(&self, i: usize) -> [u64; CPU_FIELDS] {
        if i >= self.cpus() {
            return [0; CPU_FIELDS];
        }
        core::array::from_fn(|f| self.u64_at(FIXED_LEN + i * CPU_LEN + f * 8))
    }

    /// The other counters of its `/proc/stat`.
    pub fn counters(&self) -> Counters {
        let at = |i: usize| self.u64_at(COUNTERS_OFF + i * 8);
        Counters {
            intr: at(0),
            ctxt: at(1),
            btime: at(2),
            processes: at(3),
            procs_running: at(4),
            procs_blocked: at(5),
        }
    }

    /// Its `softirq` line.
    pub fn softirq(&self) -> [u64; SOFTIRQ_FIELDS] {
        core::array::from_fn(|f| self.u64_at(SOFTIRQ_OFF + f * 8))
    }

    /// Its `/proc/loadavg`.
    pub fn load(&self) -> Load {
        let at = |i: usize| self.u32_at(LOAD_OFF + i * 4);
        Load {
            avg: [at(0), at(1), at(2)],
            runnable: at(3),
            threads: at(4),
            last_pid: at(5),
        }
    }

    /// The value of `CPU_KEYS[i]` ("" if its cpuinfo showed none).
    pub fn cpu_key(&self, i: usize) -> &'a str {
        let Some(k) = CPU_KEYS.get(i) else { return "" };
        let off = CPUINFO_OFF + CPU_KEYS[..i].iter().map(|k| k.len).sum::<usize>();
        let field = self.body.get(off..off + k.len).unwrap_or(&[]);
        let n = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        core::str::from_utf8(&field[..n]).unwrap_or("")
    }
}

/// `/proc/meminfo` of the cluster: each key any node showed, its merged
/// value ([`Merge`]), `own` being this node's index in `nodes`.
pub fn write_meminfo(nodes: &[NodeStats<'_>], own: usize, w: &mut impl Write) -> fmt::Result {
    for (i, k) in MEM_KEYS.iter().enumerate() {
        if nodes.iter().all(|n| n.mem(i).is_none()) {
            continue;
        }
        let v = match k.merge {
            Merge::Sum => nodes
                .iter()
                .filter_map(|n| n.mem(i))
                .fold(0u64, u64::saturating_add),
            Merge::Own => nodes.get(own).and_then(|n| n.mem(i)).unwrap_or(0),
        };
        // The kernel pads "Name:" to 16 columns.
        let pad = 15usize.saturating_sub(k.name.len());
        write!(w, "{}:{:pad$}", k.name, "")?;
        write!(w, "{v:>8}")?;
        w.write_str(if k.kb { " kB\n" } else { "\n" })?;
    }
    Ok(())
}

fn write_cpu_line(w: &mut impl Write, name: fmt::Arguments<'_>, v: &[u64]) -> fmt::Result {
    w.write_fmt(name)?;
    for x in v {
        write!(w, " {x}")?;
    }
    w.write_str("\n")
}

/// `/proc/stat` of the cluster: the `cpu` line sums the nodes' totals;
/// then one `cpuN` line per CPU of every node, numbered from 0 across
/// `nodes` in their order (node-id order: node 1's CPUs first); the other
/// counters are sums, but `btime` is this node's (`own`, its index in
/// `nodes`): `ps` adds it to this node's uptime.
pub fn write_stat(nodes: &[NodeStats<'_>], own: usize, w: &mut impl Write) -> fmt::Result {
    let sum =
        |f: &dyn Fn(&NodeStats<'_>) -> u64| nodes.iter().map(f).fold(0u64, u64::saturating_add);
    let mut total = [0u64; CPU_FIELDS];
    for n in nodes {
        for (t, v) in total.iter_mut().zip(n.cpu_total()) {
            *t = t.saturating_add(v);
        }
    }
    write_cpu_line(w, format_args!("cpu "), &total)?;
    let mut k = 0usize;
    for n in nodes {
        for i in 0..n.cpus() {
            write_cpu_line(w, format_args!("cpu{k}"), &n.cpu(i))?;
            k += 1;
        }
    }
    writeln!(w, "intr {}", sum(&|n| n.counters().intr))?;
    writeln!(w, "ctxt {}", sum(&|n| n.counters().ctxt))?;
    let btime = nodes.get(own).map_or(0, |n| n.counters().btime);
    writeln!(w, "btime {btime}")?;
    writeln!(w, "processes {}", sum(&|n| n.counters().processes))?;
    writeln!(w, "procs_running {}", sum(&|n| n.counters().procs_running))?;
    writeln!(w, "procs_blocked {}", sum(&|n| n.counters().procs_blocked))?;
    let mut softirq = [0u64; SOFTIRQ_FIELDS];
    for n in nodes {
        for (t, v) in softirq.iter_mut().zip(n.softirq()) {
            *t = t.saturating_add(v);
        }
    }
    write_cpu_line(w, format_args!("softirq"), &softirq)
}

/// `/proc/loadavg` of the cluster: the sums of the nodes' load averages
/// (the cluster's run queue, as on one machine with all its CPUs),
/// runnable and total tasks summed, and this node's last pid (`own`).
pub fn write_loadavg(nodes: &[NodeStats<'_>], own: usize, w: &mut impl Write) -> fmt::Result {
    let mut avg = [0u64; 3];
    let (mut runnable, mut threads) = (0u64, 0u64);
    for n in nodes {
        let l = n.load();
        for (a, v) in avg.iter_mut().zip(l.avg) {
            *a = a.saturating_add(u64::from(v));
        }
        runnable = runnable.saturating_add(u64::from(l.runnable));
        threads = threads.saturating_add(u64::from(l.threads));
    }
    for a in avg {
        write!(w, "{}.{:02} ", a / 100, a % 100)?;
    }
    let last = nodes.get(own).map_or(0, |n| n.load().last_pid);
    writeln!(w, "{runnable}/{threads} {last}")
}

/// `/proc/cpuinfo` of the cluster: a block per CPU, numbered as in
/// [`write_stat`]; each shows its node's first processor's keys, its node
/// as `physical id` (the index in `nodes`), its index on the node as
/// `core id`, the node's CPU count as `siblings` and `cpu cores`.
pub fn write_cpuinfo(nodes: &[NodeStats<'_>], w: &mut impl Write) -> fmt::Result {
    let mut k = 0usize;
    for (p, n) in nodes.iter().enumerate() {
        for i in 0..n.cpus() {
            writeln!(w, "processor\t: {k}")?;
            let keys = |w: &mut dyn Write, head: bool| -> fmt::Result {
                for (j, key) in CPU_KEYS.iter().enumerate().filter(|(_, c)| c.head == head) {
                    let v = n.cpu_key(j);
                    if !v.is_empty() {
                        writeln!(w, "{}: {v}", key.shown)?;
                    }
                }
                Ok(())
            };
            keys(w, true)?;
            writeln!(w, "physical id\t: {p}")?;
            writeln!(w, "siblings\t: {}", n.cpus())?;
            writeln!(w, "core id\t\t: {i}")?;
            writeln!(w, "cpu cores\t: {}", n.cpus())?;
            keys(w, false)?;
            writeln!(w)?;
            k += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::{string::String, vec, vec::Vec};

    const MEMINFO: &str = "MemTotal:        2000000 kB\nMemFree:         1500000 kB\n\
        MemAvailable:    1800000 kB\nBuffers:            1000 kB\nCached:            20000 kB\n\
        SwapTotal:             0 kB\nSwapFree:              0 kB\nVmallocTotal:   34359738367 kB\n\
        HugePages_Total:       0\nHugepagesize:       2048 kB\nDirectMap4k:       10000 kB\n";

    fn stat(cpus: usize, btime: u64) -> String {
        let mut s = String::from("cpu  100 2 30 4000 5 0 6 0 0 0\n");
        for i in 0..cpus {
            s += &std::format!("cpu{i} {} 1 10 1000 1 0 2 0 0 0\n", 10 + i);
        }
        s += "intr 12345 1 2 3\nctxt 5000\n";
        s += &std::format!("btime {btime}\n");
        s += "processes 700\nprocs_running 2\nprocs_blocked 1\nsoftirq 10 1 1 1 1 1 1 1 1 1 1\n";
        s
    }

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n\
        model\t\t: 85\nmodel name\t: QEMU Virtual CPU version 2.5+\nstepping\t: 3\n\
        cpu MHz\t\t: 2400.000\ncache size\t: 16384 KB\nfpu\t\t: yes\n\
        flags\t\t: fpu de pse tsc msr\nbogomips\t: 4800.00\n\
        address sizes\t: 40 bits physical, 48 bits virtual\n\nprocessor\t: 1\nvendor_id\t: Other\n\n";

    fn record(cpus: usize, btime: u64, load: &str) -> Vec<u8> {
        let st = stat(cpus, btime);
        let t = Texts {
            meminfo: MEMINFO.as_bytes(),
            stat: st.as_bytes(),
            loadavg: load.as_bytes(),
            cpuinfo: CPUINFO.as_bytes(),
        };
        let mut out = vec![0u8; encoded_len(t.stat)];
        let n = encode(&t, &mut out).unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn request() {
        let mut b = [0u8; REQUEST_LEN];
        assert_eq!(encode_request(&mut b), Ok(1));
        assert_eq!(decode_request(&b), Ok(()));
        assert!(decode_request(&[2]).is_err());
        assert!(decode_request(&[]).is_err());
        assert!(decode_request(&[1, 0]).is_err());
    }

    #[test]
    fn parses_what_the_kernel_shows() {
        let b = record(2, 1_700_000_000, "0.50 1.25 10.00 3/120 4567\n");
        let s = NodeStats::decode(&b).unwrap();
        assert_eq!(s.cpus(), 2);
        assert_eq!(s.mem_named("MemTotal"), 2_000_000);
        assert_eq!(s.mem_named("VmallocTotal"), 34_359_738_367);
        assert_eq!(
            s.mem(MEM_KEYS.iter().position(|k| k.name == "Shmem").unwrap()),
            None
        );
        assert_eq!(s.cpu_total(), [100, 2, 30, 4000, 5, 0, 6, 0, 0, 0]);
        assert_eq!(s.cpu(1), [11, 1, 10, 1000, 1, 0, 2, 0, 0, 0]);
        assert_eq!(s.cpu(2), [0; CPU_FIELDS]);
        let c = s.counters();
        assert_eq!(
            (c.intr, c.ctxt, c.btime, c.processes),
            (12345, 5000, 1_700_000_000, 700)
        );
        assert_eq!((c.procs_running, c.procs_blocked), (2, 1));
        assert_eq!(s.softirq()[0], 10);
        assert_eq!(
            s.load(),
            Load {
                avg: [50, 125, 1000],
                runnable: 3,
                threads: 120,
                last_pid: 4567
            }
        );
        assert_eq!(s.cpu_key(0), "GenuineIntel");
        assert_eq!(s.cpu_key(3), "QEMU Virtual CPU version 2.5+");
        assert_eq!(s.cpu_key(12), "fpu de pse tsc msr");
        assert_eq!(s.cpu_key(5), "");
    }

    #[test]
    fn renders_the_cluster() {
        let a = record(2, 111, "0.50 1.25 10.00 3/120 4567\n");
        let b = record(3, 222, "1.50 0.75 0.01 1/80 99\n");
        let nodes = [
            NodeStats::decode(&a).unwrap(),
            NodeStats::decode(&b).unwrap(),
        ];
        let mut m = String::new();
        write_meminfo(&nodes, 1, &mut m).unwrap();
        assert!(
            m.starts_with("MemTotal:        4000000 kB\nMemFree:         3000000 kB\n"),
            "{m}"
        );
        assert!(m.contains("\nVmallocTotal:   34359738367 kB\n"), "{m}");
        assert!(m.contains("\nHugePages_Total:       0\n"), "{m}");
        assert!(m.contains("\nHugepagesize:       2048 kB\n"), "{m}");
        assert!(!m.contains("Shmem"));
        let mut s = String::new();
        write_stat(&nodes, 1, &mut s).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "cpu  200 4 60 8000 10 0 12 0 0 0");
        assert_eq!(lines[1], "cpu0 10 1 10 1000 1 0 2 0 0 0");
        assert_eq!(lines[3], "cpu2 10 1 10 1000 1 0 2 0 0 0");
        assert_eq!(lines[5], "cpu4 12 1 10 1000 1 0 2 0 0 0");
        assert!(s.contains("\nintr 24690\nctxt 10000\nbtime 222\nprocesses 1400\n"));
        assert!(s.contains("\nprocs_running 4\nprocs_blocked 2\nsoftirq 20 2 2"));
        let mut l = String::new();
        write_loadavg(&nodes, 0, &mut l).unwrap();
        assert_eq!(l, "2.00 2.00 10.01 4/200 4567\n");
        let mut c = String::new();
        write_cpuinfo(&nodes, &mut c).unwrap();
        assert_eq!(c.matches("processor\t: ").count(), 5);
        assert!(c.contains("processor\t: 4\nvendor_id\t: GenuineIntel\n"));
        assert!(c.contains("physical id\t: 1\nsiblings\t: 3\ncore id\t\t: 2\ncpu cores\t: 3\n"));
        assert!(c.contains("model name\t: QEMU Virtual CPU version 2.5+\n"));
        assert!(c.contains("flags\t\t: fpu de pse tsc msr\n"));
    }

    #[test]
    fn long_values_are_cut_at_a_space() {
        assert_eq!(cut(b"aaa bbb ccc", 9), b"aaa bbb");
        assert_eq!(cut(b"aaa bbb ccc", 7), b"aaa bbb");
        assert_eq!(cut(b"aaa bbb", 7), b"aaa bbb");
        assert_eq!(cut(b"abcdefgh", 4), b"abcd");
        assert_eq!(cut(b"ab\x01cd", 8), b"ab");
    }

    #[test]
    fn malformed_records_are_rejected() {
        let good = record(2, 1, "0.00 0.00 0.00 1/1 1\n");
        assert!(NodeStats::decode(&good).is_ok());
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            NodeStats::decode(&b).map(|_| ())
        };
        assert_eq!(bad(&|_| ()), Ok(()));
        assert_eq!(bad(&|b| b[0] = 2), Err(WireError::BadVersion));
        assert_eq!(bad(&|b| b[1] = 1), Err(WireError::BadReserved));
        assert_eq!(bad(&|b| b[2] = 3), Err(WireError::Truncated));
        assert_eq!(bad(&|b| b[2] = 1), Err(WireError::TrailingBytes));
        assert_eq!(bad(&|b| b.push(0)), Err(WireError::TrailingBytes));
        assert_eq!(bad(&|b| b[15] = 0x80), Err(WireError::InvalidValue));
        assert_eq!(
            bad(&|b| b[2..4].copy_from_slice(&(MAX_CPUS as u16 + 1).to_le_bytes())),
            Err(WireError::InvalidValue)
        );
        assert_eq!(
            bad(&|b| b[CPUINFO_OFF] = b'\n'),
            Err(WireError::InvalidValue)
        );
        // A byte after the value's NUL.
        assert_eq!(
            bad(&|b| b[CPUINFO_OFF + 15] = b'x'),
            Err(WireError::InvalidValue)
        );
        assert!(NodeStats::decode(&good[..FIXED_LEN - 1]).is_err());
        assert!(NodeStats::decode(&[]).is_err());
    }

    #[test]
    fn too_many_cpus_are_left_out() {
        let st = stat(MAX_CPUS + 5, 1);
        assert_eq!(cpu_count(st.as_bytes()), MAX_CPUS);
        let t = Texts {
            meminfo: b"",
            stat: st.as_bytes(),
            loadavg: b"",
            cpuinfo: b"",
        };
        let mut out = vec![0u8; encoded_len(t.stat)];
        assert_eq!(encode(&t, &mut out), Ok(out.len()));
        assert_eq!(NodeStats::decode(&out).unwrap().cpus(), MAX_CPUS);
        let mut small = vec![0u8; FIXED_LEN];
        assert_eq!(encode(&t, &mut small), Err(WireError::BufferTooSmall));
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..FIXED_LEN + 300)) {
            if let Ok(s) = NodeStats::decode(&body) {
                let nodes = [s];
                let mut out = String::new();
                write_meminfo(&nodes, 0, &mut out).unwrap();
                write_stat(&nodes, 0, &mut out).unwrap();
                write_loadavg(&nodes, 0, &mut out).unwrap();
                write_cpuinfo(&nodes, &mut out).unwrap();
            }
        }

        #[test]
        fn any_text_encodes_to_a_valid_record(
            mem in "[ -~\n]{0,300}",
            st in "(cpu[0-9]{0,2} [0-9 ]{0,30}\n|[ -~]{0,40}\n){0,10}",
            load in "[ -~]{0,40}",
            cpu in "[ -~\t\n\u{80}]{0,300}",
        ) {
            let t = Texts { meminfo: mem.as_bytes(), stat: st.as_bytes(), loadavg: load.as_bytes(), cpuinfo: cpu.as_bytes() };
            let mut out = vec![0u8; encoded_len(t.stat)];
            prop_assert_eq!(encode(&t, &mut out), Ok(out.len()));
            let s = NodeStats::decode(&out).unwrap();
            prop_assert_eq!(s.cpus(), cpu_count(t.stat));
            let mut text = String::new();
            write_cpuinfo(&[s], &mut text).unwrap();
            prop_assert_eq!(text.matches("processor\t: ").count(), s.cpus());
        }

        #[test]
        fn cluster_sums(cpus in proptest::collection::vec(0usize..6, 1..5)) {
            let bodies: Vec<Vec<u8>> = cpus.iter().map(|&c| record(c, 7, "1.00 0.00 0.00 1/10 3\n")).collect();
            let nodes: Vec<NodeStats<'_>> = bodies.iter().map(|b| NodeStats::decode(b).unwrap()).collect();
            let mut s = String::new();
            write_stat(&nodes, 0, &mut s).unwrap();
            let n: usize = cpus.iter().sum();
            prop_assert_eq!(s.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count(), n);
            let mut m = String::new();
            write_meminfo(&nodes, 0, &mut m).unwrap();
            let total = std::format!("MemTotal:       {:>8} kB\n", 2_000_000 * nodes.len());
            prop_assert!(m.starts_with(&total));
            let mut l = String::new();
            write_loadavg(&nodes, 0, &mut l).unwrap();
            prop_assert_eq!(l, std::format!("{}.00 0.00 0.00 {}/{} 3\n", nodes.len(), nodes.len(), 10 * nodes.len()));
        }
    }
}
