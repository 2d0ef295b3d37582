//! A node's identity as the operator sets it: node id, IPv4 address and
//! krpc port, parsed from what is written to configfs.
//!
//! Parsers accept the text `echo` writes (an optional trailing newline) and
//! reject everything else with a [`ParseError`]; they never panic.

use core::fmt;

/// Largest node id. Node ids are 1..=MAX_NODE_ID; 0 means "not set".
/// Only ids up to `pid_range::MAX_RANGED_NODE` (63) have a pid range;
/// larger ids run with node-local pids.
pub const MAX_NODE_ID: u32 = 4095;

/// Default TCP port of the kernel RPC listener.
pub const DEFAULT_PORT: u16 = 7070;

/// Why a configuration value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but white space was written.
    Empty,
    /// Not a decimal number.
    NotANumber,
    /// A number outside the allowed range.
    OutOfRange,
    /// Not a dotted-quad IPv4 address.
    BadAddress,
}

impl ParseError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ParseError::Empty => "empty value",
            ParseError::NotANumber => "not a decimal number",
            ParseError::OutOfRange => "value out of range",
            ParseError::BadAddress => "not an IPv4 address (a.b.c.d)",
        }
    }
}

/// Strips one trailing newline and surrounding ASCII spaces/tabs.
pub fn trim(input: &[u8]) -> &[u8] {
    let mut s = input;
    while let [rest @ .., last] = s {
        if matches!(last, b'\n' | b' ' | b'\t' | b'\r') {
            s = rest;
        } else {
            break;
        }
    }
    while let [first, rest @ ..] = s {
        if matches!(first, b' ' | b'\t') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Parses a decimal number in `min..=max`.
pub fn parse_decimal(input: &[u8], min: u64, max: u64) -> Result<u64, ParseError> {
    let s = trim(input);
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut value: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ParseError::NotANumber);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::OutOfRange)?;
    }
    if value < min || value > max {
        return Err(ParseError::OutOfRange);
    }
    Ok(value)
}

/// Parses a node id (1..=[`MAX_NODE_ID`]).
pub fn parse_node_id(input: &[u8]) -> Result<u32, ParseError> {
    parse_decimal(input, 1, u64::from(MAX_NODE_ID)).map(|v| v as u32)
}

/// Parses a TCP port (1..=65535).
pub fn parse_port(input: &[u8]) -> Result<u16, ParseError> {
    parse_decimal(input, 1, 65535).map(|v| v as u16)
}

/// An IPv4 address, in network order (`a.b.c.d` is `[a, b, c, d]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ipv4(pub [u8; 4]);

impl Ipv4 {
    /// The unset address.
    pub const UNSET: Ipv4 = Ipv4([0; 4]);

    /// Packs the address in a `u32` (first octet in the high byte), for
    /// storing in an atomic.
    pub fn to_bits(self) -> u32 {
        u32::from_be_bytes(self.0)
    }

    /// Inverse of [`Ipv4::to_bits`].
    pub fn from_bits(bits: u32) -> Ipv4 {
        Ipv4(bits.to_be_bytes())
    }

