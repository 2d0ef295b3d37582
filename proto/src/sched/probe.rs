//! The probes' arithmetic: the CPU load of a node, smoothed MOSIX style
//! into a fast-rising `upper` and a slower `mean` ([`LoadProbe`]); the
//! CPU share of a process ([`cpu_share`]) and the run-queue weight it
//! carries with it ([`runnable_share`], or [`demand`] as an estimate);
//! a node's free memory ([`Memory`]).
//!
//! Loads are per CPU in 1/[`LOAD_ONE`]: a one-CPU node with two runnable
//! tasks has load 2048, a four-CPU node with two has 512. A CPU share is
//! in 1/[`LOAD_ONE`] of one CPU. No floating point: smoothing factors are
//! fixed point in 1/[`WEIGHT_ONE`].

/// One runnable task per CPU, or one whole CPU of share.
pub const LOAD_ONE: u32 = 1024;
/// The whole of a smoothing weight: a weight of `WEIGHT_ONE` takes a new
/// sample at once, 0 never.
pub const WEIGHT_ONE: u32 = 65536;

/// `n` tasks as a fixed-point run-queue length (`n * LOAD_ONE`).
pub fn tasks(n: u32) -> u32 {
    n.saturating_mul(LOAD_ONE)
}

/// The per-CPU load of `runnable` (fixed point, 1/[`LOAD_ONE`] of a
/// task) on `cpus` CPUs, rounded down; a node that says it has no CPU
/// counts as one.
pub fn per_cpu(runnable: u32, cpus: u32) -> u32 {
    runnable / cpus.max(1)
}

/// [`per_cpu`] rounded up: what a load added to a node counts for.
pub fn per_cpu_up(runnable: u32, cpus: u32) -> u32 {
    runnable.div_ceil(cpus.max(1))
}

/// `2^-(2^-k)` for k = 16..=1, scaled by 2^30: the factors a fractional
/// power of one half is made of, smallest exponent first.
const HALF_POWERS: [u64; 16] = [
    1_073_730_468, // 2^-(1/65536)
    1_073_719_111, // 2^-(1/32768)
    1_073_696_399, // 2^-(1/16384)
    1_073_650_976, // 2^-(1/8192)
    1_073_560_135, // 2^-(1/4096)
    1_073_378_477, // 2^-(1/2048)
    1_073_015_252, // 2^-(1/1024)
    1_072_289_173, // 2^-(1/512)
    1_070_838_486, // 2^-(1/256)
    1_067_942_999, // 2^-(1/128)
    1_062_175_491, // 2^-(1/64)
    1_050_733_751, // 2^-(1/32)
    1_028_218_693, // 2^-(1/16)
    984_625_594,   // 2^-(1/8)
    902_905_651,   // 2^-(1/4)
    759_250_125,   // 2^-(1/2)
];

/// What is left of a value after `period_ms` when it halves every
/// `half_life_ms`: `2^-(period/half_life)`, in 1/[`WEIGHT_ONE`]. A
/// half-life of 0 keeps nothing.
pub fn retained(period_ms: u32, half_life_ms: u32) -> u32 {
    if half_life_ms == 0 {
        return 0;
    }
    // The exponent in 16.16 fixed point.
    let x = (u64::from(period_ms) << 16) / u64::from(half_life_ms);
    let whole = x >> 16;
    if whole >= 30 {
        return 0;
    }
    let mut r: u64 = (1 << 30) >> whole;
    for (bit, factor) in HALF_POWERS.iter().enumerate() {
        if x & (1 << bit) != 0 {
            r = (r * factor) >> 30;
        }
    }
    (r >> 14) as u32
}

/// The weight of a new sample in an exponential average with that
/// half-life: `WEIGHT_ONE - retained(period, half_life)`.
pub fn sample_weight(period_ms: u32, half_life_ms: u32) -> u32 {
    WEIGHT_ONE - retained(period_ms, half_life_ms)
}

