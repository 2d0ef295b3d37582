//! Unit and property tests of the image format: [`gen`] makes valid
//! values and images, [`parse`] reads them back as the kernel does, and
//! the other files test one concern each.

mod bodies;
mod gen;
mod images;
mod layout;
mod parse;
