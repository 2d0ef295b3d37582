//! The policies' parameters: [`BalanceParams`] (dynamic balancing),
//! [`PlaceParams`] (exec-time placement), [`MemoryParams`] (memory
//! pressure), and [`PolicyParams`], which holds them with the move cost
//! and the strategy by size. Loads are per CPU in 1/1024 of a task.

use super::cost::{MoveCost, StrategyBySize};
use super::probe::LOAD_ONE;

/// Dynamic balancing, MOSIX style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceParams {
    /// Hysteresis: a process moves only if the source's load stays above
    /// the destination's load after the move by more than this, and if
    /// the move shifts at least this much load (source and destination
    /// together).
    pub margin: u32,
    /// A node sends work away only when its averaged load is above this.
    pub busy_above: u32,
    /// A process is not moved until it has been on its node this long.
    pub min_residency_ms: u32,
    /// A process is not sent back to the node it came from until it has
    /// been away this long.
    pub return_after_ms: u32,
}

impl BalanceParams {
    /// Defaults: a quarter of a task per CPU of hysteresis; a node sends
    /// work only when it has more than one task per CPU (with fewer,
    /// every task has its CPU); a process stays at least 2 s where it
    /// lands (long enough to measure its share over a second of the new
    /// node, and twice the time a load takes to settle), and does not go
    /// back where it came from within 20 s.
    pub const DEFAULT: BalanceParams = BalanceParams {
        margin: 256,
        busy_above: LOAD_ONE,
        min_residency_ms: 2000,
        return_after_ms: 20_000,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if self.margin > 8 * LOAD_ONE {
            Some("margin")
        } else if self.busy_above > 64 * LOAD_ONE {
            Some("busy_above")
        } else if self.min_residency_ms > 3_600_000 {
            Some("min_residency_ms")
        } else if self.return_after_ms < self.min_residency_ms || self.return_after_ms > 3_600_000 {
            Some("return_after_ms")
        } else {
            None
        }
    }
}

/// Exec-time placement (round-robin and least-loaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaceParams {
    /// A program is started elsewhere only when this node's load
    /// (`upper`) is above this.
    pub busy_above: u32,
    /// ... and on a node whose load with the program would be lower by
    /// at least this than this node's with it.
    pub min_gain: u32,
}

impl PlaceParams {
    /// Defaults: a node whose CPUs are three quarters busy starts
    /// programs where they would find half a CPU more.
    pub const DEFAULT: PlaceParams = PlaceParams {
        busy_above: 768,
        min_gain: 512,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if self.busy_above > 64 * LOAD_ONE {
            Some("busy_above")
        } else if self.min_gain == 0 || self.min_gain > 8 * LOAD_ONE {
            Some("min_gain")
        } else {
            None
        }
    }
}

/// Memory pressure: watermarks in 1/1000 of a node's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryParams {
    /// A node whose free memory is under this moves processes away.
    pub low_per_mille: u32,
    /// No process is sent (by any policy) to a node that would be left
    /// with less free memory than this; above `low_per_mille`, so that
    /// what arrives does not push the node under its own low mark.
    pub high_per_mille: u32,
    /// A process is not moved for memory until it has been on its node
    /// this long.
    pub min_residency_ms: u32,
}

impl MemoryParams {
    /// Defaults: under 5 % free a node sheds memory, to nodes left with
    /// at least 15 % free; a process that just arrived may go after
    /// half a second (memory cannot wait as long as CPU balance).
    pub const DEFAULT: MemoryParams = MemoryParams {
        low_per_mille: 50,
        high_per_mille: 150,
        min_residency_ms: 500,
    };

    /// The first field out of its range, by name; `None` if all are in.
    pub fn check(&self) -> Option<&'static str> {
        if self.low_per_mille >= self.high_per_mille {
            Some("low_per_mille")
        } else if self.high_per_mille > 900 {
            Some("high_per_mille")
        } else if self.min_residency_ms > 3_600_000 {
            Some("min_residency_ms")
        } else {
            None
        }
    }
}

/// Everything the policies need besides the loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyParams {
    /// Dynamic balancing.
    pub balance: BalanceParams,
    /// Exec-time placement.
    pub place: PlaceParams,
    /// Memory pressure.
    pub memory: MemoryParams,
    /// The move-cost estimate.
    pub cost: MoveCost,
    /// The strategy by size.
    pub strategy: StrategyBySize,
}

impl PolicyParams {
    /// Every part's defaults.
    pub const DEFAULT: PolicyParams = PolicyParams {
        balance: BalanceParams::DEFAULT,
        place: PlaceParams::DEFAULT,
        memory: MemoryParams::DEFAULT,
        cost: MoveCost::DEFAULT,
        strategy: StrategyBySize::DEFAULT,
    };

    /// The first field out of its range; `None` if all are in.
    pub fn check(&self) -> Option<BadParam> {
        let parts = [
            ("balance", self.balance.check()),
            ("place", self.place.check()),
            ("memory", self.memory.check()),
            ("cost", self.cost.check()),
            ("strategy", self.strategy.check()),
        ];
        parts.into_iter().find_map(|(part, field)| {
            Some(BadParam {
                part,
                field: field?,
            })
        })
    }
}

/// A parameter out of its range: the part it belongs to (`balance`,
/// `place`, `memory`, `cost`, `strategy`; the configuration adds `load`
/// and `report`) and its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadParam {
    /// The part.
    pub part: &'static str,
    /// The field.
    pub field: &'static str,
}

impl Default for BalanceParams {
    fn default() -> Self {
        BalanceParams::DEFAULT
    }
}

impl Default for PlaceParams {
    fn default() -> Self {
        PlaceParams::DEFAULT
    }
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_fields_are_named() {
        assert_eq!(PolicyParams::DEFAULT.check(), None);
        assert_eq!(PolicyParams::default(), PolicyParams::DEFAULT);
        let bad = |f: &dyn Fn(&mut PolicyParams)| {
            let mut p = PolicyParams::DEFAULT;
            f(&mut p);
            p.check()
        };
        let named = |part, field| Some(BadParam { part, field });
        assert_eq!(
            bad(&|p| p.balance.margin = 9000),
            named("balance", "margin")
        );
        assert_eq!(
            bad(&|p| p.balance.return_after_ms = 10),
            named("balance", "return_after_ms")
        );
        assert_eq!(bad(&|p| p.place.min_gain = 0), named("place", "min_gain"));
        assert_eq!(
            bad(&|p| p.memory.low_per_mille = 150),
            named("memory", "low_per_mille")
        );
        assert_eq!(
            bad(&|p| p.memory.high_per_mille = 901),
            named("memory", "high_per_mille")
        );
        assert_eq!(
            bad(&|p| p.cost.bandwidth_kib_s = 0),
            named("cost", "bandwidth_kib_s")
        );
        assert_eq!(
            bad(&|p| p.strategy.large_min_bytes = 0),
            named("strategy", "large_min_bytes")
        );
    }
}
