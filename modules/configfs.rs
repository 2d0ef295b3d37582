// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrapper around configfs (`include/linux/configfs.h`).
//!
//! A [`Subsystem`] is a directory under `/sys/kernel/config` whose files are
//! [`Attribute`]s: Rust types that show and store a value of the
//! subsystem's data `D`. configfs gives an attribute callback only the item,
//! not the attribute, so each attribute gets its own monomorphised
//! trampoline; the item leads back to `D` through its item type, which is
//! embedded next to `D` in one pinned allocation.

use crate::extra as raw;
use core::{fmt, marker::PhantomData, mem::offset_of, ptr};
use kernel::{error::to_result, ffi::c_char, page::PAGE_SIZE, prelude::*, str::CStr, types::Opaque, ThisModule};

/// A file of a configfs [`Subsystem`] with data `D`.
pub(crate) trait Attribute<D>: 'static {
    /// File name.
    const NAME: &'static CStr;
    /// Whether root may write the file (adds mode 0200).
    const WRITABLE: bool = false;
    /// Whether the file can be read (mode 0444); false for secrets.
    const READABLE: bool = true;
    /// Writes the file's content into `out`.
    fn show(data: &D, out: &mut Page<'_>) -> Result;
    /// Takes what was written to the file.
    fn store(_data: &D, _input: &[u8]) -> Result {
        Err(EPERM)
    }
}

/// The page a `show` callback fills (configfs gives `PAGE_SIZE` bytes).
pub(crate) struct Page<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Page<'_> {
    /// Bytes still free in the page.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Writes `value` and a newline, the usual content of an attribute.
    pub(crate) fn line(&mut self, value: impl fmt::Display) -> Result {
        fmt::Write::write_fmt(self, format_args!("{value}\n")).map_err(|_| EINVAL)
    }
}

impl fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Describes one attribute for [`Subsystem::register`].
pub(crate) struct AttrDesc<D> {
    name: &'static CStr,
    mode: u16,
    show: Option<unsafe extern "C" fn(*mut raw::config_item, *mut c_char) -> isize>,
    store: Option<unsafe extern "C" fn(*mut raw::config_item, *const c_char, usize) -> isize>,
    _data: PhantomData<fn(&D)>,
}

impl<D: Sync + 'static> AttrDesc<D> {
    /// The descriptor of attribute `A`.
    pub(crate) const fn of<A: Attribute<D>>() -> Self {
        AttrDesc {
            name: A::NAME,
            mode: (if A::READABLE { 0o444 } else { 0 }) | (if A::WRITABLE { 0o200 } else { 0 }),
            show: if A::READABLE { Some(show_trampoline::<D, A>) } else { None },
            store: if A::WRITABLE { Some(store_trampoline::<D, A>) } else { None },
            _data: PhantomData,
        }
    }
}

/// The allocation configfs points into: never moves while registered.
struct Inner<D> {
    subsys: Opaque<raw::configfs_subsystem>,
    item_type: Opaque<raw::config_item_type>,
    // Referenced by `item_type.ct_attrs`; heap buffers, stable.
    _attrs: KVec<raw::configfs_attribute>,
    _attr_ptrs: KVec<*mut raw::configfs_attribute>,
    data: D,
}

/// A registered configfs subsystem; unregistered on drop.
pub(crate) struct Subsystem<D> {
    inner: Pin<KBox<Inner<D>>>,
}

// SAFETY: the raw pointers inside `Inner` only point into memory owned by
// the same `Inner`; configfs serialises its own use of them. `D` is shared
// with configfs callbacks on any thread, hence the bounds.
unsafe impl<D: Send + Sync> Send for Subsystem<D> {}
// SAFETY: as above; `&Subsystem` gives no access to the raw parts.
unsafe impl<D: Send + Sync> Sync for Subsystem<D> {}

