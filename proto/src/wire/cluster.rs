//! Membership bodies: [`Resources`] and [`Heartbeat`] (with the kernel's
//! load-average fixed point), [`NodeEntry`] and [`JoinReply`],
//! [`NodeDead`] and [`Leave`].

use super::super::le::{Reader, Writer};
use super::error::{nonzero_node_id_ok, WireError};

/// Most entries a [`JoinReply`] carries.
pub const MAX_NODES_IN_REPLY: usize = 64;

/// Fixed-point shift of kernel load averages (`FSHIFT`).
pub const FSHIFT: u32 = 11;
/// 1.0 in kernel load-average fixed point (`FIXED_1`).
pub const FIXED_1: u32 = 1 << FSHIFT;

/// Splits a fixed-point load average (kernel `avenrun` format, value *
/// [`FIXED_1`]) into integer part and hundredths, rounded as
/// `/proc/loadavg` does (`LOAD_INT`/`LOAD_FRAC` after adding
/// `FIXED_1 / 200`).
pub fn format_load(v: u32) -> (u32, u32) {
    // In u64 (the kernel's unsigned long): no overflow.
    let x = u64::from(v).saturating_add(u64::from(FIXED_1 / 200));
    let int = x >> FSHIFT;
    let frac = (x & u64::from(FIXED_1 - 1)).saturating_mul(100) >> FSHIFT;
    // int < 2^22 and frac < 100: both fit.
    (
        u32::try_from(int).unwrap_or(u32::MAX),
        u32::try_from(frac).unwrap_or(99),
    )
}

/// A fixed-point load average in hundredths (1.5 -> 150), rounded like
/// [`format_load`].
pub fn load_hundredths(v: u32) -> u32 {
    let (int, frac) = format_load(v);
    int.saturating_mul(100).saturating_add(frac)
}

/// A node's resources, as reported in heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Online CPUs.
    pub cpus: u32,
    /// Total memory in KiB.
    pub mem_total_kib: u64,
    /// Free memory in KiB (never more than `mem_total_kib`).
    pub mem_free_kib: u64,
    /// 1, 5 and 15 minute load averages, fixed point (see [`format_load`]).
    pub load: [u32; 3],
}

impl Resources {
    /// Encoded length.
    pub const LEN: usize = 4 + 8 + 8 + 3 * 4;

    /// No resources known.
    pub const ZERO: Resources = Resources {
        cpus: 0,
        mem_total_kib: 0,
        mem_free_kib: 0,
        load: [0; 3],
    };

    fn validate(&self) -> Result<(), WireError> {
        if self.mem_free_kib > self.mem_total_kib {
            return Err(WireError::InvalidValue);
        }
        Ok(())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u32(self.cpus)?;
        w.u64(self.mem_total_kib)?;
        w.u64(self.mem_free_kib)?;
        for l in self.load {
            w.u32(l)?;
        }
        Ok(())
    }

