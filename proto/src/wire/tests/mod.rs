//! Unit and property tests of the wire format: [`gen`] holds the shared
//! samples and strategies, [`header`] tests the frame header and sequence
//! numbers, [`bodies`] the message bodies.

mod bodies;
mod gen;
mod header;
