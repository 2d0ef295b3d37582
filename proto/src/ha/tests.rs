//! Unit and property tests of the protection state machine and the HA
//! bodies.

extern crate std;
use super::super::wire::WireError;
use super::*;
use proptest::prelude::*;
use std::vec::Vec;

const T: Timing = Timing {
    lease_lost_ms: 15_000,
    renew_ms: 2_000,
    margin_ms: 1_000,
};

fn here(now_ms: u64) -> Facts {
    Facts {
        now_ms,
        reachable: true,
        lease_silence_ms: 0,
    }
}

fn lost(now_ms: u64, silence: u64) -> Facts {
    Facts {
        now_ms,
        reachable: false,
        lease_silence_ms: silence,
    }
}

#[test]
fn fence_is_lease_plus_two_renewals_and_margin() {
    assert_eq!(T.fence_ms(), 20_000);
}

#[test]
fn checkpoints_every_interval_one_at_a_time_in_chains() {
    // A full image every 2: full, increment, full, increment, ...
    let mut p = Protection::new(70_001, 2, 2);
    assert_eq!(
        p.tick(&here(0), &T),
        Action::Checkpoint { seq: 1, parent: 0 }
    );
    // Not answered: nothing more, even after the interval.
    assert_eq!(p.tick(&here(5_000), &T), Action::Wait);
    assert_eq!(p.done(1, true, 0, 100, 7, 5_000).seqs(), &[] as &[u32]);
    assert_eq!(p.newest(), 1);
    assert_eq!(
        p.tick(&here(5_100), &T),
        Action::Checkpoint { seq: 2, parent: 1 }
    );
    assert_eq!(p.done(2, true, 1, 100, 7, 5_200).seqs(), &[] as &[u32]);
    assert_eq!(p.kept(), [1, 2]);
    assert_eq!(p.tick(&here(6_000), &T), Action::Wait);
    assert_eq!(
        p.tick(&here(7_100), &T),
        Action::Checkpoint { seq: 3, parent: 0 }
    );
    // The new full image replaces the whole chain before it.
    assert_eq!(p.done(3, true, 0, 100, 7, 7_200).seqs(), [1, 2]);
    assert_eq!(p.kept(), [3]);
    assert_eq!(p.written, 3);
}

#[test]
fn a_writer_may_answer_full_or_off_chain() {
    let mut p = Protection::new(70_001, 1, 8);
    assert_eq!(
        p.tick(&here(0), &T),
        Action::Checkpoint { seq: 1, parent: 0 }
    );
    p.done(1, true, 0, 1, 1, 10);
    assert_eq!(
        p.tick(&here(1_000), &T),
        Action::Checkpoint { seq: 2, parent: 1 }
    );
    // The writer could not base it on 1: a full image, which replaces 1.
    assert_eq!(p.done(2, true, 0, 1, 1, 1_010).seqs(), [1]);
    assert_eq!(
        p.tick(&here(2_000), &T),
        Action::Checkpoint { seq: 3, parent: 2 }
    );
    // Based on an image that is not the newest: not kept.
    assert_eq!(p.done(3, true, 1, 1, 1, 2_010).seqs(), [3]);
    assert_eq!(p.kept(), [2]);
    assert_eq!(p.failed, 1);
}

#[test]
fn failed_and_stale_answers() {
    let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
    assert_eq!(
        p.tick(&here(0), &T),
        Action::Checkpoint { seq: 1, parent: 0 }
    );
    assert_eq!(p.done(1, false, 0, 0, 0, 10), Removed::default());
    assert_eq!(p.newest(), 0);
    assert_eq!(p.failed, 1);
    // An answer to nothing asked changes nothing.
    assert_eq!(p.done(7, true, 0, 1, 1, 20), Removed::default());
    assert_eq!(p.newest(), 0);
    assert_eq!(
        p.tick(&here(1_000), &T),
        Action::Checkpoint { seq: 2, parent: 0 }
    );
    // Not answered in time: given up, the next one is asked.
    assert_eq!(
        p.tick(&here(1_000 + CHECKPOINT_TIMEOUT_MS), &T),
        Action::Checkpoint { seq: 3, parent: 0 }
    );
    assert_eq!(p.failed, 2);
    assert_eq!(
        p.done(2, true, 0, 1, 1, 200_000),
        Removed::default(),
        "the late answer of 2 is not taken"
    );
}