    fn read_from(r: &mut Reader<'_>) -> Result<Resources, WireError> {
        let res = Resources {
            cpus: r.u32()?,
            mem_total_kib: r.u64()?,
            mem_free_kib: r.u64()?,
            load: [r.u32()?, r.u32()?, r.u32()?],
        };
        res.validate()?;
        Ok(res)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes exactly [`Resources::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Resources, WireError> {
        let mut r = Reader::new(body);
        let res = Resources::read_from(&mut r)?;
        r.finish()?;
        Ok(res)
    }
}

/// Periodic liveness report (also the body of a JoinRequest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heartbeat {
    /// Sender's incarnation.
    pub incarnation: u32,
    /// Epoch of the sender's membership view.
    pub view_epoch: u64,
    /// Sender's resources.
    pub resources: Resources,
}

impl Heartbeat {
    /// Encoded length.
    pub const LEN: usize = 4 + 8 + Resources::LEN;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.resources.validate()?;
        let mut w = Writer::new(out);
        w.u32(self.incarnation)?;
        w.u64(self.view_epoch)?;
        self.resources.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Heartbeat::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Heartbeat, WireError> {
        let mut r = Reader::new(body);
        let hb = Heartbeat {
            incarnation: r.u32()?,
            view_epoch: r.u64()?,
            resources: Resources::read_from(&mut r)?,
        };
        r.finish()?;
        Ok(hb)
    }
}

/// One node in a [`JoinReply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeEntry {
    /// Node id (1..=4095).
    pub node_id: u16,
    /// Incarnation the sender knows.
    pub incarnation: u32,
    /// krpc listener address (IPv4, network order).
    pub address: [u8; 4],
    /// krpc listener port.
    pub port: u16,
    /// Whether the sender sees the node alive.
    pub alive: bool,
}

impl NodeEntry {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + 4 + 2 + 1;

    /// The default entry, filling the unused part of a [`JoinReply`].
    pub const EMPTY: NodeEntry = NodeEntry {
        node_id: 0,
        incarnation: 0,
        address: [0; 4],
        port: 0,
        alive: false,
    };

    fn validate(&self) -> Result<(), WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(())
    }

    fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.bytes(&self.address)?;
        w.u16(self.port)?;
        Ok(w.u8(u8::from(self.alive))?)
    }

    fn read_from(r: &mut Reader<'_>) -> Result<NodeEntry, WireError> {
        let node_id = r.u16()?;
        let incarnation = r.u32()?;
        let address = r.array()?;
        let port = r.u16()?;
        let alive = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::InvalidValue),
        };
        let e = NodeEntry {
            node_id,
            incarnation,
            address,
            port,
            alive,
        };
        e.validate()?;
        Ok(e)
    }

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        self.write_to(&mut w)?;
        Ok(w.pos())
    }

    /// Decodes exactly [`NodeEntry::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<NodeEntry, WireError> {
        let mut r = Reader::new(body);
        let e = NodeEntry::read_from(&mut r)?;
        r.finish()?;
        Ok(e)
    }
}

/// Answer to a JoinRequest: the sender's view of the cluster. On the wire:
/// `view_epoch (u64) || count (u16) || count * NodeEntry`.
///
/// This is about 1 KiB; in the kernel keep it off the stack and use
/// [`JoinReply::decode_into`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReply {
    /// Epoch of the sender's view.
    pub view_epoch: u64,
    /// Entries in use (at most [`MAX_NODES_IN_REPLY`]).
    pub count: u16,
    /// The nodes; entries from `count` on are [`NodeEntry::EMPTY`].
    pub entries: [NodeEntry; MAX_NODES_IN_REPLY],
}

impl JoinReply {
    /// Encoded length of the fixed part.
    pub const FIXED_LEN: usize = 8 + 2;
    /// Largest encoded length.
    pub const MAX_LEN: usize = Self::FIXED_LEN + MAX_NODES_IN_REPLY * NodeEntry::LEN;

    /// An empty reply.
    pub const EMPTY: JoinReply = JoinReply {
        view_epoch: 0,
        count: 0,
        entries: [NodeEntry::EMPTY; MAX_NODES_IN_REPLY],
    };

    /// The entries in use, `entries[..count]` (all of them if `count` is
    /// too large).
    pub fn used(&self) -> &[NodeEntry] {
        self.entries
            .get(..usize::from(self.count))
            .unwrap_or(&self.entries)
    }

    /// Encoded length (valid if `count` is).
    pub fn encoded_len(&self) -> usize {
        self.used()
            .len()
            .saturating_mul(NodeEntry::LEN)
            .saturating_add(Self::FIXED_LEN)
    }

    fn validate(&self) -> Result<(), WireError> {
        if usize::from(self.count) > MAX_NODES_IN_REPLY {
            return Err(WireError::InvalidValue);
        }
        let used = self.used();
        for (i, e) in used.iter().enumerate() {
            e.validate()?;
            let earlier = used.get(..i).unwrap_or(&[]);
            if earlier.iter().any(|p| p.node_id == e.node_id) {
                return Err(WireError::InvalidValue);
            }
        }
        Ok(())
    }

