//! Little-endian fields in byte slices, for every codec of this crate
//! (`wire/`, `image/`): reading fails instead of panicking when the
//! input runs out, writing when the output is full. Each codec turns the
//! two failures into its own error type with `From`.

/// The input ended before the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// The output has no room for the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom;

/// Bytes are left after the last field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailing;

/// Reads fields from the front of a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let head = self.buf.get(..n).ok_or(Truncated)?;
        self.buf = self.buf.get(n..).ok_or(Truncated)?;
        Ok(head)
    }

    /// The next `N` bytes, as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        <[u8; N]>::try_from(self.bytes(N)?).map_err(|_| Truncated)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        self.array().map(u64::from_le_bytes)
    }

    /// A little-endian i64.
    pub fn i64(&mut self) -> Result<i64, Truncated> {
        self.array().map(i64::from_le_bytes)
    }

    /// Succeeds if every byte was read.
    pub fn finish(self) -> Result<(), Trailing> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Trailing)
        }
    }
}

/// Writes fields into a byte slice from its start.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// Writes into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes of the output, to be filled by the caller.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], NoRoom> {
        let start = self.pos;
        let end = start.checked_add(n).ok_or(NoRoom)?;
        let dst = self.buf.get_mut(start..end).ok_or(NoRoom)?;
        self.pos = end;
        Ok(dst)
    }

    /// `b` as it is.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), NoRoom> {
        let dst = self.reserve(b.len())?;
        // Same length; a zip, unlike copy_from_slice, has no panic path.
        for (d, s) in dst.iter_mut().zip(b) {
            *d = *s;
        }
        Ok(())
    }

    /// A byte.
    pub fn u8(&mut self, v: u8) -> Result<(), NoRoom> {
        self.bytes(&[v])
    }

    /// A little-endian u16.
    pub fn u16(&mut self, v: u16) -> Result<(), NoRoom> {
        self.bytes(&v.to_le_bytes())
    }

    /// A little-endian u32.
    pub fn u32(&mut self, v: u32) -> Result<(), NoRoom> {
        self.bytes(&v.to_le_bytes())
    }

    /// A little-endian u64.
    pub fn u64(&mut self, v: u64) -> Result<(), NoRoom> {
        self.bytes(&v.to_le_bytes())
    }

    /// A little-endian i64.
    pub fn i64(&mut self, v: i64) -> Result<(), NoRoom> {
        self.bytes(&v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_written_and_fails_at_the_edges() {
        let mut buf = [0u8; 15];
        let mut w = Writer::new(&mut buf);
        w.u8(1).unwrap();
        w.u16(0x0302).unwrap();
        w.u32(0x0706_0504).unwrap();
        assert_eq!(w.pos(), 7);
        w.i64(0x0808_0808_0808_0808).unwrap();
        assert_eq!(w.u8(0), Err(NoRoom));
        assert_eq!(w.pos(), 15);
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0302));
        assert_eq!(r.u32(), Ok(0x0706_0504));
        assert_eq!(r.i64(), Ok(0x0808_0808_0808_0808));
        assert_eq!(r.u8(), Err(Truncated));
        assert_eq!(Reader::new(&buf).finish(), Err(Trailing));
        let mut r = Reader::new(&buf[..3]);
        assert_eq!(r.bytes(3), Ok(&buf[..3]));
        assert_eq!(r.finish(), Ok(()));
    }
}