#[test]
fn lost_node_restarts_after_the_fence_only() {
    let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
    assert_eq!(
        p.tick(&here(0), &T),
        Action::Checkpoint { seq: 1, parent: 0 }
    );
    p.done(1, true, 0, 1, 1, 100);
    assert_eq!(
        p.tick(&here(1_000), &T),
        Action::Checkpoint { seq: 2, parent: 1 }
    );
    // Its node is lost while checkpoint 2 is written.
    assert_eq!(p.tick(&lost(2_000, 3_000), &T), Action::Wait);
    assert_eq!(p.phase, Phase::Lost);
    assert!(!p.checkpointing());
    assert_eq!(p.tick(&lost(18_000, 19_999), &T), Action::Wait);
    assert_eq!(
        p.tick(&lost(18_001, 20_000), &T),
        Action::Restart { seq: 1 }
    );
    assert_eq!(p.phase, Phase::Restarting);
    assert_eq!(p.tick(&lost(19_000, 21_000), &T), Action::Wait);
    // The answer of 2 from the lost node comes after all: not taken.
    assert_eq!(p.done(2, true, 1, 1, 1, 19_000), Removed::default());
    p.restarted(20_000);
    assert_eq!(p.restarts, 1);
    assert_eq!(p.phase, Phase::Running);
    assert_eq!(p.tick(&here(20_500), &T), Action::Wait);
    assert_eq!(
        p.tick(&here(21_000), &T),
        Action::Checkpoint { seq: 3, parent: 1 }
    );
}

#[test]
fn a_node_back_before_the_fence_is_followed_again() {
    let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
    p.tick(&here(0), &T);
    p.done(1, true, 0, 1, 1, 100);
    assert_eq!(p.tick(&lost(5_000, 6_000), &T), Action::Wait);
    assert_eq!(p.tick(&here(6_000), &T), Action::Wait);
    assert_eq!(p.phase, Phase::Running);
    assert_eq!(
        p.tick(&here(6_100), &T),
        Action::Checkpoint { seq: 2, parent: 1 }
    );
}

#[test]
fn no_image_gives_up() {
    let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
    assert_eq!(
        p.tick(&lost(0, 25_000), &T),
        Action::GiveUp(GiveUpReason::NoImage)
    );
    assert_eq!(p.phase, Phase::GivenUp);
    assert_eq!(p.tick(&here(1_000), &T), Action::Wait);
}

#[test]
fn failed_restarts_are_retried_then_given_up() {
    let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
    p.tick(&here(0), &T);
    p.done(1, true, 0, 1, 1, 100);
    let mut now = 30_000;
    for _ in 0..MAX_RESTART_TRIES - 1 {
        assert_eq!(p.tick(&lost(now, 30_000), &T), Action::Restart { seq: 1 });
        assert_eq!(p.restart_failed(now), Action::Wait);
        assert_eq!(
            p.tick(&lost(now + 1_000, 31_000), &T),
            Action::Wait,
            "not before the retry time"
        );
        now += RESTART_RETRY_MS;
    }
    assert_eq!(p.tick(&lost(now, 40_000), &T), Action::Restart { seq: 1 });
    assert_eq!(
        p.restart_failed(now),
        Action::GiveUp(GiveUpReason::RestartsFailed)
    );
    assert_eq!(p.phase, Phase::GivenUp);
}

#[test]
fn interval_is_clamped() {
    assert_eq!(Protection::new(1, 0, 1).interval_ms, 1_000);
    assert_eq!(
        Protection::new(1, 1_000_000, 1).interval_ms,
        u64::from(MAX_INTERVAL_S) * 1000
    );
}

#[test]
fn bodies_refuse_bad_fields() {
    let mut b = [0u8; 64];
    assert_eq!(
        CheckpointAsk {
            home_id: 1,
            home_pid: 2,
            seq: 0,
            parent: 0,
        }
        .encode(&mut b),
        Err(WireError::InvalidValue)
    );
    let n = CheckpointAsk {
        home_id: 1,
        home_pid: 2,
        seq: 3,
        parent: 0,
    }
    .encode(&mut b)
    .unwrap();
    assert_eq!(n, CheckpointAsk::LEN);
    let mut bad = b;
    bad[0] = 2;
    assert_eq!(CheckpointAsk::decode(&bad[..n]), Err(WireError::BadVersion));
    // An image based on itself.
    let mut bad = b;
    bad[20] = 3;
    assert_eq!(
        CheckpointAsk::decode(&bad[..n]),
        Err(WireError::InvalidValue)
    );
    assert_eq!(
        CheckpointAsk::decode(&b[..n - 1]),
        Err(WireError::Truncated)
    );
    assert_eq!(
        CheckpointAsk::decode(&b[..n + 1]),
        Err(WireError::TrailingBytes)
    );
    let d = CheckpointDone {
        home_id: 1,
        seq: 1,
        errno: 5000,
        parent: 0,
        bytes: 0,
        frozen_ns: 0,
        pages: 0,
        point: 0,
    };
    let n = d.encode(&mut b).unwrap();
    assert_eq!(
        CheckpointDone::decode(&b[..n]),
        Err(WireError::InvalidValue)
    );
}

