//! Reliable control messages: the receiver's duplicate filter, the
//! sender's window rule and the fault-injection request.
//!
//! A message whose loss would change what a user sees (a migrated
//! process's end, a signal for it, a read or write on its deputy's files)
//! is sent as a *reliable* frame ([`super::wire::FLAG_RELIABLE`]): its
//! `request_id` is a message id the sender numbers per destination node
//! from 1, and the header's `ack_gap` says how far that id is above the
//! sender's *floor*, the oldest id to that node not yet acknowledged. The
//! sender keeps the message and sends it again until a reply (any reply,
//! the acknowledgement) comes back or the node is declared dead.
//!
//! The receiver runs a message's handler once: [`Window`] remembers, per
//! sending node and incarnation, which ids at or above the floor it has
//! taken. An id below the floor, or one already taken, is a duplicate:
//! acknowledged again, not handled again. Since the sender never has more
//! than [`WINDOW`] ids outstanding past its floor ([`ack_gap`]), a window
//! of that many bits is exact: no duplicate is ever taken for new.

use super::identity::{parse_decimal, trim, ParseError};
use super::membership::incarnation_newer;
use super::wire::{MsgType, RELIABLE_WINDOW};

/// Ids a receiver tracks above the sender's floor, and so the most a
/// sender may have past its oldest unacknowledged one.
pub const WINDOW: u64 = RELIABLE_WINDOW;
const WORDS: usize = (WINDOW / 64) as usize;

/// What a receiver does with a reliable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not seen before: handle it, then acknowledge.
    Fresh,
    /// Taken before: acknowledge, do not handle.
    Duplicate,
    /// Outside what the sender may send (id 0, a gap past the id or the
    /// window, an older incarnation): drop it, as malformed.
    Refused,
}

/// The ids one sending node's incarnation used, as a receiver saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    incarnation: u32,
    /// Every id below it was taken (or never will be sent again).
    floor: u64,
    /// Bit `id % WINDOW` for the ids in `floor..floor + WINDOW` taken.
    bits: [u64; WORDS],
}

impl Default for Window {
    fn default() -> Self {
        Window::new(0)
    }
}

impl Window {
    /// An empty window for a sender of `incarnation`.
    pub const fn new(incarnation: u32) -> Window {
        Window {
            incarnation,
            floor: 1,
            bits: [0; WORDS],
        }
    }

    /// The sender's incarnation this window follows.
    pub fn incarnation(&self) -> u32 {
        self.incarnation
    }

    /// The lowest id not known to be taken.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    fn bit(id: u64) -> (usize, u64) {
        let i = id % WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn taken(&self, id: u64) -> bool {
        let (w, m) = Self::bit(id);
        self.bits[w] & m != 0
    }

    /// Moves the floor up to `to`, forgetting the ids below it.
    fn advance(&mut self, to: u64) {
        if to <= self.floor {
            return;
        }
        if to - self.floor >= WINDOW {
            self.bits = [0; WORDS];
        } else {
            for id in self.floor..to {
                let (w, m) = Self::bit(id);
                self.bits[w] &= !m;
            }
        }
        self.floor = to;
    }

    /// Takes message `id`, sent by `incarnation` with `ack_gap` (its id
    /// minus the sender's floor when it was sent): whether to handle it.
    pub fn accept(&mut self, incarnation: u32, id: u64, ack_gap: u32) -> Verdict {
        if incarnation != self.incarnation {
            if !incarnation_newer(incarnation, self.incarnation) && self.incarnation != 0 {
                return Verdict::Refused;
            }
            // A new instance of the sender numbers from 1 again.
            *self = Window::new(incarnation);
        }
        let gap = u64::from(ack_gap);
        if id == 0 || gap >= id || gap >= WINDOW {
            return Verdict::Refused;
        }
        // Resent frames may carry an older floor than frames already
        // seen: the floor only moves up.
        self.advance(id - gap);
        if id < self.floor {
            return Verdict::Duplicate;
        }
        if id - self.floor >= WINDOW {
            return Verdict::Refused;
        }
        if self.taken(id) {
            return Verdict::Duplicate;
        }
        let (w, m) = Self::bit(id);
        self.bits[w] |= m;
        // Keep the floor at the first id not taken: the window then
        // always has room for what the sender may still send.
        while self.taken(self.floor) {
            let (w, m) = Self::bit(self.floor);
            self.bits[w] &= !m;
            self.floor += 1;
        }
        Verdict::Fresh
    }
}

