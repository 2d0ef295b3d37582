//! Unit and property tests of the policies: the balancer's rules, memory
//! pressure and exec-time placement.

extern crate std;
use super::*;
use proptest::prelude::*;
// The migration strategy, not proptest's (whose methods stay usable).
use super::Strategy;
use proptest::strategy::Strategy as _;
use std::vec::Vec;

const P: PolicyParams = PolicyParams::DEFAULT;
const GIB_KIB: u64 = 1 << 20;

/// A node of `cpus` CPUs with a steady per-CPU `load` and half its 4 GiB
/// free.
fn node(id: u16, cpus: u32, load: u32) -> NodeLoad {
    NodeLoad {
        id,
        alive: true,
        cpus,
        upper: load,
        mean: load,
        free_kib: 2 * GIB_KIB,
        total_kib: 4 * GIB_KIB,
        ..NodeLoad::default()
    }
}

fn table(nodes: &[NodeLoad]) -> NodeTable {
    let mut t = NodeTable::new();
    for n in nodes {
        assert!(t.put(*n));
    }
    t
}

/// A busy loop here for a minute, 16 MiB.
fn job(pid: u32) -> Candidate {
    Candidate {
        pid,
        demand: LOAD_ONE,
        rss_bytes: 16 << 20,
        residency_ms: 60_000,
        ..Candidate::default()
    }
}

fn moved(d: Decision) -> Move {
    match d {
        Decision::Migrate(m) => m,
        Decision::Stay(s) => panic!("stayed: {s:?}"),
    }
}

#[test]
fn only_a_busy_node_sends() {
    let t = table(&[node(2, 1, 0)]);
    let here = node(1, 1, LOAD_ONE);
    let d = dynamic_balance(&here, &t, &[job(10)], NodeSet::All, &P);
    assert_eq!(d, Decision::Stay(Stay::NoNeed));
}

#[test]
fn destinations_are_alive_nodes_of_the_set() {
    let here = node(1, 1, 3 * LOAD_ONE);
    let jobs = [job(10), job(11), job(12)];
    let dead = NodeLoad {
        alive: false,
        ..node(2, 1, 0)
    };
    for t in [
        table(&[]),
        table(&[dead]),
        table(&[here]),
        table(&[node(3, 0, 0)]),
    ] {
        assert_eq!(
            dynamic_balance(&here, &t, &jobs, NodeSet::All, &P),
            Decision::Stay(Stay::NoDestination)
        );
    }
    let t = table(&[node(2, 1, 0)]);
    let not_2 = NodeSet::EMPTY.with(1).unwrap().with(3).unwrap();
    assert_eq!(
        dynamic_balance(&here, &t, &jobs, not_2, &P),
        Decision::Stay(Stay::NoDestination)
    );
    assert_eq!(
        moved(dynamic_balance(&here, &t, &jobs, NodeSet::All, &P)).dest,
        2
    );
}

#[test]
fn three_against_one_moves_one_two_against_one_none() {
    let jobs = [job(10), job(11), job(12)];
    let t = table(&[node(2, 1, LOAD_ONE)]);
    let m = moved(dynamic_balance(
        &node(1, 1, 3 * LOAD_ONE),
        &t,
        &jobs,
        NodeSet::All,
        &P,
    ));
    assert_eq!(
        (m.dest, m.demand, m.source_after, m.dest_after),
        (2, 1024, 2048, 2048)
    );
    assert_eq!(m.strategy, Strategy::Eager);
    assert_eq!(m.rss_kib, 16 << 10);
    assert_eq!(m.cost_ms, 210);
    let d = dynamic_balance(&node(1, 1, 2 * LOAD_ONE), &t, &jobs[..2], NodeSet::All, &P);
    assert_eq!(d, Decision::Stay(Stay::Balanced));
    // Within the margin of the least loaded node: balanced.
    let t = table(&[node(2, 1, 2 * LOAD_ONE - 256)]);
    let d = dynamic_balance(&node(1, 1, 2 * LOAD_ONE), &t, &jobs, NodeSet::All, &P);
    assert_eq!(d, Decision::Stay(Stay::Balanced));
}

