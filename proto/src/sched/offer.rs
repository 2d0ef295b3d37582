//! A move offered to its destination before it starts (`SchedOffer`).
//!
//! The source decided on the loads in the reports it holds, which may be
//! a period old; several sources that saw the same idle node in the same
//! reports would all send it work. So before a policy's migration
//! starts, the source offers the process to the destination, which
//! judges it on its own, fresh load ([`judge`]): a load move only if it
//! would not end up more loaded than the source ([`admit`]), a memory
//! move only if its free memory stays above its high watermark
//! ([`memory_room`]). A destination that takes it counts it at once
//! ([`LoadProbe::reserve`](super::probe::LoadProbe::reserve)) for as long
//! as the move may take ([`Offer::hold_ms`]), so the next offer sees it.
//!
//! ```text
//! request (24 bytes)                 reply (24 bytes)
//! 0  u8  version (1)                 0  u8  version (1)
//! 1  u8  kind: 1 load, 2 memory      1  u8  1 taken, 2 declined
//! 2  u16 zero                        2  u16 zero
//! 4  u32 pid                         4  u32 load now, 1/1024 task per CPU
//! 8  u32 demand, 1/1024 task         8  u32 load with the process
//! 12 u32 source's load after         12 u32 zero
//!                                    16 u64 free KiB with the process
//! 16 u32 resident KiB (saturated)
//! 20 u32 hold ms (1..=60000)
//! ```

use super::super::le::{Reader, Writer};
use super::super::wire::WireError;
use super::balance::{admit, memory_room};
use super::params::PolicyParams;
use super::probe::per_cpu_up;
use super::table::NodeLoad;

/// The version of both bodies.
pub const OFFER_VERSION: u8 = 1;

/// The longest a destination counts a process it took.
pub const MAX_HOLD_MS: u32 = 60_000;

/// What kind of move is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    /// A dynamic-balancing move: judged on the CPU load.
    Load,
    /// A memory-pressure move: judged on free memory.
    Memory,
}

/// A move offered to its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// What kind.
    pub kind: OfferKind,
    /// The process (its cluster-wide pid).
    pub pid: u32,
    /// Its run-queue weight, 1/1024 of a task.
    pub demand: u32,
    /// The source's load after the move (per CPU, 1/1024 of a task).
    pub source_after: u32,
    /// Its resident memory, KiB (saturated at `u32::MAX`).
    pub rss_kib: u32,
    /// How long the destination counts it if it takes it, ms
    /// (1..=[`MAX_HOLD_MS`]): the move's estimated time and some.
    pub hold_ms: u32,
}

/// The destination's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferReply {
    /// Whether it takes the process.
    pub taken: bool,
    /// Its load now (the higher of `upper` and `mean`, with the
    /// processes it agreed to take), per CPU, 1/1024 of a task.
    pub load: u32,
    /// Its load with the process, per CPU, 1/1024 of a task.
    pub load_after: u32,
    /// Its free memory with the process, KiB.
    pub free_after_kib: u64,
}

impl Offer {
    /// Encoded length.
    pub const LEN: usize = 24;

    /// How long a destination should count a move estimated to take
    /// `cost_ms`: that and 2 s, at most [`MAX_HOLD_MS`].
    pub fn hold_for(cost_ms: u64) -> u32 {
        let ms = cost_ms.saturating_add(2_000).min(u64::from(MAX_HOLD_MS));
        u32::try_from(ms).unwrap_or(MAX_HOLD_MS)
    }

