//! Filters between a probe and the cluster: a threshold ([`Threshold`]:
//! tell only changes larger than so much), a frequency limit
//! ([`RateLimit`]: at most one report per so many milliseconds) and a
//! cache of the values other nodes told, with an age limit ([`AgeCache`]:
//! a value older than that is not used). Times are the caller's monotonic
//! milliseconds.

/// Whether `now` differs from `last` by more than `threshold`.
pub fn moved_by_more(last: u64, now: u64, threshold: u64) -> bool {
    last.abs_diff(now) > threshold
}

/// Passes a value only if it differs from the last one passed by more
/// than a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    threshold: u64,
    last: Option<u64>,
}

impl Threshold {
    /// A filter that has passed nothing yet (so passes the first value).
    pub fn new(threshold: u64) -> Threshold {
        Threshold {
            threshold,
            last: None,
        }
    }

    /// Whether `value` would pass.
    pub fn changed(&self, value: u64) -> bool {
        self.last
            .is_none_or(|last| moved_by_more(last, value, self.threshold))
    }

    /// Records `value` as passed.
    pub fn record(&mut self, value: u64) {
        self.last = Some(value);
    }

    /// The last value passed.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

/// At most one event per `min_interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    min_interval_ms: u64,
    last_ms: Option<u64>,
}

impl RateLimit {
    /// A limit that has let nothing through yet.
    pub fn new(min_interval_ms: u64) -> RateLimit {
        RateLimit {
            min_interval_ms,
            last_ms: None,
        }
    }

    /// Whether an event may happen at `now_ms`.
    pub fn ready(&self, now_ms: u64) -> bool {
        self.last_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= self.min_interval_ms)
    }

    /// Records an event at `now_ms`.
    pub fn record(&mut self, now_ms: u64) {
        self.last_ms = Some(now_ms);
    }

    /// Milliseconds since the last event (`None` before the first).
    pub fn since(&self, now_ms: u64) -> Option<u64> {
        self.last_ms.map(|last| now_ms.saturating_sub(last))
    }
}

/// The cache is full of values that are not too old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheFull;

/// One value of an [`AgeCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot<T> {
    id: u16,
    at_ms: u64,
    value: T,
}

/// The last value each node told, with when it came (at most `N` nodes,
/// no allocation). A value older than the age limit is not used: the
/// lookups that take `now_ms` skip it, and [`Self::put`] may replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeCache<T: Copy, const N: usize> {
    slots: [Option<Slot<T>>; N],
    max_age_ms: u64,
}

impl<T: Copy, const N: usize> AgeCache<T, N> {
    /// An empty cache whose values are used up to `max_age_ms` old.
    pub fn new(max_age_ms: u64) -> Self {
        AgeCache {
            slots: [None; N],
            max_age_ms,
        }
    }

    /// The age limit.
    pub fn max_age_ms(&self) -> u64 {
        self.max_age_ms
    }

    /// Whether a value that came at `at_ms` is still used at `now_ms`.
    pub fn is_fresh(&self, at_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(at_ms) <= self.max_age_ms
    }

    fn slot(&self, id: u16) -> Option<&Slot<T>> {
        self.slots.iter().flatten().find(|s| s.id == id)
    }

    /// Stores `value` for node `id` as of `now_ms`, replacing the node's
    /// value, else taking a free slot or the one of a value too old.
    pub fn put(&mut self, id: u16, value: T, now_ms: u64) -> Result<(), CacheFull> {
        let max_age = self.max_age_ms;
        let stale = |s: &Option<Slot<T>>| match s {
            None => true,
            Some(s) => now_ms.saturating_sub(s.at_ms) > max_age,
        };
        let i = match self
            .slots
            .iter()
            .position(|s| s.is_some_and(|s| s.id == id))
        {
            Some(i) => i,
            None => self.slots.iter().position(stale).ok_or(CacheFull)?,
        };
        self.slots[i] = Some(Slot {
            id,
            at_ms: now_ms,
            value,
        });
        Ok(())
    }

    /// Node `id`'s value if it is not too old at `now_ms`.
    pub fn get(&self, id: u16, now_ms: u64) -> Option<&T> {
        self.slot(id)
            .filter(|s| self.is_fresh(s.at_ms, now_ms))
            .map(|s| &s.value)
    }

    /// Node `id`'s value and when it came, however old.
    pub fn get_any(&self, id: u16) -> Option<(&T, u64)> {
        self.slot(id).map(|s| (&s.value, s.at_ms))
    }