/// `value` moved toward `target` by `weight` (1/[`WEIGHT_ONE`]) of the
/// gap, the step rounded up so that a steady target is reached; a result
/// within `settle` of the target takes the target.
pub fn approach(value: u32, target: u32, weight: u32, settle: u32) -> u32 {
    let gap = value.abs_diff(target);
    let w = u64::from(weight.min(WEIGHT_ONE));
    // At most the gap: the target is never overshot.
    let step = (u64::from(gap) * w).div_ceil(u64::from(WEIGHT_ONE)) as u32;
    if gap - step <= settle {
        target
    } else if target > value {
        value + step
    } else {
        value - step
    }
}

/// How the load probe smooths its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smoothing {
    /// Milliseconds between two samples.
    pub period_ms: u32,
    /// Half-life of `mean`, an exponential average, in milliseconds.
    pub mean_half_life_ms: u32,
    /// Half-life with which `upper` decays toward a lower sample; at
    /// least `mean_half_life_ms`, so that `upper` never falls below
    /// `mean`.
    pub upper_half_life_ms: u32,
    /// The part of a rise `upper` takes at once, in 1/1024 (1024: all
    /// of it); never less than `mean` takes.
    pub upper_rise: u32,
    /// A smoothed value within this (per-CPU load) of the sample takes
    /// the sample: a steady load is reached exactly, in a bounded time.
    pub settle: u32,
}

impl Smoothing {
    /// Defaults: a sample every 100 ms; `mean` halves its distance to a
    /// new load every 500 ms, `upper` takes 7/8 of a rise at once and
    /// decays as `mean` does; both settle within 1/16 of a task per CPU
    /// (a change of one task per CPU settles in about 2 s).
    pub const DEFAULT: Smoothing = Smoothing {
        period_ms: 100,
        mean_half_life_ms: 500,
        upper_half_life_ms: 500,
        upper_rise: 896,
        settle: 64,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if !(10..=60_000).contains(&self.period_ms) {
            return Some("period_ms");
        }
        if self.mean_half_life_ms < self.period_ms || self.mean_half_life_ms > 600_000 {
            return Some("mean_half_life_ms");
        }
        if self.upper_half_life_ms < self.mean_half_life_ms || self.upper_half_life_ms > 600_000 {
            return Some("upper_half_life_ms");
        }
        let mean_weight = sample_weight(self.period_ms, self.mean_half_life_ms);
        if self.upper_rise > 1024 || self.upper_rise * (WEIGHT_ONE / 1024) < mean_weight {
            return Some("upper_rise");
        }
        if self.settle > LOAD_ONE {
            return Some("settle");
        }
        None
    }
}

impl Default for Smoothing {
    fn default() -> Self {
        Smoothing::DEFAULT
    }
}

/// A node's CPU-load probe: fed a sample of its run queue every
/// `period_ms`, it keeps two per-CPU loads (1/[`LOAD_ONE`]):
///
/// - `upper` rises fast (it takes `upper_rise` of a rise at once) and
///   decays slowly: what a node that may be sent work looks like;
/// - `mean` is an exponential average: what a node that may send work
///   away looks like, so that a short burst sends nothing away.
///
/// `upper >= mean` always (if [`Smoothing::check`] passes). Processes
/// that leave or arrive are accounted at once ([`Self::depart`],
/// [`Self::arrive`]): the smoothing is for load that comes and goes by
/// itself, not for the load the balancer moves. A process this node
/// agreed to take is counted from then on ([`Self::reserve`]), outside
/// the smoothing, until it lands ([`Self::land`]) or does not come
/// ([`Self::cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProbe {
    upper: u32,
    mean: u32,
    reserved: u32,
    cpus: u32,
    mean_weight: u32,
    upper_decay: u32,
    upper_rise: u32,
    settle: u32,
}