#[test]
fn no_process_fits_when_each_is_too_heavy() {
    // 2.5 tasks here, 1 there: a whole task would leave it at 1.5
    // against 2; a quarter of a task fits.
    let t = table(&[node(2, 1, LOAD_ONE)]);
    let here = node(1, 1, 2 * LOAD_ONE + 512);
    let d = dynamic_balance(&here, &t, &[job(10), job(11)], NodeSet::All, &P);
    assert_eq!(d, Decision::Stay(Stay::Balanced));
    let light = Candidate {
        demand: 256,
        ..job(12)
    };
    assert_eq!(
        moved(dynamic_balance(
            &here,
            &t,
            &[job(10), light],
            NodeSet::All,
            &P
        ))
        .pid,
        12
    );
    // An idle process is not worth moving.
    let idle = Candidate {
        demand: 0,
        ..job(13)
    };
    let d = dynamic_balance(&node(1, 1, 4 * LOAD_ONE), &t, &[idle], NodeSet::All, &P);
    assert_eq!(d, Decision::Stay(Stay::Balanced));
    // One that would help but may not go, one that would not help.
    let pinned = Candidate {
        pinned: true,
        ..job(14)
    };
    let d = dynamic_balance(
        &node(1, 1, 4 * LOAD_ONE),
        &t,
        &[idle, pinned],
        NodeSet::All,
        &P,
    );
    let counts = SkipCounts {
        pinned: 1,
        no_fit: 1,
        ..SkipCounts::default()
    };
    assert_eq!(d, Decision::Stay(Stay::NoProcess(counts)));
}

#[test]
fn skipped_processes_are_counted_by_reason() {
    let t = table(&[node(2, 1, 0)]);
    let here = node(1, 1, 4 * LOAD_ONE);
    let jobs = [
        Candidate {
            pinned: true,
            ..job(10)
        },
        Candidate {
            unmovable: Some(Unmovable::Traced),
            ..job(11)
        },
        Candidate {
            residency_ms: 1999,
            ..job(12)
        },
        Candidate {
            rss_bytes: 2 << 30,
            ..job(13)
        },
        Candidate {
            left: [
                Left { node: 3, ms_ago: 1 },
                Left {
                    node: 2,
                    ms_ago: 19_999,
                },
                Left::default(),
                Left::default(),
            ],
            ..job(14)
        },
    ];
    let d = dynamic_balance(&here, &t, &jobs, NodeSet::All, &P);
    let counts = SkipCounts {
        pinned: 1,
        unmovable: 1,
        too_recent: 1,
        too_costly: 1,
        would_return: 1,
        ..SkipCounts::default()
    };
    assert_eq!(d, Decision::Stay(Stay::NoProcess(counts)));
    assert_eq!(
        balance_skip(&jobs[1], &P),
        Some(Skip::Unmovable(Unmovable::Traced))
    );
    assert_eq!(Unmovable::Traced.name(), "traced");
    // Long enough away: it may go back.
    let mut back = jobs[4];
    back.left[1].ms_ago = 20_000;
    assert_eq!(
        moved(dynamic_balance(&here, &t, &[back], NodeSet::All, &P)).pid,
        14
    );
    // A destination short of memory.
    let full = NodeLoad {
        free_kib: 600 << 10,
        ..node(2, 1, 0)
    };
    let d = dynamic_balance(&here, &table(&[full]), &[job(15)], NodeSet::All, &P);
    assert!(matches!(d, Decision::Stay(Stay::NoProcess(c)) if c.no_room == 1));
}