    /// Writes the offer; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.check()?;
        let kind = match self.kind {
            OfferKind::Load => 1,
            OfferKind::Memory => 2,
        };
        let mut w = Writer::new(out);
        head(&mut w, kind)?;
        for v in [
            self.pid,
            self.demand,
            self.source_after,
            self.rss_kib,
            self.hold_ms,
        ] {
            w.u32(v)?;
        }
        Ok(w.pos())
    }

    /// Reads an offer.
    pub fn decode(b: &[u8]) -> Result<Offer, WireError> {
        let mut r = Reader::new(b);
        let kind = read_head(&mut r)?;
        let [pid, demand, source_after, rss_kib, hold_ms] =
            [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
        r.finish()?;
        let kind = match kind {
            1 => OfferKind::Load,
            2 => OfferKind::Memory,
            _ => return Err(WireError::InvalidValue),
        };
        let o = Offer {
            kind,
            pid,
            demand,
            source_after,
            rss_kib,
            hold_ms,
        };
        o.check()?;
        Ok(o)
    }

    fn check(&self) -> Result<(), WireError> {
        let pid_ok = self.pid != 0 && self.pid <= super::config::MAX_ID;
        if !pid_ok || self.hold_ms == 0 || self.hold_ms > MAX_HOLD_MS {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }
}

impl OfferReply {
    /// Encoded length.
    pub const LEN: usize = 24;

    /// Writes the reply; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        head(&mut w, if self.taken { 1 } else { 2 })?;
        w.u32(self.load)?;
        w.u32(self.load_after)?;
        w.u32(0)?;
        w.u64(self.free_after_kib)?;
        Ok(w.pos())
    }

    /// Reads a reply.
    pub fn decode(b: &[u8]) -> Result<OfferReply, WireError> {
        let mut r = Reader::new(b);
        let verdict = read_head(&mut r)?;
        let (load, load_after, zero, free_after_kib) = (r.u32()?, r.u32()?, r.u32()?, r.u64()?);
        r.finish()?;
        if zero != 0 {
            return Err(WireError::BadReserved);
        }
        let taken = match verdict {
            1 => true,
            2 => false,
            _ => return Err(WireError::InvalidValue),
        };
        Ok(OfferReply {
            taken,
            load,
            load_after,
            free_after_kib,
        })
    }
}

/// Both bodies' first four bytes: the version, `tag` (the offer's kind,
/// the reply's verdict), two zero bytes.
fn head(w: &mut Writer<'_>, tag: u8) -> Result<(), WireError> {
    w.u8(OFFER_VERSION)?;
    w.u8(tag)?;
    w.u16(0)?;
    Ok(())
}

/// Reads [`head`]; returns the tag.
fn read_head(r: &mut Reader<'_>) -> Result<u8, WireError> {
    let (version, tag, zero) = (r.u8()?, r.u8()?, r.u16()?);
    if version != OFFER_VERSION {
        return Err(WireError::BadVersion);
    }
    if zero != 0 {
        return Err(WireError::BadReserved);
    }
    Ok(tag)
}

/// The destination's judgement of `offer` on its own load `local` (from
/// its probes, with the processes it already agreed to take).
pub fn judge(offer: &Offer, local: &NodeLoad, p: &PolicyParams) -> OfferReply {
    let rss = u64::from(offer.rss_kib);
    let load = local.upper.max(local.mean);
    let load_after = load.saturating_add(per_cpu_up(offer.demand, local.cpus));
    let taken = match offer.kind {
        OfferKind::Load => admit(local, offer.demand, offer.source_after),
        OfferKind::Memory => memory_room(local, rss, p.memory.high_per_mille),
    };
    OfferReply {
        taken,
        load,
        load_after,
        free_after_kib: local.free_kib.saturating_sub(rss),
    }
}

#[cfg(test)]
mod tests {
    use super::super::params::PolicyParams;
    use super::super::probe::LOAD_ONE;
    use super::*;
    use proptest::prelude::*;

    fn node(upper: u32, mean: u32, free_kib: u64) -> NodeLoad {
        NodeLoad {
            id: 2,
            alive: true,
            cpus: 2,
            upper,
            mean,
            free_kib,
            total_kib: 1 << 20,
            ..NodeLoad::default()
        }
    }

