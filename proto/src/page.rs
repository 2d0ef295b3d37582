//! The page size of the image format and of the migration messages: 4 KiB,
//! the x86-64 kernel's (the module checks at build time that the kernel it
//! is built for has the same). Defined here once; `image::PAGE_SIZE` and
//! `migration::PAGE` are this value, for byte counts and for addresses.

/// Size of a page, in bytes.
pub const PAGE_SIZE: usize = 4096;
/// The same, as a `u64`, for address arithmetic.
pub const PAGE: u64 = PAGE_SIZE as u64;
