//! The krpc benchmark request an operator writes to
//! `/sys/kernel/config/ssi/bench`: `echo NODE SIZE COUNT` (request/reply
//! round trips) or `stream NODE SIZE COUNT` (one-way throughput).

use super::identity::{parse_decimal, parse_node_id, trim, ParseError};
use super::wire::MAX_BODY;

/// Most messages one run sends.
pub const MAX_COUNT: u32 = 1_000_000;

/// Which measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchKind {
    /// Request/reply round trips of `size`-byte bodies.
    Echo,
    /// One-way messages of `size` bytes, then one round trip to be sure all arrived.
    Stream,
}

/// A parsed benchmark request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSpec {
    /// The measurement.
    pub kind: BenchKind,
    /// Target node id.
    pub node: u32,
    /// Body size in bytes (0..=MAX_BODY).
    pub size: u32,
    /// Messages (1..=MAX_COUNT).
    pub count: u32,
}

/// Parses `echo|stream NODE SIZE COUNT`.
pub fn parse_bench(input: &[u8]) -> Result<BenchSpec, ParseError> {
    let mut words = trim(input).split(|&b| b == b' ').filter(|w| !w.is_empty());
    let kind = match words.next() {
        Some(b"echo") => BenchKind::Echo,
        Some(b"stream") => BenchKind::Stream,
        Some(_) => return Err(ParseError::NotANumber),
        None => return Err(ParseError::Empty),
    };
    let node = parse_node_id(words.next().ok_or(ParseError::Empty)?)?;
    let size = parse_decimal(
        words.next().ok_or(ParseError::Empty)?,
        0,
        u64::from(MAX_BODY),
    )? as u32;
    let count = parse_decimal(
        words.next().ok_or(ParseError::Empty)?,
        1,
        u64::from(MAX_COUNT),
    )? as u32;
    if words.next().is_some() {
        return Err(ParseError::OutOfRange);
    }
    Ok(BenchSpec {
        kind,
        node,
        size,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(
            parse_bench(b"echo 2 64 1000\n"),
            Ok(BenchSpec {
                kind: BenchKind::Echo,
                node: 2,
                size: 64,
                count: 1000
            })
        );
        assert_eq!(
            parse_bench(b"stream 3 65536 100").map(|s| s.kind),
            Ok(BenchKind::Stream)
        );
        assert!(parse_bench(b"echo 2 64").is_err());
        assert!(parse_bench(b"echo 2 64 0").is_err());
        assert!(parse_bench(b"echo 2 2000000 1").is_err());
        assert!(parse_bench(b"ping 2 64 1").is_err());
        assert!(parse_bench(b"echo 2 64 1 extra").is_err());
        assert!(parse_bench(b"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_bench(&input);
        }
    }
}