impl<D: Send + Sync + 'static> Subsystem<D> {
    /// Creates `/sys/kernel/config/<name>` with `attrs` over `data`.
    pub(crate) fn register(
        name: &'static CStr,
        module: &'static ThisModule,
        data: D,
        attrs: &[AttrDesc<D>],
    ) -> Result<Self> {
        let mut attr_vec = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        for a in attrs {
            attr_vec.push(
                raw::configfs_attribute {
                    ca_name: a.name.as_char_ptr(),
                    ca_owner: module.as_ptr(),
                    ca_mode: a.mode,
                    show: a.show,
                    store: a.store,
                },
                GFP_KERNEL,
            )?;
        }
        let mut attr_ptrs = KVec::with_capacity(attrs.len() + 1, GFP_KERNEL)?;
        for a in attr_vec.iter_mut() {
            attr_ptrs.push(ptr::from_mut(a), GFP_KERNEL)?;
        }
        attr_ptrs.push(ptr::null_mut(), GFP_KERNEL)?;
        let item_type =
            raw::config_item_type { ct_owner: module.as_ptr(), ct_attrs: attr_ptrs.as_mut_ptr(), ..Default::default() };
        let inner = KBox::pin(
            Inner {
                subsys: Opaque::uninit(),
                item_type: Opaque::new(item_type),
                _attrs: attr_vec,
                _attr_ptrs: attr_ptrs,
                data,
            },
            GFP_KERNEL,
        )?;
        let subsys = inner.subsys.get();
        // SAFETY: `subsys` points to memory owned by `inner` that stays in
        // place (pinned) until `drop` unregisters it; it is zeroed, then set
        // up with configfs' own initialisers before registration. `name` is
        // 'static and NUL-terminated; `item_type` lives in the same pinned
        // allocation and leads back to `data` (see `data_of`).
        unsafe {
            ptr::write_bytes(subsys, 0, 1);
            raw::config_group_init_type_name(&raw mut (*subsys).su_group, name.as_char_ptr(), inner.item_type.get());
            raw::ssi_configfs_subsystem_init(subsys);
            to_result(raw::configfs_register_subsystem(subsys))?;
        }
        Ok(Subsystem { inner })
    }
}

impl<D> Drop for Subsystem<D> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; configfs holds a reference on
        // the module while any of its files is open, so no callback runs
        // once this returns.
        unsafe { raw::configfs_unregister_subsystem(self.inner.subsys.get()) };
    }
}

/// The data of the subsystem an item belongs to.
///
/// # Safety
///
/// `item` must belong to a [`Subsystem<D>`] that is still registered (true
/// inside configfs callbacks of its attributes).
unsafe fn data_of<'a, D>(item: *mut raw::config_item) -> &'a D {
    // SAFETY: per the contract, `ci_type` is the `item_type` field of an
    // `Inner<D>`, so stepping back by its offset gives that `Inner<D>`,
    // alive for the duration of the callback.
    unsafe {
        let item_type = (*item).ci_type.cast::<u8>();
        let inner = item_type.sub(offset_of!(Inner<D>, item_type)).cast::<Inner<D>>();
        &(*inner).data
    }
}

/// configfs `show` callback of attribute `A`.
///
/// # Safety
///
/// Called by configfs only: `item` belongs to a registered `Subsystem<D>`
/// and `page` is a buffer of `PAGE_SIZE` bytes.
unsafe extern "C" fn show_trampoline<D: 'static, A: Attribute<D>>(item: *mut raw::config_item, page: *mut c_char) -> isize {
    // SAFETY: configfs calls `show` for an attribute of a registered
    // `Subsystem<D>` (the only place these trampolines are installed), with
    // a buffer of PAGE_SIZE bytes that nothing else uses during the call.
    let (data, buf) = unsafe { (data_of::<D>(item), core::slice::from_raw_parts_mut(page.cast::<u8>(), PAGE_SIZE)) };
    let mut out = Page { buf, len: 0 };
    match A::show(data, &mut out) {
        Ok(()) => out.len as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// configfs `store` callback of attribute `A`.
///
/// # Safety
///
/// Called by configfs only: `item` belongs to a registered `Subsystem<D>`
/// and `page` holds `count` readable bytes.
unsafe extern "C" fn store_trampoline<D: 'static, A: Attribute<D>>(
    item: *mut raw::config_item,
    page: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: as in `show_trampoline`; configfs passes `count` bytes it
    // copied from the writer.
    let (data, input) = unsafe { (data_of::<D>(item), core::slice::from_raw_parts(page.cast::<u8>(), count)) };
    match A::store(data, input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}
