//! Version of ssi and of the interfaces it exposes.

/// Release of ssi (kernel module and tools together).
pub const RELEASE: &str = "0.1.0";

/// Version of the layout of /proc/ssi and /sys/kernel/config/ssi that
/// ssi-ctl reads. Raised when a file changes meaning or disappears.
pub const INTERFACE: u32 = 1;

#[cfg(test)]
mod tests {
    #[test]
    fn release_matches_cargo() {
        assert_eq!(super::RELEASE, env!("CARGO_PKG_VERSION"));
    }
}
