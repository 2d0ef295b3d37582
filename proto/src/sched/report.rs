//! The load report a node broadcasts ([`LoadReport`], its body codec)
//! and when it does ([`ReportFilter`] under [`ReportParams`]).
//!
//! Body layout (little-endian, [`REPORT_LEN`] bytes):
//!
//! ```text
//! off len
//! 0   1   version = REPORT_VERSION
//! 1   3   zero
//! 4   4   cpus (1..=MAX_REPORT_CPUS)
//! 8   8   seq: the sender's report counter, +1 per report
//! 16  4   upper: per-CPU load, 1/1024 of a task
//! 20  4   mean (<= upper)
//! 24  8   free_kib (<= total_kib)
//! 32  8   total_kib
//! 40  4   movable: user processes the balancer could move
//! 44  4   zero
//! ```

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::filter::{moved_by_more, RateLimit};
use super::probe::{watermark_kib, LOAD_ONE};

/// Version of the report body.
pub const REPORT_VERSION: u8 = 1;
/// Encoded length of a report.
pub const REPORT_LEN: usize = 48;
/// Most CPUs a report may claim.
pub const MAX_REPORT_CPUS: u32 = 1 << 16;

/// What a node tells the others of its load, every so often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// The sender's report counter: a report with a lower one than the
    /// last taken is late and is dropped.
    pub seq: u64,
    /// Online CPUs.
    pub cpus: u32,
    /// The fast-rising per-CPU load ([`LoadProbe::upper`](super::probe::LoadProbe::upper)).
    pub upper: u32,
    /// The averaged per-CPU load, at most `upper`.
    pub mean: u32,
    /// Free (available) memory, KiB, at most `total_kib`.
    pub free_kib: u64,
    /// All memory, KiB.
    pub total_kib: u64,
    /// User processes the balancer could move away.
    pub movable: u32,
}

impl LoadReport {
    fn check(&self) -> Result<(), WireError> {
        let ok = (1..=MAX_REPORT_CPUS).contains(&self.cpus)
            && self.mean <= self.upper
            && self.free_kib <= self.total_kib;
        ok.then_some(()).ok_or(WireError::InvalidValue)
    }

    /// Writes the report into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let mut w = Writer::new(out);
        w.u8(REPORT_VERSION)?;
        w.bytes(&[0; 3])?;
        w.u32(self.cpus)?;
        w.u64(self.seq)?;
        w.u32(self.upper)?;
        w.u32(self.mean)?;
        w.u64(self.free_kib)?;
        w.u64(self.total_kib)?;
        w.u32(self.movable)?;
        w.u32(0)?;
        Ok(w.pos())
    }

    /// Decodes a report; another version, non-zero reserved bytes, no
    /// CPU or too many, `mean > upper` and `free > total` are refused.
    pub fn decode(body: &[u8]) -> Result<LoadReport, WireError> {
        let mut r = Reader::new(body);
        let version = r.u8()?;
        let reserved = r.array::<3>()?;
        let cpus = r.u32()?;
        let seq = r.u64()?;
        let upper = r.u32()?;
        let mean = r.u32()?;
        let free_kib = r.u64()?;
        let total_kib = r.u64()?;
        let movable = r.u32()?;
        let tail = r.u32()?;
        r.finish()?;
        if version != REPORT_VERSION {
            return Err(WireError::BadVersion);
        }
        if reserved != [0; 3] || tail != 0 {
            return Err(WireError::BadReserved);
        }
        let rep = LoadReport {
            seq,
            cpus,
            upper,
            mean,
            free_kib,
            total_kib,
            movable,
        };
        rep.check()?;
        Ok(rep)
    }
}

/// When reports are sent, and how long the others use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportParams {
    /// A change of `upper` or `mean` by more than this (per-CPU load)
    /// is told.
    pub load_threshold: u32,
    /// A change of free memory by more than this part of the total, in
    /// 1/1000, is told.
    pub mem_threshold_per_mille: u32,
    /// At most one report per this many milliseconds.
    pub min_interval_ms: u32,
    /// A report goes at least this often, changed or not, so that the
    /// others' copies stay fresh.
    pub max_silence_ms: u32,
    /// The others use a report up to this old; more than
    /// `max_silence_ms`.
    pub max_age_ms: u32,
}