    /// Node `id`'s value, however old, to change in place (its time
    /// stays).
    pub fn get_mut(&mut self, id: u16) -> Option<&mut T> {
        self.slots
            .iter_mut()
            .flatten()
            .find(|s| s.id == id)
            .map(|s| &mut s.value)
    }

    /// Forgets node `id`'s value.
    pub fn remove(&mut self, id: u16) -> Option<T> {
        let s = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|s| s.id == id))?;
        s.take().map(|s| s.value)
    }

    /// Forgets the values too old at `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let max_age = self.max_age_ms;
        let mut n = 0;
        for s in &mut self.slots {
            if s.is_some_and(|v| now_ms.saturating_sub(v.at_ms) > max_age) {
                *s = None;
                n += 1;
            }
        }
        n
    }

    /// The values not too old at `now_ms`: node id, age in milliseconds,
    /// value, in slot order.
    pub fn fresh(&self, now_ms: u64) -> impl Iterator<Item = (u16, u64, &T)> + '_ {
        self.slots.iter().flatten().filter_map(move |s| {
            let age = now_ms.saturating_sub(s.at_ms);
            (age <= self.max_age_ms).then_some((s.id, age, &s.value))
        })
    }

    /// Values held, however old.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn threshold_and_rate() {
        let mut t = Threshold::new(10);
        assert!(t.changed(5));
        t.record(5);
        assert!(!t.changed(15) && !t.changed(0));
        assert!(t.changed(16));
        assert_eq!(t.last(), Some(5));
        let mut r = RateLimit::new(100);
        assert!(r.ready(0));
        assert_eq!(r.since(50), None);
        r.record(50);
        assert!(!r.ready(149) && r.ready(150));
        assert_eq!(r.since(70), Some(20));
        // A clock that went back counts as no time.
        assert!(!r.ready(10));
    }

    #[test]
    fn cache_ages() {
        let mut c: AgeCache<u32, 2> = AgeCache::new(100);
        assert!(c.is_empty());
        c.put(1, 10, 0).unwrap();
        c.put(2, 20, 50).unwrap();
        assert_eq!(c.put(3, 30, 100), Err(CacheFull));
        assert_eq!(c.get(1, 100), Some(&10));
        assert_eq!(c.get(1, 101), None);
        assert_eq!(c.get_any(1), Some((&10, 0)));
        // Node 1's value is too old: node 3 takes its slot.
        c.put(3, 30, 101).unwrap();
        assert_eq!(c.get_any(1), None);
        assert_eq!(
            c.fresh(150).collect::<std::vec::Vec<_>>(),
            [(3, 49, &30), (2, 100, &20)]
        );
        *c.get_mut(2).unwrap() += 1;
        assert_eq!(c.get(2, 60), Some(&21));
        assert_eq!(c.expire(151), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.remove(3), Some(30));
        assert_eq!(c.remove(3), None);
        assert_eq!(c.max_age_ms(), 100);
    }

    proptest! {
        #[test]
        fn cache_is_a_map_with_an_age_limit(
            ops in proptest::collection::vec((0u8..3, 1u16..6, any::<u32>(), 0u64..30), 0..100),
        ) {
            let mut c: AgeCache<u32, 4> = AgeCache::new(40);
            let mut model: BTreeMap<u16, (u32, u64)> = BTreeMap::new();
            let mut now = 0;
            for (op, id, v, dt) in ops {
                now += dt;
                match op {
                    0 => {
                        let r = c.put(id, v, now);
                        let fresh = model.values().filter(|(_, at)| now - at <= 40).count();
                        if r.is_ok() {
                            // Whatever it pushed out was too old.
                            let gone: std::vec::Vec<u16> = model.keys().copied()
                                .filter(|&k| k != id && c.get_any(k).is_none()).collect();
                            for k in gone {
                                prop_assert!(now - model[&k].1 > 40);
                                model.remove(&k);
                            }
                            model.insert(id, (v, now));
                        } else {
                            prop_assert!(!model.contains_key(&id) && fresh == 4);
                        }
                    }
                    1 => {
                        prop_assert_eq!(c.remove(id), model.remove(&id).map(|(v, _)| v));
                    }
                    _ => {
                        c.expire(now);
                        model.retain(|_, (_, at)| now - *at <= 40);
                    }
                }
                for (&k, &(v, at)) in &model {
                    let want = (now - at <= 40).then_some(&v);
                    prop_assert_eq!(c.get(k, now), want);
                }
                prop_assert!(c.fresh(now).all(|(k, age, v)| age <= 40 && model.get(&k) == Some(&(*v, now - age))));
            }
        }
    }
}