impl LoadProbe {
    /// A probe that has seen no sample: both loads 0, one CPU.
    pub fn new(s: &Smoothing) -> LoadProbe {
        LoadProbe {
            upper: 0,
            mean: 0,
            reserved: 0,
            cpus: 1,
            mean_weight: sample_weight(s.period_ms, s.mean_half_life_ms),
            upper_decay: sample_weight(s.period_ms, s.upper_half_life_ms),
            upper_rise: s.upper_rise.min(1024) * (WEIGHT_ONE / 1024),
            settle: s.settle,
        }
    }

    /// Takes one sample: `runnable` user tasks on the run queues (fixed
    /// point, [`tasks`]`(nr_running)` or an average over the period) on
    /// `cpus` online CPUs.
    pub fn sample(&mut self, runnable: u32, cpus: u32) {
        self.cpus = cpus.max(1);
        let load = per_cpu(runnable, self.cpus);
        let upper_weight = if load > self.upper {
            self.upper_rise
        } else {
            self.upper_decay
        };
        self.upper = approach(self.upper, load, upper_weight, self.settle);
        self.mean = approach(self.mean, load, self.mean_weight, self.settle);
    }

    /// Accounts at once a process that arrived with run-queue weight
    /// `demand` (see [`demand`]; [`LOAD_ONE`] if unknown).
    pub fn arrive(&mut self, demand: u32) {
        let d = per_cpu_up(demand, self.cpus);
        self.upper = self.upper.saturating_add(d);
        self.mean = self.mean.saturating_add(d);
    }

    /// Accounts at once a process of run-queue weight `demand` that left.
    pub fn depart(&mut self, demand: u32) {
        let d = per_cpu(demand, self.cpus);
        self.upper = self.upper.saturating_sub(d);
        self.mean = self.mean.saturating_sub(d);
    }

    /// Counts a process of run-queue weight `demand` this node agreed to
    /// take, until it lands or does not come.
    pub fn reserve(&mut self, demand: u32) {
        self.reserved = self.reserved.saturating_add(per_cpu_up(demand, self.cpus));
    }

    /// The process of [`Self::reserve`] arrived: it runs here now.
    pub fn land(&mut self, demand: u32) {
        self.cancel(demand);
        self.arrive(demand);
    }

    /// The process of [`Self::reserve`] does not come.
    pub fn cancel(&mut self, demand: u32) {
        self.reserved = self.reserved.saturating_sub(per_cpu_up(demand, self.cpus));
    }

    /// The fast-rising load per CPU, with the processes on their way
    /// here.
    pub fn upper(&self) -> u32 {
        self.upper.saturating_add(self.reserved)
    }

    /// The averaged load per CPU, with the processes on their way here.
    pub fn mean(&self) -> u32 {
        self.mean.saturating_add(self.reserved)
    }

    /// The CPUs of the last sample.
    pub fn cpus(&self) -> u32 {
        self.cpus
    }
}

/// The share of one CPU (1/[`LOAD_ONE`]) a process used: `cpu_ns` of
/// CPU time (utime + stime of all its threads) over `wall_ns` of time.
/// A multithreaded process may use more than one CPU. 0 over no time.
pub fn cpu_share(cpu_ns: u64, wall_ns: u64) -> u32 {
    if wall_ns == 0 {
        return 0;
    }
    let s = cpu_ns.saturating_mul(u64::from(LOAD_ONE)) / wall_ns;
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// The run-queue weight (1/[`LOAD_ONE`] of a task) of a process: the
/// part of `wall_ns` it was runnable, running (`cpu_ns`, utime + stime)
/// or waiting for a CPU (`wait_ns`, the scheduler's `run_delay`), summed
/// over its threads. This is what it adds to the run queue of any node
/// it goes to, whatever the contention where it was measured: a busy
/// loop weighs one task, on a node of its own or shared with seven.
pub fn runnable_share(cpu_ns: u64, wait_ns: u64, wall_ns: u64) -> u32 {
    cpu_share(cpu_ns.saturating_add(wait_ns), wall_ns)
}

/// An estimate of [`runnable_share`] when the wait is not known: CPU
/// `share` scaled up by the per-CPU load `contention` (1/[`LOAD_ONE`])
/// the share was measured under, `share * max(contention, 1)`: eight
/// busy loops on one CPU each use 1/8 of it and weigh one task each.
/// `contention` must be the load over the same window as the share:
/// with a load that changed meanwhile, the estimate is off.
pub fn demand(share: u32, contention: u32) -> u32 {
    let d = u64::from(share) * u64::from(contention.max(LOAD_ONE)) / u64::from(LOAD_ONE);
    u32::try_from(d).unwrap_or(u32::MAX)
}

/// A node's memory, as the free-memory probe reads it (KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Memory that can be had without swapping (`MemAvailable`).
    pub free_kib: u64,
    /// All of it (`MemTotal`).
    pub total_kib: u64,
}