impl ReportParams {
    /// Defaults: a report may go every 100 ms (each load sample) when
    /// the load moved by more than 1/16 of a task per CPU or free memory
    /// by 1 % of the total, and goes at least every second; a report is
    /// used for 3.5 s, so three lost in a row make a node unknown.
    pub const DEFAULT: ReportParams = ReportParams {
        load_threshold: 64,
        mem_threshold_per_mille: 10,
        min_interval_ms: 100,
        max_silence_ms: 1000,
        max_age_ms: 3500,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if self.load_threshold > LOAD_ONE {
            Some("load_threshold")
        } else if self.mem_threshold_per_mille > 1000 {
            Some("mem_threshold_per_mille")
        } else if self.min_interval_ms > self.max_silence_ms {
            Some("min_interval_ms")
        } else if self.max_silence_ms == 0 || self.max_silence_ms >= self.max_age_ms {
            Some("max_silence_ms")
        } else if self.max_age_ms > 3_600_000 {
            Some("max_age_ms")
        } else {
            None
        }
    }
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams::DEFAULT
    }
}

/// Decides which of a node's reports go out: one that says something
/// new (a load moved by more than the threshold, a load that settled,
/// free memory, CPUs), not sooner than the frequency limit, and one at
/// least every `max_silence_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportFilter {
    params: ReportParams,
    rate: RateLimit,
    last: Option<LoadReport>,
}

impl ReportFilter {
    /// A filter that has sent nothing yet.
    pub fn new(params: &ReportParams) -> ReportFilter {
        ReportFilter {
            params: *params,
            rate: RateLimit::new(params.min_interval_ms.into()),
            last: None,
        }
    }

    /// Whether `r` says something the last report sent did not.
    fn news(&self, r: &LoadReport, last: &LoadReport) -> bool {
        let p = &self.params;
        let load = u64::from(p.load_threshold);
        let mem = watermark_kib(r.total_kib, p.mem_threshold_per_mille);
        // A settled load is exact: tell it even if it moved by little,
        // so the others see a node that went idle as idle.
        let settled = r.upper == r.mean && (r.upper, r.mean) != (last.upper, last.mean);
        moved_by_more(last.upper.into(), r.upper.into(), load)
            || moved_by_more(last.mean.into(), r.mean.into(), load)
            || settled
            || moved_by_more(last.free_kib, r.free_kib, mem)
            || r.cpus != last.cpus
            || r.total_kib != last.total_kib
    }

