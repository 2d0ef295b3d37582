//! [`MembershipError`], why an operation on the view was refused. The
//! lowest of the membership files: it uses none of the others.

/// Why an operation was refused. The view is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipError {
    /// Node id 0 or above 4095.
    BadNodeId,
    /// The table already holds [`MAX_NODES`](super::MAX_NODES) nodes.
    TableFull,
    /// A peer's message about the local node (for a heartbeat: two nodes
    /// share an id).
    LocalNode,
    /// The local node was already set, with another id.
    LocalChanged,
    /// [`View::forget`](super::View::forget) of an alive or the local node.
    StillAlive,
    /// The local node is not set.
    NoLocal,
}

impl MembershipError {
    /// A short explanation, for logs and error messages.
    pub fn describe(self) -> &'static str {
        match self {
            MembershipError::BadNodeId => "node id out of range",
            MembershipError::TableFull => "membership table full",
            MembershipError::LocalNode => "message about the local node",
            MembershipError::LocalChanged => "local node id already set to another id",
            MembershipError::StillAlive => "node is alive or local",
            MembershipError::NoLocal => "local node not set",
        }
    }
}