#[test]
fn least_loaded_destination_and_best_process() {
    let t = table(&[
        node(2, 1, 2 * LOAD_ONE),
        node(3, 2, 256),
        node(4, 1, 512),
        node(5, 4, 1024),
    ]);
    let here = node(1, 1, 4 * LOAD_ONE);
    let jobs = [
        Candidate {
            moves: 1,
            ..job(10)
        },
        Candidate {
            residency_ms: 70_000,
            ..job(11)
        },
        job(12),
        Candidate {
            demand: 600,
            ..job(13)
        },
    ];
    let m = moved(dynamic_balance(&here, &t, &jobs, NodeSet::All, &P));
    // Node 3 (a quarter loaded); a whole task leaves the two closest,
    // of those the one moved less often and here longer.
    assert_eq!((m.dest, m.pid), (3, 11));
    assert_eq!((m.source_after, m.dest_after), (3072, 768));
    // What this node sent there counts.
    let mut busy3 = *t.get(3).unwrap();
    busy3.pending_load = 1024;
    let mut t2 = t;
    t2.put(busy3);
    assert_eq!(
        moved(dynamic_balance(&here, &t2, &jobs, NodeSet::All, &P)).dest,
        4
    );
}

#[test]
fn strategies_by_size() {
    let t = table(&[node(2, 1, 0)]);
    let here = node(1, 1, 3 * LOAD_ONE);
    let big = Candidate {
        rss_bytes: 200 << 20,
        ..job(10)
    };
    assert_eq!(
        moved(dynamic_balance(&here, &t, &[big], NodeSet::All, &P)).strategy,
        Strategy::Precopy
    );
    let mut p = P;
    p.strategy.large_min_bytes = 100 << 20;
    p.strategy.large = Strategy::Lazy;
    assert_eq!(
        moved(dynamic_balance(&here, &t, &[big], NodeSet::All, &p)).strategy,
        Strategy::Lazy
    );
}

#[test]
fn destinations_admit_only_what_keeps_them_below_the_source() {
    let here = node(2, 1, LOAD_ONE);
    assert!(admit(&here, LOAD_ONE, 2048));
    assert!(!admit(&here, LOAD_ONE, 2047));
    assert!(admit(&node(2, 4, 0), 4096, 1024));
}

#[test]
fn memory_pressure_sheds_the_largest_that_fits() {
    let short = NodeLoad {
        free_kib: 100 << 10,
        ..node(1, 1, LOAD_ONE)
    };
    let roomy = NodeLoad {
        free_kib: 3 * GIB_KIB,
        ..node(2, 1, 2 * LOAD_ONE)
    };
    let tight = NodeLoad {
        free_kib: GIB_KIB,
        ..node(3, 1, 0)
    };
    let t = table(&[roomy, tight]);
    let mb = |pid, mib: u64| Candidate {
        rss_bytes: mib << 20,
        ..job(pid)
    };
    let jobs = [mb(10, 100), mb(11, 2000), mb(12, 2700), mb(13, 400)];
    let m = moved(memory_pressure(&short, &t, &jobs, NodeSet::All, &P));
    // 2700 MiB fits nowhere above 15 %; 2000 MiB only on node 2.
    assert_eq!((m.pid, m.dest, m.strategy), (11, 2, Strategy::Postcopy));
    // Lazy leaves pages behind: post-copy instead.
    let mut p = P;
    p.strategy.large = Strategy::Lazy;
    assert_eq!(
        moved(memory_pressure(&short, &t, &jobs, NodeSet::All, &p)).strategy,
        Strategy::Postcopy
    );
    // Enough free here: nothing.
    assert_eq!(
        memory_pressure(&node(1, 1, 0), &t, &jobs, NodeSet::All, &P),
        Decision::Stay(Stay::NoNeed)
    );
    // Nothing fits anywhere.
    let d = memory_pressure(&short, &t, &[mb(12, 2700)], NodeSet::All, &P);
    assert!(matches!(d, Decision::Stay(Stay::NoProcess(c)) if c.no_room == 1));
    assert_eq!(
        memory_pressure(&short, &table(&[]), &jobs, NodeSet::All, &P),
        Decision::Stay(Stay::NoDestination)
    );
    // Pinned and just arrived are skipped.
    let pinned = Candidate {
        pinned: true,
        ..mb(11, 2000)
    };
    let recent = Candidate {
        residency_ms: 10,
        ..mb(11, 2000)
    };
    assert_eq!(memory_skip(&pinned, &P), Some(Skip::Pinned));
    assert_eq!(memory_skip(&recent, &P), Some(Skip::TooRecent));
}