/// The `ack_gap` a sender puts on message `id` when its oldest
/// unacknowledged one to that node is `floor` (`id` itself if none);
/// `None` if `id` is too far past the floor to be sent now.
pub fn ack_gap(id: u64, floor: u64) -> Option<u32> {
    let gap = id.checked_sub(floor)?;
    if id == 0 || gap >= WINDOW {
        return None;
    }
    u32::try_from(gap).ok()
}

/// A fault-injection request written to `/sys/kernel/config/ssi/drop_next`:
/// drop the next `count` frames of type `kind` this node sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropSpec {
    /// The message type.
    pub kind: MsgType,
    /// How many (0 cancels).
    pub count: u32,
}

/// Most frames one request drops.
pub const MAX_DROP: u32 = 1000;

/// Parses `TYPE COUNT`, `TYPE` a message type's name (`MigrateExit`, any
/// case) or number.
pub fn parse_drop(input: &[u8]) -> Result<DropSpec, ParseError> {
    let mut words = trim(input).split(|&b| b == b' ').filter(|w| !w.is_empty());
    let name = words.next().ok_or(ParseError::Empty)?;
    let kind = match MsgType::from_name(name) {
        Some(k) => k,
        None => {
            let v = parse_decimal(name, 1, 255)?;
            MsgType::from_u8(v as u8).ok_or(ParseError::OutOfRange)?
        }
    };
    let count = parse_decimal(
        words.next().ok_or(ParseError::Empty)?,
        0,
        u64::from(MAX_DROP),
    )? as u32;
    if words.next().is_some() {
        return Err(ParseError::NotANumber);
    }
    if kind.is_handshake() {
        return Err(ParseError::OutOfRange);
    }
    Ok(DropSpec { kind, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_messages_are_fresh_once() {
        let mut w = Window::new(7);
        for id in 1..10_000u64 {
            assert_eq!(w.accept(7, id, 0), Verdict::Fresh);
            assert_eq!(w.accept(7, id, 0), Verdict::Duplicate);
        }
        assert_eq!(w.floor(), 10_000);
    }

    #[test]
    fn refuses_what_no_sender_sends() {
        let mut w = Window::new(7);
        assert_eq!(w.accept(7, 0, 0), Verdict::Refused);
        assert_eq!(w.accept(7, 5, 5), Verdict::Refused);
        assert_eq!(w.accept(7, 5000, 4095), Verdict::Fresh);
        assert_eq!(w.accept(7, 5000 + WINDOW, 0), Verdict::Fresh);
        assert_eq!(w.accept(7, 9000 + 2 * WINDOW, 0), Verdict::Fresh);
        assert_eq!(
            w.accept(7, 9001 + 2 * WINDOW, WINDOW as u32),
            Verdict::Refused
        );
    }

    #[test]
    fn a_new_incarnation_starts_again_an_old_one_is_refused() {
        let mut w = Window::new(7);
        assert_eq!(w.accept(7, 1, 0), Verdict::Fresh);
        assert_eq!(w.accept(8, 1, 0), Verdict::Fresh);
        assert_eq!(w.incarnation(), 8);
        assert_eq!(w.accept(7, 2, 0), Verdict::Refused);
        assert_eq!(w.accept(8, 1, 0), Verdict::Duplicate);
    }

    #[test]
    fn a_stuck_message_keeps_its_place() {
        let mut w = Window::new(1);
        // 1 lost; 2..=100 arrive with floor 1; then 1 comes again.
        for id in 2..=100u64 {
            assert_eq!(w.accept(1, id, (id - 1) as u32), Verdict::Fresh);
        }
        assert_eq!(w.floor(), 1);
        assert_eq!(w.accept(1, 1, 0), Verdict::Fresh);
        assert_eq!(w.floor(), 101);
        assert_eq!(w.accept(1, 50, 49), Verdict::Duplicate);
    }

    #[test]
    fn ack_gap_rule() {
        assert_eq!(ack_gap(10, 10), Some(0));
        assert_eq!(ack_gap(10, 3), Some(7));
        assert_eq!(ack_gap(3, 10), None);
        assert_eq!(ack_gap(0, 0), None);
        assert_eq!(ack_gap(WINDOW + 1, 1), None);
        assert_eq!(ack_gap(WINDOW, 1), Some((WINDOW - 1) as u32));
    }

    #[test]
    fn drop_requests() {
        let s = parse_drop(b"MigrateExit 2\n").unwrap();
        assert_eq!((s.kind, s.count), (MsgType::MigrateExit, 2));
        assert_eq!(
            parse_drop(b"migrateiodone 1").unwrap().kind,
            MsgType::MigrateIoDone
        );
        assert_eq!(
            parse_drop(b"17 0").unwrap(),
            DropSpec {
                kind: MsgType::MigrateExit,
                count: 0
            }
        );
        assert!(parse_drop(b"").is_err());
        assert!(parse_drop(b"MigrateExit").is_err());
        assert!(parse_drop(b"MigrateExit 1 2").is_err());
        assert!(parse_drop(b"Nothing 1").is_err());
        assert!(parse_drop(b"200 1").is_err());
        assert!(parse_drop(b"Hello 1").is_err());
        assert!(parse_drop(b"MigrateExit 1001").is_err());
    }

    /// A model sender: numbers messages, loses some, resends every one
    /// not acknowledged in any order, with the floor of the moment.
    fn run(ops: &[(u8, u8)]) -> Result<(), TestCaseError> {
        let mut w = Window::new(3);
        let mut next = 1u64;
        let mut outstanding: [u64; 64] = [0; 64];
        let mut n = 0usize;
        let mut handled = [0u8; 4096];
        for &(op, pick) in ops {
            let floor = outstanding[..n].iter().copied().min().unwrap_or(next);
            match op % 3 {
                0 if n < 64 => {
                    // A new message: sent (maybe lost), kept until acked.
                    let id = next;
                    next += 1;
                    outstanding[n] = id;
                    n += 1;
                    if pick % 2 == 0 {
                        let gap = ack_gap(id, floor).unwrap();
                        if w.accept(3, id, gap) == Verdict::Fresh {
                            handled[id as usize] += 1;
                        }
                    }
                }
                _ if n > 0 => {
                    // A resend of one outstanding message; maybe acked.
                    let i = pick as usize % n;
                    let id = outstanding[i];
                    let v = w.accept(3, id, ack_gap(id, floor).unwrap());
                    prop_assert_ne!(v, Verdict::Refused);
                    if v == Verdict::Fresh {
                        handled[id as usize] += 1;
                    }
                    if op % 3 == 1 {
                        outstanding[i] = outstanding[n - 1];
                        n -= 1;
                        // Acknowledged: it was handled exactly once.
                        prop_assert_eq!(handled[id as usize], 1);
                    }
                }
                _ => {}
            }
        }
        for h in handled.iter() {
            prop_assert!(*h <= 1);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_message_is_handled_at_most_once(ops in proptest::collection::vec((any::<u8>(), any::<u8>()), 0..3000)) {
            run(&ops)?;
        }

        #[test]
        fn accept_never_panics(inc in any::<u32>(), ids in proptest::collection::vec((any::<u64>(), any::<u32>()), 0..200)) {
            let mut w = Window::new(inc);
            for (id, gap) in ids {
                let _ = w.accept(inc, id, gap);
            }
        }
    }
}
