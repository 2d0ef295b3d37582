//! What moving a process costs ([`move_cost_ms`]) and how it is moved
//! ([`Strategy`], chosen by its size with [`StrategyBySize`]).

use super::super::ctl;

/// How a process is migrated; the codes are `ctl`'s `STRATEGY_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Freeze, send everything, resume at the destination.
    Eager,
    /// Copy while it runs, then rounds of dirty pages, then freeze.
    Precopy,
    /// Resume at the destination at once, push the pages, fetch the
    /// missing ones.
    Postcopy,
    /// Resume at the destination at once, fetch pages only when touched.
    Lazy,
}

impl Strategy {
    /// Every strategy, by code.
    pub const ALL: [Strategy; 4] = [
        Strategy::Eager,
        Strategy::Precopy,
        Strategy::Postcopy,
        Strategy::Lazy,
    ];

    /// Its code in a migrate request (`ctl::STRATEGY_*`).
    pub fn code(self) -> u8 {
        match self {
            Strategy::Eager => ctl::STRATEGY_EAGER,
            Strategy::Precopy => ctl::STRATEGY_PRECOPY,
            Strategy::Postcopy => ctl::STRATEGY_POSTCOPY,
            Strategy::Lazy => ctl::STRATEGY_LAZY,
        }
    }

    /// The strategy of a code; `None` for an unknown one.
    pub fn from_code(code: u8) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Its name, as `ssi-ctl` spells it.
    pub fn name(self) -> &'static str {
        ctl::strategy_name(self.code())
    }

    /// The strategy of a name.
    pub fn from_name(name: &[u8]) -> Option<Strategy> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name().as_bytes() == name)
    }

    /// Whether the source keeps pages after the process resumes at the
    /// destination until they are fetched (lazy): such a move frees no
    /// memory soon.
    pub fn leaves_pages_behind(self) -> bool {
        self == Strategy::Lazy
    }
}

/// The strategy by resident size: up to `small_max_bytes` `small`, from
/// `large_min_bytes` on `large`, `medium` between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategyBySize {
    /// The largest size moved with `small`.
    pub small_max_bytes: u64,
    /// For small processes.
    pub small: Strategy,
    /// For the others.
    pub medium: Strategy,
    /// The smallest size moved with `large`; above `small_max_bytes`.
    pub large_min_bytes: u64,
    /// For large processes.
    pub large: Strategy,
}

impl StrategyBySize {
    /// Defaults: eager up to 64 MiB (its freeze, the whole copy, is then
    /// under a second on a gigabit link), pre-copy up to 1 GiB (a short
    /// freeze, everything copied before the source lets go), post-copy
    /// beyond (the process runs at once; pre-copy of that much takes
    /// too long to catch up with its writes).
    pub const DEFAULT: StrategyBySize = StrategyBySize {
        small_max_bytes: 64 << 20,
        small: Strategy::Eager,
        medium: Strategy::Precopy,
        large_min_bytes: 1 << 30,
        large: Strategy::Postcopy,
    };

    /// The strategy for a process of `rss_bytes`.
    pub fn for_size(&self, rss_bytes: u64) -> Strategy {
        if rss_bytes <= self.small_max_bytes {
            self.small
        } else if rss_bytes >= self.large_min_bytes {
            self.large
        } else {
            self.medium
        }
    }

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        (self.large_min_bytes <= self.small_max_bytes).then_some("large_min_bytes")
    }
}

impl Default for StrategyBySize {
    fn default() -> Self {
        StrategyBySize::DEFAULT
    }
}

/// What the move-cost estimate knows of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveCost {
    /// The link's bandwidth for migration data, KiB per second.
    pub bandwidth_kib_s: u32,
    /// The fixed cost of any move: freezing, the image's other parts,
    /// the deputy, in milliseconds.
    pub freeze_ms: u32,
    /// A process whose move would take longer than this is not moved
    /// by the CPU balancer (memory pressure moves it anyway).
    pub max_ms: u32,
}

impl MoveCost {
    /// Defaults: 100 MiB/s (what a gigabit link gives a stream), 50 ms
    /// for the fixed part, 10 s at most: the CPU balancer moves up to
    /// about 1 GiB.
    pub const DEFAULT: MoveCost = MoveCost {
        bandwidth_kib_s: 100 * 1024,
        freeze_ms: 50,
        max_ms: 10_000,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if self.bandwidth_kib_s == 0 {
            Some("bandwidth_kib_s")
        } else if self.freeze_ms > 600_000 {
            Some("freeze_ms")
        } else if self.max_ms < self.freeze_ms {
            Some("max_ms")
        } else {
            None
        }
    }
}

impl Default for MoveCost {
    fn default() -> Self {
        MoveCost::DEFAULT
    }
}

/// The estimated time to move a process of `rss_bytes`: its bytes over
/// the link plus the fixed part, in milliseconds (rounded up).
pub fn move_cost_ms(rss_bytes: u64, c: &MoveCost) -> u64 {
    let per_s = u64::from(c.bandwidth_kib_s.max(1)) * 1024;
    let transfer = rss_bytes.saturating_mul(1000).div_ceil(per_s);
    transfer.saturating_add(u64::from(c.freeze_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    // Not proptest's.
    use super::Strategy;

    #[test]
    fn strategies() {
        for s in Strategy::ALL {
            assert_eq!(Strategy::from_code(s.code()), Some(s));
            assert_eq!(Strategy::from_name(s.name().as_bytes()), Some(s));
        }
        assert_eq!(Strategy::from_code(4), None);
        assert_eq!(Strategy::from_name(b"fast"), None);
        assert_eq!(Strategy::Precopy.name(), "precopy");
        let d = StrategyBySize::DEFAULT;
        assert_eq!(d.check(), None);
        assert_eq!(d.for_size(0), Strategy::Eager);
        assert_eq!(d.for_size(64 << 20), Strategy::Eager);
        assert_eq!(d.for_size((64 << 20) + 1), Strategy::Precopy);
        assert_eq!(d.for_size(1 << 30), Strategy::Postcopy);
        let bad = StrategyBySize {
            large_min_bytes: 64 << 20,
            ..d
        };
        assert_eq!(bad.check(), Some("large_min_bytes"));
    }

    #[test]
    fn costs() {
        let c = MoveCost::DEFAULT;
        assert_eq!(c.check(), None);
        assert_eq!(move_cost_ms(0, &c), 50);
        assert_eq!(move_cost_ms(100 << 20, &c), 1050);
        assert_eq!(move_cost_ms(1, &c), 51);
        assert_eq!(move_cost_ms(u64::MAX, &c), 175_921_860_495);
        let zero = MoveCost {
            bandwidth_kib_s: 0,
            ..c
        };
        assert_eq!(zero.check(), Some("bandwidth_kib_s"));
        assert_eq!(move_cost_ms(1024, &zero), 1050);
    }

    proptest! {
        #[test]
        fn bigger_costs_more(a: u64, b: u64, bw in 1u32.., freeze in 0u32..1000) {
            let c = MoveCost { bandwidth_kib_s: bw, freeze_ms: freeze, max_ms: u32::MAX };
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(move_cost_ms(lo, &c) <= move_cost_ms(hi, &c));
            prop_assert!(move_cost_ms(lo, &c) >= u64::from(freeze));
        }
    }
}