    #[test]
    fn a_destination_takes_what_keeps_it_below_the_source() {
        let p = PolicyParams::DEFAULT;
        let o = Offer {
            kind: OfferKind::Load,
            pid: 7,
            demand: LOAD_ONE,
            source_after: LOAD_ONE,
            rss_kib: 1000,
            hold_ms: 2000,
        };
        // Idle, 2 CPUs: half a task per CPU after.
        let r = judge(&o, &node(0, 0, 1 << 19), &p);
        assert!(r.taken);
        assert_eq!(r.load_after, LOAD_ONE / 2);
        assert_eq!(Offer::hold_for(500), 2_500);
        assert_eq!(Offer::hold_for(u64::MAX), MAX_HOLD_MS);
        assert_eq!(r.free_after_kib, (1 << 19) - 1000);
        // Already as loaded as the source: declined.
        assert!(!judge(&o, &node(LOAD_ONE, 0, 1 << 19), &p).taken);
        // Its mean counts too.
        assert!(!judge(&o, &node(0, LOAD_ONE, 1 << 19), &p).taken);
        // Memory: room above the high watermark, or not.
        let m = Offer {
            kind: OfferKind::Memory,
            rss_kib: 100_000,
            ..o
        };
        assert!(judge(&m, &node(5 * LOAD_ONE, 0, 1 << 19), &p).taken);
        assert!(!judge(&m, &node(0, 0, 120_000), &p).taken);
    }

    #[test]
    fn bodies_are_checked() {
        let o = Offer {
            kind: OfferKind::Memory,
            pid: 70000,
            demand: 3,
            source_after: 4,
            rss_kib: 5,
            hold_ms: 6,
        };
        let mut b = [0u8; Offer::LEN];
        assert_eq!(o.encode(&mut b), Ok(Offer::LEN));
        assert_eq!(Offer::decode(&b), Ok(o));
        assert_eq!(Offer::decode(&b[..23]), Err(WireError::Truncated));
        let mut long = [0u8; Offer::LEN + 1];
        long[..Offer::LEN].copy_from_slice(&b);
        assert_eq!(Offer::decode(&long), Err(WireError::TrailingBytes));
        for (i, v, e) in [
            (0, 2, WireError::BadVersion),
            (1, 3, WireError::InvalidValue),
            (2, 1, WireError::BadReserved),
        ] {
            let mut c = b;
            c[i] = v;
            assert_eq!(Offer::decode(&c), Err(e));
        }
        for bad in [
            Offer { pid: 0, ..o },
            Offer { hold_ms: 0, ..o },
            Offer {
                hold_ms: MAX_HOLD_MS + 1,
                ..o
            },
        ] {
            assert_eq!(bad.encode(&mut b), Err(WireError::InvalidValue));
        }
        let r = OfferReply {
            taken: false,
            load: 8,
            load_after: 9,
            free_after_kib: 1 << 40,
        };
        let mut rb = [0u8; OfferReply::LEN];
        assert_eq!(r.encode(&mut rb), Ok(OfferReply::LEN));
        assert_eq!(OfferReply::decode(&rb), Ok(r));
        rb[1] = 0;
        assert_eq!(OfferReply::decode(&rb), Err(WireError::InvalidValue));
    }

    proptest! {
        #[test]
        fn what_decodes_encodes_the_same(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(o) = Offer::decode(&b) {
                let mut out = [0u8; Offer::LEN];
                prop_assert_eq!(o.encode(&mut out), Ok(Offer::LEN));
                prop_assert_eq!(&out[..], &b[..]);
            }
            if let Ok(r) = OfferReply::decode(&b) {
                let mut out = [0u8; OfferReply::LEN];
                prop_assert_eq!(r.encode(&mut out), Ok(OfferReply::LEN));
                prop_assert_eq!(&out[..], &b[..]);
            }
        }

        #[test]
        fn a_taken_load_move_never_leaves_the_destination_above_the_source(
            upper in 0u32..8 * LOAD_ONE,
            mean in 0u32..8 * LOAD_ONE,
            cpus in 1u32..16,
            demand in 1u32..4 * LOAD_ONE,
            source_after in 0u32..8 * LOAD_ONE,
        ) {
            let o = Offer { kind: OfferKind::Load, pid: 1, demand, source_after, rss_kib: 0, hold_ms: 1 };
            let mut n = node(upper, mean, 0);
            n.cpus = cpus;
            let r = judge(&o, &n, &PolicyParams::DEFAULT);
            if r.taken {
                prop_assert!(r.load_after <= source_after);
            }
        }
    }
}