    /// Whether the address was set.
    pub fn is_set(self) -> bool {
        self != Ipv4::UNSET
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// Parses a dotted-quad IPv4 address: four decimal octets, no leading
/// zeros (they would be ambiguous with octal), nothing else.
pub fn parse_ipv4(input: &[u8]) -> Result<Ipv4, ParseError> {
    let s = trim(input);
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut out = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for octet in out.iter_mut() {
        let part = parts.next().ok_or(ParseError::BadAddress)?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part[0] == b'0') {
            return Err(ParseError::BadAddress);
        }
        let v = parse_decimal(part, 0, 255).map_err(|_| ParseError::BadAddress)?;
        *octet = v as u8;
    }
    if parts.next().is_some() {
        return Err(ParseError::BadAddress);
    }
    Ok(Ipv4(out))
}

/// Most seed addresses a node keeps.
pub const MAX_SEEDS: usize = 16;

/// A seed: a node to contact when joining.
pub type Seed = (Ipv4, u16);

/// Parses a list of seeds, `a.b.c.d[:port]` separated by commas, spaces or
/// newlines (port defaults to [`DEFAULT_PORT`]). An empty list is allowed.
/// Returns how many were stored in `out`.
pub fn parse_seeds(input: &[u8], out: &mut [Seed; MAX_SEEDS]) -> Result<usize, ParseError> {
    let mut n = 0;
    for item in input.split(|&b| matches!(b, b',' | b' ' | b'\n' | b'\t' | b'\r')) {
        if item.is_empty() {
            continue;
        }
        let (addr, port) = match item.iter().position(|&b| b == b':') {
            Some(i) => (
                &item[..i],
                parse_port(&item[i + 1..]).map_err(|_| ParseError::BadAddress)?,
            ),
            None => (item, DEFAULT_PORT),
        };
        let addr = parse_ipv4(addr)?;
        let slot = out.get_mut(n).ok_or(ParseError::OutOfRange)?;
        *slot = (addr, port);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::String;

    #[test]
    fn examples() {
        assert_eq!(parse_node_id(b"3\n"), Ok(3));
        assert_eq!(parse_node_id(b"0"), Err(ParseError::OutOfRange));
        assert_eq!(parse_node_id(b"4096"), Err(ParseError::OutOfRange));
        assert_eq!(parse_node_id(b"\n"), Err(ParseError::Empty));
        assert_eq!(parse_node_id(b"-1"), Err(ParseError::NotANumber));
        assert_eq!(
            parse_node_id(b"99999999999999999999999"),
            Err(ParseError::OutOfRange)
        );
        assert_eq!(parse_port(b"7070\n"), Ok(7070));
        assert_eq!(parse_port(b"65536"), Err(ParseError::OutOfRange));
        assert_eq!(parse_ipv4(b"10.99.0.11\n"), Ok(Ipv4([10, 99, 0, 11])));
        for bad in [
            &b"10.99.0"[..],
            b"10.99.0.11.1",
            b"10.99.0.256",
            b"10.099.0.1",
            b"a.b.c.d",
            b"10..0.1",
            b"1.2.3.4 5",
        ] {
            assert_eq!(
                parse_ipv4(bad),
                Err(ParseError::BadAddress),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn seeds() {
        let mut out = [(Ipv4::UNSET, 0); MAX_SEEDS];
        assert_eq!(
            parse_seeds(b"10.99.0.11, 10.99.0.12:7071\n", &mut out),
            Ok(2)
        );
        assert_eq!(out[0], (Ipv4([10, 99, 0, 11]), DEFAULT_PORT));
        assert_eq!(out[1], (Ipv4([10, 99, 0, 12]), 7071));
        assert_eq!(parse_seeds(b"\n", &mut out), Ok(0));
        assert_eq!(
            parse_seeds(b"10.99.0.11:0", &mut out),
            Err(ParseError::BadAddress)
        );
        assert_eq!(
            parse_seeds(b"10.99.0.11:x", &mut out),
            Err(ParseError::BadAddress)
        );
        assert_eq!(parse_seeds(b"node1", &mut out), Err(ParseError::BadAddress));
        let many = b"1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9 1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 1.1.1.16 1.1.1.17";
        assert_eq!(parse_seeds(many, &mut out), Err(ParseError::OutOfRange));
    }

    proptest! {
        #[test]
        fn seeds_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = [(Ipv4::UNSET, 0); MAX_SEEDS];
            if let Ok(n) = parse_seeds(&input, &mut out) {
                prop_assert!(n <= MAX_SEEDS);
            }
        }

        #[test]
        fn ipv4_round_trip(a: [u8; 4]) {
            let text = format!("{}\n", Ipv4(a));
            prop_assert_eq!(parse_ipv4(text.as_bytes()), Ok(Ipv4(a)));
            prop_assert_eq!(Ipv4::from_bits(Ipv4(a).to_bits()), Ipv4(a));
        }

        #[test]
        fn node_id_round_trip(id in 1u32..=MAX_NODE_ID) {
            prop_assert_eq!(parse_node_id(format!("{id}\n").as_bytes()), Ok(id));
        }

        #[test]
        fn parsers_never_panic(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_ipv4(&input);
            let _ = parse_node_id(&input);
            let _ = parse_port(&input);
        }

        #[test]
        fn accepted_node_ids_are_in_range(input in "[0-9 \n]{0,12}") {
            if let Ok(id) = parse_node_id(input.as_bytes()) {
                prop_assert!((1..=MAX_NODE_ID).contains(&id));
            }
        }
    }
}