#[test]
fn placement() {
    let t = table(&[
        node(2, 1, LOAD_ONE),
        node(3, 1, 0),
        node(4, 2, 0),
        node(5, 1, 900),
    ]);
    let mut s = PlaceState::default();
    let idle = node(1, 1, 700);
    assert_eq!(
        place(PlaceKind::LeastLoaded, &idle, &t, NodeSet::All, &P, &mut s),
        None
    );
    let busy = node(1, 1, LOAD_ONE);
    // With the program: here 2048; node 4 512, node 3 1024, node 5
    // 1924 (not half a CPU better), node 2 2048.
    assert_eq!(
        place(PlaceKind::LeastLoaded, &busy, &t, NodeSet::All, &P, &mut s),
        Some(4)
    );
    let rr: Vec<Option<u16>> = (0..4)
        .map(|_| place(PlaceKind::RoundRobin, &busy, &t, NodeSet::All, &P, &mut s))
        .collect();
    assert_eq!(rr, [Some(3), Some(4), Some(3), Some(4)]);
    let only3 = NodeSet::EMPTY.with(3).unwrap();
    assert_eq!(
        place(PlaceKind::RoundRobin, &busy, &t, only3, &P, &mut s),
        Some(3)
    );
    // A node short of memory is not a destination.
    let t = table(&[NodeLoad {
        free_kib: 100,
        ..node(3, 1, 0)
    }]);
    assert_eq!(
        place(PlaceKind::LeastLoaded, &busy, &t, NodeSet::All, &P, &mut s),
        None
    );
}

#[test]
fn a_burst_of_execs_spreads() {
    // Eight programs exec on a busy node; each placement is counted on
    // its destination before the next.
    let mut cache = LoadCache::new(10_000);
    for id in 2..=4 {
        let r = node(id, 1, 0).report();
        cache.on_report(id, &LoadReport { seq: 1, ..r }, 0).unwrap();
    }
    let busy = node(1, 1, 2 * LOAD_ONE);
    let mut s = PlaceState::default();
    let mut placed = [0u32; 5];
    for _ in 0..8 {
        let t = cache.table(0);
        if let Some(d) = place(PlaceKind::LeastLoaded, &busy, &t, NodeSet::All, &P, &mut s) {
            placed[usize::from(d)] += 1;
            cache.note_sent(d, LOAD_ONE, 0);
        }
    }
    // Each idle node takes two; then this node (3 tasks with the
    // program) is no worse than them.
    assert_eq!(placed, [0, 0, 2, 2, 2]);
}

fn node_strategy(id: u16) -> impl proptest::strategy::Strategy<Value = NodeLoad> {
    (
        any::<bool>(),
        0u32..5,
        0u32..8192,
        0u32..2048,
        0u64..4096,
        0u32..4096,
        0u64..1024,
    )
        .prop_map(
            move |(alive, cpus, mean, extra, free_mib, pending, pending_mib)| NodeLoad {
                id,
                alive,
                cpus,
                upper: mean + extra,
                mean,
                free_kib: free_mib << 10,
                total_kib: 4 * GIB_KIB,
                pending_load: pending,
                pending_kib: pending_mib << 10,
                ..NodeLoad::default()
            },
        )
}