    /// Encodes into `out`; returns the bytes written. Refuses a `count`
    /// above [`MAX_NODES_IN_REPLY`], invalid node ids and duplicate ids.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        self.validate()?;
        let mut w = Writer::new(out);
        w.u64(self.view_epoch)?;
        w.u16(self.count)?;
        for e in self.used() {
            e.write_to(&mut w)?;
        }
        Ok(w.pos())
    }

    /// Decodes a body; the length must be exactly that of `count` entries.
    pub fn decode(body: &[u8]) -> Result<JoinReply, WireError> {
        let mut out = JoinReply::EMPTY;
        out.decode_into(body)?;
        Ok(out)
    }

    /// Like [`JoinReply::decode`], but into `self` (no 1 KiB temporary).
    /// On error `self` is left empty (`count` 0).
    pub fn decode_into(&mut self, body: &[u8]) -> Result<(), WireError> {
        self.clear();
        let r = self.decode_fields(body);
        if r.is_err() {
            self.clear();
        }
        r
    }

    /// Empties the reply in place: epoch 0, no entries.
    pub fn clear(&mut self) {
        self.view_epoch = 0;
        self.count = 0;
        for e in self.entries.iter_mut() {
            *e = NodeEntry::EMPTY;
        }
    }

    fn decode_fields(&mut self, body: &[u8]) -> Result<(), WireError> {
        let mut r = Reader::new(body);
        let view_epoch = r.u64()?;
        let count = r.u16()?;
        if usize::from(count) > MAX_NODES_IN_REPLY {
            return Err(WireError::InvalidValue);
        }
        let slots = self
            .entries
            .get_mut(..usize::from(count))
            .ok_or(WireError::InvalidValue)?;
        for slot in slots.iter_mut() {
            *slot = NodeEntry::read_from(&mut r)?;
        }
        r.finish()?;
        self.view_epoch = view_epoch;
        self.count = count;
        self.validate()
    }
}

impl Default for JoinReply {
    fn default() -> JoinReply {
        JoinReply::EMPTY
    }
}

/// A node was found dead (by the sender's failure detector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeDead {
    /// The dead node (1..=4095).
    pub node_id: u16,
    /// Its incarnation that died.
    pub incarnation: u32,
    /// Sender's view epoch after the death.
    pub view_epoch: u64,
}

impl NodeDead {
    /// Encoded length.
    pub const LEN: usize = 2 + 4 + 8;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        w.u64(self.view_epoch)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`NodeDead::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<NodeDead, WireError> {
        let mut r = Reader::new(body);
        let d = NodeDead {
            node_id: r.u16()?,
            incarnation: r.u32()?,
            view_epoch: r.u64()?,
        };
        r.finish()?;
        if !nonzero_node_id_ok(d.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(d)
    }
}

/// A node leaves the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leave {
    /// The leaving node (1..=4095).
    pub node_id: u16,
    /// Its incarnation.
    pub incarnation: u32,
}

impl Leave {
    /// Encoded length.
    pub const LEN: usize = 2 + 4;

    /// Encodes into `out`; returns the bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, WireError> {
        if !nonzero_node_id_ok(self.node_id) {
            return Err(WireError::BadNodeId);
        }
        let mut w = Writer::new(out);
        w.u16(self.node_id)?;
        w.u32(self.incarnation)?;
        Ok(w.pos())
    }

    /// Decodes a body of exactly [`Leave::LEN`] bytes.
    pub fn decode(body: &[u8]) -> Result<Leave, WireError> {
        let mut r = Reader::new(body);
        let l = Leave {
            node_id: r.u16()?,
            incarnation: r.u32()?,
        };
        r.finish()?;
        if !nonzero_node_id_ok(l.node_id) {
            return Err(WireError::BadNodeId);
        }
        Ok(l)
    }
}