    /// Whether `r` is to be sent at `now_ms`; if so it is recorded as
    /// sent.
    pub fn offer(&mut self, r: &LoadReport, now_ms: u64) -> bool {
        if !self.rate.ready(now_ms) {
            return false;
        }
        let send = match &self.last {
            None => true,
            Some(last) => {
                self.news(r, last)
                    || self
                        .rate
                        .since(now_ms)
                        .is_some_and(|s| s >= self.params.max_silence_ms.into())
            }
        };
        if send {
            self.last = Some(*r);
            self.rate.record(now_ms);
        }
        send
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const R: LoadReport = LoadReport {
        seq: 7,
        cpus: 2,
        upper: 3000,
        mean: 2000,
        free_kib: 1000,
        total_kib: 4000,
        movable: 3,
    };

    #[test]
    fn round_trip_and_refusals() {
        let mut b = [0u8; REPORT_LEN];
        assert_eq!(R.encode(&mut b), Ok(REPORT_LEN));
        assert_eq!(LoadReport::decode(&b), Ok(R));
        assert_eq!(LoadReport::decode(&b[..47]), Err(WireError::Truncated));
        let mut long = [0u8; REPORT_LEN + 1];
        long[..REPORT_LEN].copy_from_slice(&b);
        assert_eq!(LoadReport::decode(&long), Err(WireError::TrailingBytes));
        let with = |i: usize, v: u8| {
            let mut c = b;
            c[i] = v;
            LoadReport::decode(&c)
        };
        assert_eq!(with(0, 2), Err(WireError::BadVersion));
        assert_eq!(with(2, 1), Err(WireError::BadReserved));
        assert_eq!(with(47, 1), Err(WireError::BadReserved));
        assert_eq!(with(4, 0), Err(WireError::InvalidValue)); // no CPU
        assert_eq!(with(23, 1), Err(WireError::InvalidValue)); // mean > upper
        assert_eq!(with(31, 1), Err(WireError::InvalidValue)); // free > total
        for bad in [
            LoadReport { cpus: 0, ..R },
            LoadReport {
                cpus: MAX_REPORT_CPUS + 1,
                ..R
            },
            LoadReport { mean: 3001, ..R },
            LoadReport {
                free_kib: 4001,
                ..R
            },
        ] {
            assert_eq!(bad.encode(&mut b), Err(WireError::InvalidValue));
        }
        assert_eq!(R.encode(&mut [0u8; 47]), Err(WireError::BufferTooSmall));
    }

    #[test]
    fn filter_tells_news_and_keeps_quiet() {
        let p = ReportParams::DEFAULT;
        assert_eq!(p.check(), None);
        let mut f = ReportFilter::new(&p);
        assert!(f.offer(&R, 0));
        // Too soon, then nothing new.
        let moved = LoadReport { upper: 4000, ..R };
        assert!(!f.offer(&moved, 50));
        assert!(!f.offer(&R, 100));
        assert!(f.offer(&moved, 100));
        // Small moves stay quiet until the silence is too long.
        let small = LoadReport {
            mean: 2060,
            ..moved
        };
        assert!(!f.offer(&small, 200));
        assert!(!f.offer(&small, 1099));
        assert!(f.offer(&small, 1100));
        // Free memory by more than 1 %.
        assert!(!f.offer(
            &LoadReport {
                free_kib: 1040,
                ..small
            },
            1200
        ));
        assert!(f.offer(
            &LoadReport {
                free_kib: 1041,
                ..small
            },
            1300
        ));
        // A load that settles is told, however small the move.
        let idle = LoadReport {
            upper: 30,
            mean: 30,
            ..R
        };
        assert!(f.offer(&idle, 1400));
        let zero = LoadReport {
            upper: 0,
            mean: 0,
            ..idle
        };
        assert!(f.offer(&zero, 1500));
        assert!(!f.offer(&zero, 1600));
    }

    #[test]
    fn params() {
        let bad = |f: &dyn Fn(&mut ReportParams)| {
            let mut p = ReportParams::DEFAULT;
            f(&mut p);
            p.check()
        };
        assert_eq!(bad(&|p| p.load_threshold = 2000), Some("load_threshold"));
        assert_eq!(
            bad(&|p| p.mem_threshold_per_mille = 1001),
            Some("mem_threshold_per_mille")
        );
        assert_eq!(bad(&|p| p.min_interval_ms = 2000), Some("min_interval_ms"));
        assert_eq!(bad(&|p| p.max_age_ms = 1000), Some("max_silence_ms"));
        assert_eq!(bad(&|p| p.max_age_ms = u32::MAX), Some("max_age_ms"));
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..60)) {
            if let Ok(r) = LoadReport::decode(&body) {
                let mut b = [0u8; REPORT_LEN];
                prop_assert_eq!(r.encode(&mut b), Ok(REPORT_LEN));
                prop_assert_eq!(&b[..], &body[..]);
            }
        }

        #[test]
        fn reports_round_trip(seq: u64, cpus in 1u32..=MAX_REPORT_CPUS, a: u32, b: u32,
                              x: u64, y: u64, movable: u32) {
            let r = LoadReport { seq, cpus, upper: a.max(b), mean: a.min(b),
                                 free_kib: x.min(y), total_kib: x.max(y), movable };
            let mut buf = [0u8; REPORT_LEN];
            prop_assert_eq!(r.encode(&mut buf), Ok(REPORT_LEN));
            prop_assert_eq!(LoadReport::decode(&buf), Ok(r));
        }

        #[test]
        fn reports_are_spaced_and_never_silent_long(
            steps in proptest::collection::vec((1u64..300, 0u32..5000), 1..100),
        ) {
            let p = ReportParams::DEFAULT;
            let mut f = ReportFilter::new(&p);
            let (mut now, mut last_sent) = (0u64, None::<u64>);
            for (dt, load) in steps {
                now += dt;
                let r = LoadReport { upper: load, mean: load / 2, ..R };
                let sent = f.offer(&r, now);
                if let Some(t) = last_sent {
                    if sent {
                        prop_assert!(now - t >= u64::from(p.min_interval_ms));
                    } else {
                        prop_assert!(now - t < u64::from(p.max_silence_ms) || now - t < u64::from(p.min_interval_ms));
                    }
                } else {
                    prop_assert!(sent);
                }
                if sent {
                    last_sent = Some(now);
                }
            }
        }
    }
}
