//! Node pid ranges: the first half of "one pid for life" (issue 20).
//!
//! Every node allocates the new pids of the initial pid namespace only from
//! its own slot, so a pid is never in use on two nodes at once. A slot holds
//! [`SLOT`] pids: node N (1..=[`MAX_RANGED_NODE`]) owns `[N·SLOT, (N+1)·SLOT)`.
//! Slot 0 holds the processes that predate the module (init, early kernel
//! threads, whatever ran before `insmod`): the same low pids exist on every
//! node, so they are node-local. Every node's `pid_max` must be at least
//! [`PID_MAX_NEEDED`] so that the top slot is usable and a restore may ask
//! for any cluster pid.

/// log2 of the slot size.
pub const SLOT_BITS: u32 = 16;
/// Pids per slot (65536).
pub const SLOT: u32 = 1 << SLOT_BITS;
/// Number of slots, slot 0 included.
pub const SLOTS: u32 = 64;
/// The highest node id that has a range; larger ids run without one.
pub const MAX_RANGED_NODE: u32 = SLOTS - 1;
/// The `pid_max` every node needs: 64 slots, 4,194,304 (the kernel's
/// `PID_MAX_LIMIT` on 64-bit).
pub const PID_MAX_NEEDED: u32 = SLOTS * SLOT;

/// The pids a node allocates: `lo..hi` (`hi` excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidRange {
    /// First pid of the range.
    pub lo: u32,
    /// One past the last pid of the range.
    pub hi: u32,
}

impl PidRange {
    /// Whether `pid` is in the range.
    pub fn contains(self, pid: u32) -> bool {
        self.lo <= pid && pid < self.hi
    }
}

/// Why a node has no pid range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRange {
    /// The node id is not set (0).
    NoNodeId,
    /// The node id is above [`MAX_RANGED_NODE`].
    NodeIdTooLarge,
}

impl NoRange {
    /// A short explanation, for logs and `/proc/ssi/node`.
    pub fn describe(self) -> &'static str {
        match self {
            NoRange::NoNodeId => "no node id",
            NoRange::NodeIdTooLarge => "node id above 63",
        }
    }
}

/// The pid range of node `node`, or why it has none.
pub fn range_of(node: u32) -> Result<PidRange, NoRange> {
    match node {
        0 => Err(NoRange::NoNodeId),
        n if n > MAX_RANGED_NODE => Err(NoRange::NodeIdTooLarge),
        n => Ok(PidRange {
            lo: n * SLOT,
            hi: (n + 1) * SLOT,
        }),
    }
}

/// Whether `pid` was allocated in a node's range (not in slot 0), so it
/// names the same process on every node.
pub fn is_cluster_wide(pid: u32) -> bool {
    pid >= SLOT
}

/// The node whose range holds `pid`; `None` for slot 0 (node-local pids)
/// and for pids beyond the last slot.
pub fn node_of(pid: u32) -> Option<u32> {
    let slot = pid >> SLOT_BITS;
    (1..=MAX_RANGED_NODE).contains(&slot).then_some(slot)
}

/// Whether a `pid_max` value lets every node's range be allocated.
pub fn pid_max_suffices(pid_max: u64) -> bool {
    pid_max >= u64::from(PID_MAX_NEEDED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        assert_eq!(SLOT, 65536);
        assert_eq!(PID_MAX_NEEDED, 4_194_304);
        assert_eq!(
            range_of(1),
            Ok(PidRange {
                lo: 65536,
                hi: 131072
            })
        );
        assert_eq!(
            range_of(63),
            Ok(PidRange {
                lo: 63 * 65536,
                hi: PID_MAX_NEEDED
            })
        );
        assert_eq!(range_of(0), Err(NoRange::NoNodeId));
        assert_eq!(range_of(64), Err(NoRange::NodeIdTooLarge));
        assert_eq!(range_of(4095), Err(NoRange::NodeIdTooLarge));
        assert_eq!(range_of(u32::MAX), Err(NoRange::NodeIdTooLarge));
    }

    #[test]
    fn slot_zero_is_node_local() {
        for pid in [0, 1, 2, 300, 32767, 65535] {
            assert!(!is_cluster_wide(pid));
            assert_eq!(node_of(pid), None);
        }
        assert!(is_cluster_wide(65536));
        assert_eq!(node_of(65536), Some(1));
        assert_eq!(node_of(PID_MAX_NEEDED - 1), Some(63));
        assert_eq!(node_of(PID_MAX_NEEDED), None);
        assert_eq!(node_of(u32::MAX), None);
    }

    #[test]
    fn pid_max_bound() {
        assert!(!pid_max_suffices(32768));
        assert!(!pid_max_suffices(u64::from(PID_MAX_NEEDED) - 1));
        assert!(pid_max_suffices(u64::from(PID_MAX_NEEDED)));
    }

    proptest! {
        #[test]
        fn ranges_of_distinct_nodes_never_overlap(a in 1u32..=63, b in 1u32..=63) {
            prop_assume!(a != b);
            let (ra, rb) = (range_of(a).unwrap(), range_of(b).unwrap());
            prop_assert!(ra.hi <= rb.lo || rb.hi <= ra.lo);
        }

        #[test]
        fn every_pid_of_a_range_maps_back(node in 1u32..=63, off in 0u32..SLOT) {
            let r = range_of(node).unwrap();
            let pid = r.lo + off;
            prop_assert!(r.contains(pid));
            prop_assert!(is_cluster_wide(pid));
            prop_assert_eq!(node_of(pid), Some(node));
        }

        #[test]
        fn bounds(node in any::<u32>()) {
            match range_of(node) {
                Ok(r) => {
                    prop_assert!((1..=MAX_RANGED_NODE).contains(&node));
                    prop_assert_eq!(r.hi - r.lo, SLOT);
                    prop_assert!(r.lo >= SLOT);
                    prop_assert!(r.hi <= PID_MAX_NEEDED);
                    prop_assert!(!r.contains(r.hi) && !r.contains(r.lo - 1));
                }
                Err(e) => prop_assert!(node == 0 || node > MAX_RANGED_NODE, "{:?}", e),
            }
        }

        #[test]
        fn node_of_agrees_with_range_of(pid in any::<u32>()) {
            match node_of(pid) {
                Some(n) => prop_assert!(range_of(n).unwrap().contains(pid)),
                None => prop_assert!(!(SLOT..PID_MAX_NEEDED).contains(&pid)),
            }
        }
    }
}