impl Memory {
    /// Whether free memory is under `per_mille` of the total.
    pub fn below(&self, per_mille: u32) -> bool {
        self.free_kib < watermark_kib(self.total_kib, per_mille)
    }
}

/// `per_mille` of `total_kib`, rounded up.
pub fn watermark_kib(total_kib: u64, per_mille: u32) -> u64 {
    (total_kib / 1000)
        .saturating_mul(u64::from(per_mille))
        .saturating_add((total_kib % 1000 * u64::from(per_mille)).div_ceil(1000))
}

/// Bytes as KiB, rounded up.
pub fn kib_of(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn half_power_table() {
        for (i, &f) in HALF_POWERS.iter().enumerate() {
            let e = 2f64.powi(-(16 - i as i32));
            let want = (2f64.powf(-e) * (1u64 << 30) as f64).round() as u64;
            assert_eq!(f, want, "entry {i}");
        }
    }

    #[test]
    fn retained_is_two_to_the_minus_ratio() {
        for (p, h) in [
            (100, 100),
            (100, 500),
            (100, 1000),
            (250, 1000),
            (7, 3),
            (1, 60_000),
        ] {
            let want = 2f64.powf(-(p as f64) / h as f64) * WEIGHT_ONE as f64;
            let got = retained(p, h) as f64;
            assert!((got - want).abs() <= 2.0, "{p}/{h}: {got} vs {want}");
        }
        assert_eq!(retained(100, 0), 0);
        assert_eq!(retained(60_000, 10), 0);
        assert_eq!(retained(0, 10), WEIGHT_ONE);
    }

    #[test]
    fn approach_settles_exactly() {
        assert_eq!(approach(0, 1024, WEIGHT_ONE, 0), 1024);
        assert_eq!(approach(1024, 0, WEIGHT_ONE / 2, 0), 512);
        assert_eq!(approach(1000, 1024, 1, 0), 1001);
        assert_eq!(approach(1000, 1024, 0, 30), 1024);
        let mut v = 0;
        let mut n = 0;
        while v != 4096 {
            v = approach(v, 4096, sample_weight(100, 500), 64);
            n += 1;
        }
        // Four tasks more settle in 3 s.
        assert_eq!(n, 30);
    }

    #[test]
    fn upper_rises_fast_mean_slowly() {
        let s = Smoothing::DEFAULT;
        let mut p = LoadProbe::new(&s);
        p.sample(tasks(2), 1);
        assert_eq!(p.upper(), 1792);
        assert!(p.mean() < 300, "{}", p.mean());
        p.sample(tasks(2), 1);
        assert_eq!(p.upper(), 2048);
        for _ in 0..30 {
            p.sample(tasks(2), 1);
        }
        assert_eq!((p.upper(), p.mean()), (2048, 2048));
        // Two CPUs: per CPU.
        p.sample(tasks(2), 2);
        p.depart(tasks(1));
        assert_eq!(p.cpus(), 2);
        assert!(p.mean() < 2048 - 512);
        p.arrive(3);
        assert!(p.upper() >= p.mean());
        // Reserved: counted outside the smoothing until it lands.
        let (u, m) = (p.upper(), p.mean());
        p.reserve(tasks(2));
        assert_eq!((p.upper(), p.mean()), (u + 1024, m + 1024));
        p.sample(tasks(1), 2);
        assert!(p.mean() >= 1024);
        p.cancel(tasks(2));
        p.reserve(tasks(2));
        p.land(tasks(2));
        assert!(p.mean() >= 1024 && p.upper() >= p.mean());
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Smoothing::DEFAULT.check(), None);
        let bad = |f: &dyn Fn(&mut Smoothing)| {
            let mut s = Smoothing::DEFAULT;
            f(&mut s);
            s.check()
        };
        assert_eq!(bad(&|s| s.period_ms = 0), Some("period_ms"));
        assert_eq!(
            bad(&|s| s.mean_half_life_ms = 50),
            Some("mean_half_life_ms")
        );
        assert_eq!(
            bad(&|s| s.upper_half_life_ms = 400),
            Some("upper_half_life_ms")
        );
        assert_eq!(bad(&|s| s.upper_rise = 10), Some("upper_rise"));
        assert_eq!(bad(&|s| s.upper_rise = 1025), Some("upper_rise"));
        assert_eq!(bad(&|s| s.settle = 2000), Some("settle"));
    }

    #[test]
    fn shares_and_demands() {
        assert_eq!(cpu_share(50_000_000, 100_000_000), 512);
        assert_eq!(cpu_share(1, 0), 0);
        assert_eq!(cpu_share(u64::MAX, 1), u32::MAX);
        assert_eq!(runnable_share(12_500_000, 87_500_000, 100_000_000), 1024);
        assert_eq!(runnable_share(u64::MAX, u64::MAX, 1), u32::MAX);
        // Eight busy loops on one CPU.
        assert_eq!(demand(128, tasks(8)), LOAD_ONE);
        // Alone on an idle node: what it uses.
        assert_eq!(demand(300, 0), 300);
        assert_eq!(demand(u32::MAX, u32::MAX), u32::MAX);
        let m = Memory {
            free_kib: 49,
            total_kib: 1000,
        };
        assert!(m.below(50) && !m.below(49));
        assert_eq!(watermark_kib(1001, 500), 501);
        assert_eq!(watermark_kib(u64::MAX, 1000), u64::MAX);
        assert_eq!(kib_of(1025), 2);
    }

    fn smoothing() -> impl Strategy<Value = Smoothing> {
        (10u32..2000, 1u32..20, 0u32..4, 0u32..=1024, 0u32..200).prop_map(|(p, m, u, r, settle)| {
            let mean = p * m;
            let mut s = Smoothing {
                period_ms: p,
                mean_half_life_ms: mean,
                upper_half_life_ms: mean * (u + 1),
                upper_rise: r,
                settle,
            };
            let need = sample_weight(p, mean).div_ceil(WEIGHT_ONE / 1024);
            s.upper_rise = s.upper_rise.max(need);
            s
        })
    }

    proptest! {
        #[test]
        fn upper_is_never_below_mean(
            s in smoothing(),
            steps in proptest::collection::vec((0u32..20_000, 1u32..8, 0u8..5, 0u32..4096), 1..200),
        ) {
            prop_assert_eq!(s.check(), None);
            let mut p = LoadProbe::new(&s);
            for (runnable, cpus, op, d) in steps {
                match op {
                    0 => p.arrive(d),
                    1 => p.depart(d),
                    2 if runnable % 2 == 0 => p.reserve(d),
                    2 => p.land(d),
                    _ => p.sample(runnable, cpus),
                }
                prop_assert!(p.upper() >= p.mean(), "{:?}", p);
            }
        }

        #[test]
        fn a_steady_load_is_reached_exactly(s in smoothing(), start in 0u32..50_000, load in 0u32..50_000) {
            let mut p = LoadProbe::new(&s);
            p.sample(start, 1);
            // Within 40 half-lives of upper (and at least the gap / settle).
            for _ in 0..(40 * s.upper_half_life_ms / s.period_ms + 60) {
                p.sample(load, 1);
            }
            prop_assert_eq!((p.upper(), p.mean()), (load, load));
        }
    }
}
