//! What an operation changed: [`Change`] for one node, [`Changes`] for
//! operations that can change several.

use super::node::{NodeId, MAX_NODES};

/// What an operation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Nothing (a refresh, or a stale or redundant message).
    None,
    /// A node not known before joined.
    Joined(NodeId),
    /// A known node came back with a new incarnation.
    Rejoined(NodeId),
    /// A node was declared dead.
    Died(NodeId),
    /// A node left.
    Left(NodeId),
}

impl Change {
    /// Whether this is a membership change (anything but [`Change::None`]).
    pub fn is_change(self) -> bool {
        self != Change::None
    }

    /// The node concerned, if any.
    pub fn node(self) -> Option<NodeId> {
        match self {
            Change::None => None,
            Change::Joined(id) | Change::Rejoined(id) | Change::Died(id) | Change::Left(id) => {
                Some(id)
            }
        }
    }

    /// A verb for logs: "joined", "rejoined", "died", "left" or "none".
    pub fn describe(self) -> &'static str {
        match self {
            Change::None => "none",
            Change::Joined(_) => "joined",
            Change::Rejoined(_) => "rejoined",
            Change::Died(_) => "died",
            Change::Left(_) => "left",
        }
    }
}

/// The changes made by an operation on several nodes, in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    items: [Change; MAX_NODES],
    len: usize,
    pub(super) table_full: bool,
}

impl Changes {
    pub(super) const fn new() -> Changes {
        Changes {
            items: [Change::None; MAX_NODES],
            len: 0,
            table_full: false,
        }
    }

    pub(super) fn push(&mut self, c: Change) {
        if !c.is_change() {
            return;
        }
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = c;
            self.len = self.len.saturating_add(1);
        }
    }

    /// The changes.
    pub fn as_slice(&self) -> &[Change] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    /// Iterates over the changes.
    pub fn iter(&self) -> core::slice::Iter<'_, Change> {
        self.as_slice().iter()
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some nodes could not be added because the table was full.
    pub fn table_full(&self) -> bool {
        self.table_full
    }
}

impl<'a> IntoIterator for &'a Changes {
    type Item = &'a Change;
    type IntoIter = core::slice::Iter<'a, Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