proptest! {
    #[test]
    fn ask_round_trips(home_id: u64, home_pid: u32, seq in 1u32.., parent: u32) {
        prop_assume!(parent != seq);
        let a = CheckpointAsk { home_id, home_pid, seq, parent };
        let mut b = [0u8; CheckpointAsk::LEN];
        let n = a.encode(&mut b).unwrap();
        prop_assert_eq!(CheckpointAsk::decode(&b[..n]), Ok(a));
    }

    #[test]
    fn done_round_trips(home_id: u64, seq in 1u32.., errno in 0u32..4096, parent: u32, bytes: u64, frozen_ns: u64, pages: u64, point: u64) {
        prop_assume!(parent != seq);
        let d = CheckpointDone { home_id, seq, errno, parent, bytes, frozen_ns, pages, point };
        let mut b = [0u8; CheckpointDone::LEN];
        let n = d.encode(&mut b).unwrap();
        prop_assert_eq!(CheckpointDone::decode(&b[..n]), Ok(d));
    }

    #[test]
    fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = CheckpointAsk::decode(&b);
        let _ = CheckpointDone::decode(&b);
    }

    /// Against any sequence of facts and answers: a restart comes only
    /// after the fence, only from a complete image, never while the node
    /// is reachable; sequence numbers asked for only grow; at most one
    /// checkpoint is in flight.
    #[test]
    fn never_restarts_early_or_without_an_image(
        steps in proptest::collection::vec((0u64..5_000, any::<bool>(), 0u64..40_000, 0u8..4), 1..200)
    ) {
        let mut p = Protection::new(70_001, 1, DEFAULT_FULL_EVERY);
        let mut now = 0u64;
        let mut last_seq = 0u32;
        let mut in_flight: Option<(u32, u32)> = None;
        // The model of the chain kept: its full image first.
        let mut chain: Vec<u32> = Vec::new();
        for (dt, reachable, silence, event) in steps {
            now += dt;
            let f = Facts { now_ms: now, reachable, lease_silence_ms: if reachable { 0 } else { silence } };
            match p.tick(&f, &T) {
                Action::Checkpoint { seq, parent } => {
                    prop_assert!(reachable);
                    prop_assert!(seq > last_seq);
                    prop_assert!(parent == 0 || Some(&parent) == chain.last());
                    prop_assert!(chain.len() < DEFAULT_FULL_EVERY as usize || parent == 0);
                    last_seq = seq;
                    in_flight = Some((seq, parent));
                }
                Action::Restart { seq } => {
                    prop_assert!(!reachable);
                    prop_assert!(silence >= T.fence_ms());
                    prop_assert_eq!(Some(&seq), chain.last());
                    prop_assert_eq!(p.kept(), &chain[..]);
                    match event {
                        0 => p.restarted(now),
                        _ => { let _ = p.restart_failed(now); }
                    }
                }
                Action::GiveUp(GiveUpReason::NoImage) => prop_assert!(chain.is_empty()),
                Action::GiveUp(GiveUpReason::RestartsFailed) | Action::Wait => {}
            }
            if !p.checkpointing() {
                in_flight = None;
            }
            if let (Some((seq, parent)), 1..=3) = (in_flight, event) {
                // 3: the writer answers with a full image instead.
                let parent = if event == 3 { 0 } else { parent };
                let removed = p.done(seq, event != 2, parent, 10, 10, now);
                if event != 2 {
                    if parent == 0 {
                        prop_assert_eq!(removed.seqs(), &chain[..]);
                        chain.clear();
                    } else {
                        prop_assert_eq!(removed.seqs(), &[] as &[u32]);
                    }
                    chain.push(seq);
                }
                prop_assert_eq!(p.kept(), &chain[..]);
                in_flight = None;
            }
        }
    }
}