fn candidate_strategy() -> impl proptest::strategy::Strategy<Value = Candidate> {
    (
        1u32..40,
        0u32..3000,
        0u64..(3 << 30),
        0u64..40_000,
        0u32..4,
        (0u16..6, 0u64..40_000),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(pid, demand, rss_bytes, residency_ms, moves, (from, ago), pinned, stuck)| Candidate {
                pid,
                demand,
                rss_bytes,
                residency_ms,
                moves,
                left: [
                    Left {
                        node: from,
                        ms_ago: ago,
                    },
                    Left::default(),
                    Left::default(),
                    Left::default(),
                ],
                pinned,
                unmovable: stuck.then_some(Unmovable::Other),
            },
        )
}

fn params_strategy() -> impl proptest::strategy::Strategy<Value = PolicyParams> {
    (0u32..1024, 512u32..3000, 0u32..5000).prop_map(|(margin, busy_above, min_residency_ms)| {
        let mut p = P;
        p.balance.margin = margin;
        p.balance.busy_above = busy_above;
        p.balance.min_residency_ms = min_residency_ms;
        p.balance.return_after_ms = min_residency_ms + 10_000;
        p
    })
}

fn cluster(
) -> impl proptest::strategy::Strategy<Value = (NodeLoad, NodeTable, Vec<Candidate>, PolicyParams)>
{
    (
        node_strategy(1),
        (
            node_strategy(2),
            node_strategy(3),
            node_strategy(4),
            node_strategy(5),
        ),
        proptest::collection::vec(candidate_strategy(), 0..12),
        params_strategy(),
    )
        .prop_map(|(mut local, (a, b, c, d), mut cands, p)| {
            for (i, c) in cands.iter_mut().enumerate() {
                c.pid = i as u32 + 1;
            }
            local.alive = true;
            local.cpus = local.cpus.max(1);
            (local, table(&[a, b, c, d]), cands, p)
        })
}

proptest! {
    #[test]
    fn a_move_never_leaves_the_destination_more_loaded((local, t, cands, p) in cluster()) {
        if let Decision::Migrate(m) = dynamic_balance(&local, &t, &cands, NodeSet::All, &p) {
            let c = cands.iter().find(|c| c.pid == m.pid).unwrap();
            let n = t.get(m.dest).unwrap();
            prop_assert!(n.alive && n.id != local.id && n.cpus > 0);
            prop_assert!(!c.pinned && c.unmovable.is_none());
            prop_assert!(c.residency_ms >= u64::from(p.balance.min_residency_ms));
            prop_assert!(!returns_too_soon(c, n.id, p.balance.return_after_ms));
            // On the balancer's view of both nodes, the source stays at
            // least as loaded, and was above by more than the margin.
            let src = local.mean;
            let dst = n.upper.max(n.mean) + n.pending_load;
            let src_after = src - c.demand / local.cpus;
            let dst_after = dst + c.demand.div_ceil(n.cpus);
            prop_assert_eq!((m.demand, m.source_after, m.dest_after), (c.demand, src_after, dst_after));
            prop_assert!(src_after >= dst_after);
            prop_assert!(src > dst_after + p.balance.margin);
            prop_assert!(src > p.balance.busy_above);
            // Memory stays above the destination's high mark.
            let left = n.free_kib - n.pending_kib - kib_of(c.rss_bytes);
            prop_assert!(left >= n.total_kib / 1000 * u64::from(p.memory.high_per_mille));
            // No less loaded destination would have taken any process.
            for o in t.nodes().iter().filter(|o| is_destination(o, local.id, NodeSet::All)) {
                if o.as_destination() < dst {
                    for c in cands.iter().filter(|c| balance_skip(c, &p).is_none()) {
                        let fits = cpu_move_fits(src, local.cpus, o.as_destination(), o.cpus, c.demand, p.balance.margin).is_some()
                            && !returns_too_soon(c, o.id, p.balance.return_after_ms)
                            && memory_room(o, kib_of(c.rss_bytes), p.memory.high_per_mille);
                        prop_assert!(!fits, "node {} was less loaded and fits {}", o.id, c.pid);
                    }
                }
            }
            // The destination, knowing its load, takes it.
            let dest_view = NodeLoad { upper: dst, mean: dst.min(n.mean + n.pending_load), ..*n };
            prop_assert!(admit(&dest_view, m.demand, m.source_after));
        }
    }

    #[test]
    fn loads_within_the_margin_move_nothing((mut local, t, cands, p) in cluster()) {
        // Every destination within the margin of this node.
        let least = t.nodes().iter()
            .filter(|o| is_destination(o, local.id, NodeSet::All))
            .map(NodeLoad::as_destination).min();
        if let Some(least) = least {
            local.mean = local.mean.min(least + p.balance.margin);
            local.upper = local.upper.max(local.mean);
            let d = dynamic_balance(&local, &t, &cands, NodeSet::All, &p);
            prop_assert!(matches!(d, Decision::Stay(Stay::Balanced | Stay::NoNeed)), "{:?}", d);
        }
    }

    #[test]
    fn the_destination_never_sends_it_back((local, t, cands, p) in cluster()) {
        if let Decision::Migrate(m) = dynamic_balance(&local, &t, &cands, NodeSet::All, &p) {
            // The same two nodes, as the destination sees them after the
            // move: it never sends any process to the source, even one
            // free to go back.
            let n = *t.get(m.dest).unwrap();
            let there = NodeLoad { upper: m.dest_after, mean: m.dest_after, pending_load: 0, ..n };
            let source = NodeLoad { upper: m.source_after, mean: m.source_after, pending_load: 0, ..local };
            let back: Vec<Candidate> = cands.iter().map(|c| Candidate {
                residency_ms: u64::MAX / 2,
                left: [Left::default(); MAX_LEFT],
                pinned: false,
                unmovable: None,
                ..*c
            }).collect();
            let d = dynamic_balance(&there, &table(&[source]), &back, NodeSet::All, &p);
            prop_assert!(!matches!(d, Decision::Migrate(_)), "{:?} after {:?}", d, m);
        }
    }

    #[test]
    fn memory_moves_keep_the_destination_above_its_mark((local, t, cands, p) in cluster()) {
        let short = NodeLoad { free_kib: local.free_kib / 64, ..local };
        if let Decision::Migrate(m) = memory_pressure(&short, &t, &cands, NodeSet::All, &p) {
            let c = cands.iter().find(|c| c.pid == m.pid).unwrap();
            let n = t.get(m.dest).unwrap();
            prop_assert!(is_destination(n, local.id, NodeSet::All));
            prop_assert!(memory_room(n, kib_of(c.rss_bytes), p.memory.high_per_mille));
            prop_assert!(memory_skip(c, &p).is_none() && c.rss_bytes > 0);
            prop_assert!(m.strategy != Strategy::Lazy);
            // The largest that fits somewhere.
            for o in cands.iter().filter(|o| memory_skip(o, &p).is_none() && kib_of(o.rss_bytes) > kib_of(c.rss_bytes)) {
                let fits = t.nodes().iter().any(|d| is_destination(d, local.id, NodeSet::All)
                    && memory_room(d, kib_of(o.rss_bytes), p.memory.high_per_mille));
                prop_assert!(!fits);
            }
        }
    }

    #[test]
    fn placement_goes_only_where_it_gains((local, t, _c, p) in cluster(), rr: bool) {
        let kind = if rr { PlaceKind::RoundRobin } else { PlaceKind::LeastLoaded };
        let mut s = PlaceState::default();
        if let Some(d) = place(kind, &local, &t, NodeSet::All, &p, &mut s) {
            let n = t.get(d).unwrap();
            prop_assert!(is_destination(n, local.id, NodeSet::All));
            let here = local.upper.max(local.mean);
            prop_assert!(here > p.place.busy_above);
            let there = n.as_destination() + LOAD_ONE.div_ceil(n.cpus);
            prop_assert!(there + p.place.min_gain <= here + LOAD_ONE / local.cpus.max(1)
                || there + p.place.min_gain <= here + LOAD_ONE.div_ceil(local.cpus));
            prop_assert_eq!(s.last, d);
        }
    }
}
