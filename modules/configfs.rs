// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrapper around configfs (`include/linux/configfs.h`).
//!
//! A [`Subsystem`] is a directory under `/sys/kernel/config`, described
//! by a [`Group`]: its files, its default child groups (directories made
//! with it, nested at will, each with its own files) and, for a group
//! whose children an operator makes with `mkdir` and removes with
//! `rmdir`, what those do ([`Items`]) and the files each such item has.
//! Every file and callback gets the subsystem's data `D`.
//!
//! The files:
//!
//! - [`Attribute`]: a Rust type per file;
//! - [`IndexedAttribute`]: one type serving files described by a runtime
//!   table (a name and an index each), such as a table of parameters;
//! - [`ItemAttribute`]: a file of each item made by `mkdir`; it gets the
//!   item's name too.
//!
//! configfs gives an attribute callback only the item, not the attribute,
//! so each attribute gets its own monomorphised trampoline (for an
//! indexed attribute, one per index: [`MAX_INDEXED`] at most). The item
//! leads back to `D` through its item type, which the wrapper embeds in a
//! [`TypeBox`] next to a pointer to `D`; an item made by `mkdir` lives in
//! a [`UserItem`] with a copy of its name.
//!
//! configfs pins the module while an item made by `mkdir` exists (and
//! while a file is open): `rmmod` fails as busy until the operator has
//! removed them with `rmdir`. Unregistering a subsystem that still has
//! such items is not possible for that reason.

use crate::extra as raw;
use core::{ffi::c_void, fmt, marker::PhantomData, mem::offset_of, ptr};
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

/// Files described by a runtime table: one type serves many files, told
/// apart by their index (below [`MAX_INDEXED`]); each is given its name
/// and index with [`AttrDesc::indexed`].
pub(crate) trait IndexedAttribute<D>: 'static {
    /// Whether root may write the files (adds mode 0200).
    const WRITABLE: bool = false;
    /// Whether the files can be read (mode 0444).
    const READABLE: bool = true;
    /// Writes the content of file `index` into `out`.
    fn show(data: &D, index: usize, out: &mut Page<'_>) -> Result;
    /// Takes what was written to file `index`.
    fn store(_data: &D, _index: usize, _input: &[u8]) -> Result {
        Err(EPERM)
    }
}

/// A file of every item an operator makes with `mkdir` in a group (see
/// [`Group::set_items`]); it gets the item's name.
pub(crate) trait ItemAttribute<D>: 'static {
    /// File name.
    const NAME: &'static CStr;
    /// Whether root may write the file (adds mode 0200).
    const WRITABLE: bool = false;
    /// Whether the file can be read (mode 0444).
    const READABLE: bool = true;
    /// Writes the content of the file of item `item` into `out`.
    fn show(data: &D, item: &[u8], out: &mut Page<'_>) -> Result;
    /// Takes what was written to the file of item `item`.
    fn store(_data: &D, _item: &[u8], _input: &[u8]) -> Result {
        Err(EPERM)
    }
}

/// What `mkdir` and `rmdir` do in a group of items ([`Group::set_items`]).
/// Both run under the subsystem's mutex: one at a time per subsystem.
pub(crate) trait Items<D>: 'static {
    /// `mkdir NAME`: an error refuses it (the directory is not made).
    fn make(data: &D, name: &[u8]) -> Result;
    /// `rmdir NAME`, or the undoing of a `mkdir` that [`Self::make`]
    /// accepted but configfs could not finish. configfs cannot refuse an
    /// `rmdir` at this point: the directory goes whatever this does.
    fn drop(data: &D, name: &[u8]);
}

/// Most files one [`IndexedAttribute`] type serves (one trampoline each).
pub(crate) const MAX_INDEXED: usize = 32;

/// Longest name of a group ([`Group::new`]), bytes: configfs keeps up to
/// this in the item itself, a longer one in an allocation that nothing
/// would free (a default group's last reference is never dropped).
pub(crate) const MAX_GROUP_NAME: usize = 19;

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

type ShowFn = unsafe extern "C" fn(*mut raw::config_item, *mut c_char) -> isize;
type StoreFn = unsafe extern "C" fn(*mut raw::config_item, *const c_char, usize) -> isize;
type MakeFn = unsafe extern "C" fn(*mut raw::config_group, *const c_char) -> *mut raw::config_item;
type DropFn = unsafe extern "C" fn(*mut raw::config_group, *mut raw::config_item);

/// A file's name (without its NUL), mode and callbacks.
#[derive(Clone, Copy)]
struct RawAttr {
    name: &'static [u8],
    mode: u16,
    show: Option<ShowFn>,
    store: Option<StoreFn>,
}

const fn mode(readable: bool, writable: bool) -> u16 {
    (if readable { 0o444 } else { 0 }) | (if writable { 0o200 } else { 0 })
}

/// The bytes of `name` without its NUL.
const fn bytes_of(name: &'static CStr) -> &'static [u8] {
    match name.as_bytes_with_nul().split_last() {
        Some((_, rest)) => rest,
        None => &[],
    }
}

/// Describes one file of a [`Group`].
pub(crate) struct AttrDesc<D> {
    raw: RawAttr,
    _data: PhantomData<fn(&D)>,
}

impl<D> Clone for AttrDesc<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for AttrDesc<D> {}

impl<D: Sync + 'static> AttrDesc<D> {
    /// The descriptor of attribute `A`.
    pub(crate) const fn of<A: Attribute<D>>() -> Self {
        AttrDesc {
            raw: RawAttr {
                name: bytes_of(A::NAME),
                mode: mode(A::READABLE, A::WRITABLE),
                show: if A::READABLE { Some(show_trampoline::<D, A>) } else { None },
                store: if A::WRITABLE { Some(store_trampoline::<D, A>) } else { None },
            },
            _data: PhantomData,
        }
    }

    /// The file `name` served by `A` as its file `index`; `EINVAL` if
    /// `index` is [`MAX_INDEXED`] or more, or `name` holds a NUL.
    pub(crate) fn indexed<A: IndexedAttribute<D>>(name: &'static str, index: usize) -> Result<Self> {
        let (Some(&show), Some(&store)) = (Indexed::<D, A>::SHOW.get(index), Indexed::<D, A>::STORE.get(index)) else {
            return Err(EINVAL);
        };
        if name.is_empty() || name.bytes().any(|b| b == 0 || b == b'/') {
            return Err(EINVAL);
        }
        Ok(AttrDesc {
            raw: RawAttr {
                name: name.as_bytes(),
                mode: mode(A::READABLE, A::WRITABLE),
                show: if A::READABLE { Some(show) } else { None },
                store: if A::WRITABLE { Some(store) } else { None },
            },
            _data: PhantomData,
        })
    }
}

/// Describes one file of the items of a group of items.
pub(crate) struct ItemAttrDesc<D> {
    raw: RawAttr,
    _data: PhantomData<fn(&D)>,
}

impl<D> Clone for ItemAttrDesc<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D> Copy for ItemAttrDesc<D> {}

impl<D: Sync + 'static> ItemAttrDesc<D> {
    /// The descriptor of item attribute `A`.
    pub(crate) const fn of<A: ItemAttribute<D>>() -> Self {
        ItemAttrDesc {
            raw: RawAttr {
                name: bytes_of(A::NAME),
                mode: mode(A::READABLE, A::WRITABLE),
                show: if A::READABLE { Some(item_show_trampoline::<D, A>) } else { None },
                store: if A::WRITABLE { Some(item_store_trampoline::<D, A>) } else { None },
            },
            _data: PhantomData,
        }
    }
}

/// What `mkdir`/`rmdir` in a group do, and its items' files.
struct ItemsDesc<D> {
    make: MakeFn,
    drop: DropFn,
    attrs: KVec<ItemAttrDesc<D>>,
}

/// A configfs directory to register: its files, its default child
/// groups and, if operators may `mkdir` in it, its items.
pub(crate) struct Group<D> {
    name: &'static CStr,
    attrs: KVec<AttrDesc<D>>,
    children: KVec<Group<D>>,
    items: Option<ItemsDesc<D>>,
}

impl<D: Send + Sync + 'static> Group<D> {
    /// An empty directory `name` (at most [`MAX_GROUP_NAME`] bytes, else
    /// its registration fails with `EINVAL`).
    pub(crate) fn new(name: &'static CStr) -> Self {
        Group { name, attrs: KVec::new(), children: KVec::new(), items: None }
    }

    /// Adds files.
    pub(crate) fn add_attrs(&mut self, attrs: &[AttrDesc<D>]) -> Result {
        self.attrs.extend_from_slice(attrs, GFP_KERNEL)?;
        Ok(())
    }

    /// Adds a default child group: a directory made with this one, that
    /// `rmdir` cannot remove.
    pub(crate) fn add_child(&mut self, child: Group<D>) -> Result {
        self.children.push(child, GFP_KERNEL)?;
        Ok(())
    }

    /// Lets operators make children with `mkdir` (`I::make`) and remove
    /// them with `rmdir` (`I::drop`); each child has the files `attrs`.
    pub(crate) fn set_items<I: Items<D>>(&mut self, attrs: &[ItemAttrDesc<D>]) -> Result {
        let mut v = KVec::with_capacity(attrs.len(), GFP_KERNEL)?;
        v.extend_from_slice(attrs, GFP_KERNEL)?;
        self.items = Some(ItemsDesc { make: make_item_trampoline::<D, I>, drop: drop_item_trampoline::<D, I>, attrs: v });
        Ok(())
    }
}

/// An item type with what it points to: its files (names, attributes and
/// the NULL-terminated array configfs reads), its operations, and the
/// subsystem's data. configfs reaches it from an item's `ci_type`.
struct TypeBox {
    ty: Opaque<raw::config_item_type>,
    item_ops: Opaque<raw::configfs_item_operations>,
    group_ops: Opaque<raw::configfs_group_operations>,
    /// The subsystem's `D`.
    data: *const c_void,
    /// For a group of items: the type of its items.
    items: *const raw::config_item_type,
    // Heap buffers configfs points into; stable while they live.
    _names: KVec<KVec<u8>>,
    _attrs: KVec<raw::configfs_attribute>,
    _attr_ptrs: KVec<*mut raw::configfs_attribute>,
}

/// What a [`TypeBox`] is made of.
struct TypeSpec<'a> {
    attrs: &'a [RawAttr],
    release: Option<unsafe extern "C" fn(*mut raw::config_item)>,
    make: Option<MakeFn>,
    drop: Option<DropFn>,
    items: *const raw::config_item_type,
}

impl TypeBox {
    fn new(module: &'static ThisModule, data: *const c_void, spec: TypeSpec<'_>) -> Result<Pin<KBox<TypeBox>>> {
        let mut names = KVec::with_capacity(spec.attrs.len(), GFP_KERNEL)?;
        for a in spec.attrs {
            let mut n = KVec::with_capacity(a.name.len() + 1, GFP_KERNEL)?;
            n.extend_from_slice(a.name, GFP_KERNEL)?;
            n.push(0, GFP_KERNEL)?;
            names.push(n, GFP_KERNEL)?;
        }
        let mut attrs = KVec::with_capacity(spec.attrs.len(), GFP_KERNEL)?;
        for (a, name) in spec.attrs.iter().zip(names.iter()) {
            attrs.push(
                raw::configfs_attribute {
                    ca_name: name.as_ptr().cast(),
                    ca_owner: module.as_ptr(),
                    ca_mode: a.mode,
                    show: a.show,
                    store: a.store,
                },
                GFP_KERNEL,
            )?;
        }
        let mut attr_ptrs = KVec::with_capacity(attrs.len() + 1, GFP_KERNEL)?;
        for a in attrs.iter_mut() {
            attr_ptrs.push(ptr::from_mut(a), GFP_KERNEL)?;
        }
        attr_ptrs.push(ptr::null_mut(), GFP_KERNEL)?;
        let ty = raw::config_item_type { ct_owner: module.as_ptr(), ct_attrs: attr_ptrs.as_mut_ptr(), ..Default::default() };
        let item_ops = raw::configfs_item_operations { release: spec.release, ..Default::default() };
        let group_ops = raw::configfs_group_operations { make_item: spec.make, drop_item: spec.drop, ..Default::default() };
        let b = KBox::pin(
            TypeBox {
                ty: Opaque::new(ty),
                item_ops: Opaque::new(item_ops),
                group_ops: Opaque::new(group_ops),
                data,
                items: spec.items,
                _names: names,
                _attrs: attrs,
                _attr_ptrs: attr_ptrs,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ty` is ours and not yet given to configfs; the
        // operations it points to live in the same pinned allocation.
        unsafe {
            let ty = b.ty.get();
            if spec.release.is_some() {
                (*ty).ct_item_ops = b.item_ops.get();
            }
            if spec.make.is_some() {
                (*ty).ct_group_ops = b.group_ops.get();
            }
        }
        Ok(b)
    }
}

/// An item an operator made with `mkdir`: owned by configfs's reference
/// count from `make_item` to its `release`.
struct UserItem {
    item: Opaque<raw::config_item>,
    /// Its name (configfs frees its own copy before `release`).
    name: KVec<u8>,
}

/// The allocation configfs points into: never moves while registered.
struct Inner<D> {
    subsys: Opaque<raw::configfs_subsystem>,
    data: D,
}

/// A registered configfs subsystem; unregistered on drop.
pub(crate) struct Subsystem<D> {
    inner: Pin<KBox<Inner<D>>>,
    // Dropped after `inner`, all after unregistering: the item types and
    // the default groups configfs points to.
    _types: KVec<Pin<KBox<TypeBox>>>,
    _groups: KVec<Pin<KBox<Opaque<raw::config_group>>>>,
}

// SAFETY: the raw pointers inside `Inner` and the type boxes only point
// into memory owned by the same `Subsystem`; configfs serialises its own
// use of them. `D` is shared with configfs callbacks on any thread, hence
// the bounds.
unsafe impl<D: Send + Sync> Send for Subsystem<D> {}
// SAFETY: as above; `&Subsystem` gives no access to the raw parts.
unsafe impl<D: Send + Sync> Sync for Subsystem<D> {}

/// What setting up the groups of a subsystem needs and makes.
struct Builder {
    module: &'static ThisModule,
    data: *const c_void,
    types: KVec<Pin<KBox<TypeBox>>>,
    groups: KVec<Pin<KBox<Opaque<raw::config_group>>>>,
}

impl Builder {
    /// Sets up `group` as `g` describes, and its default groups.
    ///
    /// # Safety
    ///
    /// `group` is zeroed memory of a `config_group` that stays in place
    /// and is not registered until the subsystem is.
    unsafe fn init_group<D: Send + Sync + 'static>(&mut self, g: &Group<D>, group: *mut raw::config_group) -> Result {
        if g.name.len() > MAX_GROUP_NAME {
            pr_err!("configfs: group name '{}' is longer than {} bytes\n", g.name.to_str().unwrap_or("?"), MAX_GROUP_NAME);
            return Err(EINVAL);
        }
        let mut attrs = KVec::with_capacity(g.attrs.len(), GFP_KERNEL)?;
        for a in g.attrs.iter() {
            attrs.push(a.raw, GFP_KERNEL)?;
        }
        let mut spec = TypeSpec { attrs: &attrs, release: None, make: None, drop: None, items: ptr::null() };
        if let Some(items) = &g.items {
            let mut item_attrs = KVec::with_capacity(items.attrs.len(), GFP_KERNEL)?;
            for a in items.attrs.iter() {
                item_attrs.push(a.raw, GFP_KERNEL)?;
            }
            let item_spec =
                TypeSpec { attrs: &item_attrs, release: Some(release_item), make: None, drop: None, items: ptr::null() };
            let item_ty = TypeBox::new(self.module, self.data, item_spec)?;
            spec.items = item_ty.ty.get();
            spec.make = Some(items.make);
            spec.drop = Some(items.drop);
            self.types.push(item_ty, GFP_KERNEL)?;
        }
        let ty = TypeBox::new(self.module, self.data, spec)?;
        let ty_ptr = ty.ty.get();
        self.types.push(ty, GFP_KERNEL)?;
        // SAFETY: per the contract, `group` is zeroed and stays in place;
        // the name is 'static and short enough to stay in the item's own
        // buffer; `ty_ptr` lives as long as the subsystem.
        unsafe { raw::config_group_init_type_name(group, g.name.as_char_ptr(), ty_ptr) };
        for child in g.children.iter() {
            let b = KBox::pin(Opaque::new(raw::config_group::default()), GFP_KERNEL)?;
            let child_ptr = b.get();
            self.groups.push(b, GFP_KERNEL)?;
            // SAFETY: `child_ptr` is zeroed, pinned and kept in `groups`
            // until after the subsystem is unregistered.
            unsafe { self.init_group(child, child_ptr)? };
            // SAFETY: both groups are initialised and not registered yet.
            unsafe { raw::ssi_configfs_add_default_group(child_ptr, group) };
        }
        Ok(())
    }
}

impl<D: Send + Sync + 'static> Subsystem<D> {
    /// Creates `/sys/kernel/config/<root's name>` as `root` describes,
    /// with its default groups, over `data`.
    pub(crate) fn register(module: &'static ThisModule, data: D, root: Group<D>) -> Result<Self> {
        let inner = KBox::pin(Inner { subsys: Opaque::uninit(), data }, GFP_KERNEL)?;
        let subsys = inner.subsys.get();
        let mut b = Builder { module, data: ptr::from_ref(&inner.data).cast(), types: KVec::new(), groups: KVec::new() };
        // SAFETY: `subsys` points to memory owned by `inner` that stays in
        // place (pinned) until `drop` unregisters it; it is zeroed, then
        // set up with configfs' own initialisers before registration. The
        // item types and default groups `init_group` makes are kept in the
        // returned value, dropped after unregistering.
        unsafe {
            ptr::write_bytes(subsys, 0, 1);
            b.init_group(&root, &raw mut (*subsys).su_group)?;
            raw::ssi_configfs_subsystem_init(subsys);
            to_result(raw::configfs_register_subsystem(subsys))?;
        }
        Ok(Subsystem { inner, _types: b.types, _groups: b.groups })
    }
}

impl<D> Drop for Subsystem<D> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; configfs holds a reference on
        // the module while any of its files is open or an item made by
        // mkdir exists, so no callback runs once this returns and the
        // subsystem has no such item.
        unsafe { raw::configfs_unregister_subsystem(self.inner.subsys.get()) };
    }
}

/// The type box of an item's type.
///
/// # Safety
///
/// `item` must be an item of a registered [`Subsystem`] (true inside
/// configfs callbacks of its attributes and groups): its `ci_type` is the
/// `ty` field of a [`TypeBox`] that outlives the callback.
unsafe fn type_box_of<'a>(item: *const raw::config_item) -> &'a TypeBox {
    // SAFETY: per the contract, stepping back from `ci_type` by the
    // offset of `ty` gives its `TypeBox`.
    unsafe {
        let ty = (*item).ci_type.cast::<u8>();
        &*ty.sub(offset_of!(TypeBox, ty)).cast::<TypeBox>()
    }
}

/// The data of the subsystem an item belongs to.
///
/// # Safety
///
/// As [`type_box_of`], for a `Subsystem<D>`.
unsafe fn data_of<'a, D>(item: *const raw::config_item) -> &'a D {
    // SAFETY: per the contract; `data` points to the `D` of the subsystem's
    // `Inner<D>`, which outlives its registration.
    unsafe { &*type_box_of(item).data.cast::<D>() }
}

/// The [`UserItem`] of an item made by `mkdir`.
///
/// # Safety
///
/// `item` must have been made by [`make_item_trampoline`] and not yet be
/// released (true in the callbacks of its attributes and its drop).
unsafe fn user_item_of<'a>(item: *mut raw::config_item) -> &'a UserItem {
    // SAFETY: per the contract, `item` is the `item` field of a `UserItem`.
    unsafe { &*item.cast::<u8>().sub(offset_of!(UserItem, item)).cast::<UserItem>() }
}

/// Runs a `show`: `f` fills the page.
///
/// # Safety
///
/// `page` is a buffer of `PAGE_SIZE` bytes that nothing else uses during
/// the call.
unsafe fn show_page(page: *mut c_char, f: impl FnOnce(&mut Page<'_>) -> Result) -> isize {
    // SAFETY: per the contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(page.cast::<u8>(), PAGE_SIZE) };
    let mut out = Page { buf, len: 0 };
    match f(&mut out) {
        Ok(()) => out.len as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Runs a `store` of `count` bytes at `page`.
///
/// # Safety
///
/// `page` holds `count` readable bytes.
unsafe fn store_page(page: *const c_char, count: usize, f: impl FnOnce(&[u8]) -> Result) -> isize {
    // SAFETY: per the contract.
    let input = unsafe { core::slice::from_raw_parts(page.cast::<u8>(), count) };
    match f(input) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// configfs `show` callback of attribute `A`.
///
/// # Safety
///
/// Called by configfs only: `item` belongs to a registered `Subsystem<D>`
/// and `page` is a buffer of `PAGE_SIZE` bytes.
unsafe extern "C" fn show_trampoline<D: 'static, A: Attribute<D>>(item: *mut raw::config_item, page: *mut c_char) -> isize {
    // SAFETY: configfs calls `show` for an attribute of a group of a
    // registered `Subsystem<D>` (the only place these trampolines are
    // installed), with a buffer of PAGE_SIZE bytes that nothing else uses
    // during the call.
    unsafe {
        let data = data_of::<D>(item);
        show_page(page, |out| A::show(data, out))
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
    unsafe {
        let data = data_of::<D>(item);
        store_page(page, count, |input| A::store(data, input))
    }
}

/// configfs `show` callback of file `I` of indexed attribute `A`.
///
/// # Safety
///
/// As [`show_trampoline`].
unsafe extern "C" fn indexed_show<D: 'static, A: IndexedAttribute<D>, const I: usize>(
    item: *mut raw::config_item,
    page: *mut c_char,
) -> isize {
    // SAFETY: as in `show_trampoline`.
    unsafe {
        let data = data_of::<D>(item);
        show_page(page, |out| A::show(data, I, out))
    }
}

/// configfs `store` callback of file `I` of indexed attribute `A`.
///
/// # Safety
///
/// As [`store_trampoline`].
unsafe extern "C" fn indexed_store<D: 'static, A: IndexedAttribute<D>, const I: usize>(
    item: *mut raw::config_item,
    page: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: as in `store_trampoline`.
    unsafe {
        let data = data_of::<D>(item);
        store_page(page, count, |input| A::store(data, I, input))
    }
}

/// The trampolines of an indexed attribute, one per index.
struct Indexed<D, A>(PhantomData<(fn(&D), fn() -> A)>);

/// `[f::<D, A, 0>, f::<D, A, 1>, ...]` for the listed indices.
macro_rules! per_index {
    ($f:ident, $($i:literal)*) => { [$($f::<D, A, $i>),*] };
}

impl<D: 'static, A: IndexedAttribute<D>> Indexed<D, A> {
    const SHOW: [ShowFn; MAX_INDEXED] =
        per_index!(indexed_show, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    const STORE: [StoreFn; MAX_INDEXED] =
        per_index!(indexed_store, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

/// configfs `show` callback of item attribute `A`.
///
/// # Safety
///
/// Called by configfs only, for an item made by [`make_item_trampoline`]
/// in a group of a registered `Subsystem<D>`; `page` as in
/// [`show_trampoline`].
unsafe extern "C" fn item_show_trampoline<D: 'static, A: ItemAttribute<D>>(
    item: *mut raw::config_item,
    page: *mut c_char,
) -> isize {
    // SAFETY: these trampolines are installed only in the item types of
    // groups of items, whose items `make_item_trampoline` made; configfs
    // holds a reference on the item during the call.
    unsafe {
        let (data, user) = (data_of::<D>(item), user_item_of(item));
        show_page(page, |out| A::show(data, &user.name, out))
    }
}

/// configfs `store` callback of item attribute `A`.
///
/// # Safety
///
/// As [`item_show_trampoline`]; `page` holds `count` readable bytes.
unsafe extern "C" fn item_store_trampoline<D: 'static, A: ItemAttribute<D>>(
    item: *mut raw::config_item,
    page: *const c_char,
    count: usize,
) -> isize {
    // SAFETY: as in `item_show_trampoline` and `store_trampoline`.
    unsafe {
        let (data, user) = (data_of::<D>(item), user_item_of(item));
        store_page(page, count, |input| A::store(data, &user.name, input))
    }
}

/// configfs `make_item` of a group of items whose `mkdir`s `I` decides.
///
/// # Safety
///
/// Called by configfs only, for a group `Builder::init_group` set up with
/// items, with a NUL-terminated name.
unsafe extern "C" fn make_item_trampoline<D: 'static, I: Items<D>>(
    group: *mut raw::config_group,
    name: *const c_char,
) -> *mut raw::config_item {
    // SAFETY: per the contract, the group's type is a `TypeBox` of a
    // registered `Subsystem<D>` and `name` a C string alive for the call.
    let (tb, data, name) = unsafe {
        let item = &raw const (*group).cg_item;
        (type_box_of(item), data_of::<D>(item), CStr::from_char_ptr(name))
    };
    let made = (|| -> Result<*mut raw::config_item> {
        let mut copy = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        copy.extend_from_slice(name.as_bytes(), GFP_KERNEL)?;
        let user = KBox::new(UserItem { item: Opaque::new(raw::config_item::default()), name: copy }, GFP_KERNEL)?;
        I::make(data, name.as_bytes())?;
        let user = KBox::into_raw(user);
        // SAFETY: `user` is a fresh allocation that configfs owns from here
        // on through the item's reference count (`release_item` frees it);
        // `tb.items` is the items' type, alive as long as the subsystem,
        // which outlives its items (they pin the module).
        unsafe {
            let item = (*user).item.get();
            raw::config_item_init_type_name(item, name.as_char_ptr(), tb.items);
            Ok(item)
        }
    })();
    made.unwrap_or_else(|e| e.to_ptr())
}

/// configfs `drop_item` of a group of items: `I::drop`, then the
/// reference `make_item` gave configfs goes.
///
/// # Safety
///
/// Called by configfs only, for an item of the group made by
/// [`make_item_trampoline`].
unsafe extern "C" fn drop_item_trampoline<D: 'static, I: Items<D>>(
    group: *mut raw::config_group,
    item: *mut raw::config_item,
) {
    // SAFETY: per the contract; configfs holds its own reference on the
    // item during the call, so it is not released before the put below.
    unsafe {
        let data = data_of::<D>(&raw const (*group).cg_item);
        I::drop(data, &user_item_of(item).name);
        raw::config_item_put(item);
    }
}

/// configfs `release` of an item made by `mkdir`: its last reference went.
///
/// # Safety
///
/// Called by configfs only, once, for an item made by
/// [`make_item_trampoline`].
unsafe extern "C" fn release_item(item: *mut raw::config_item) {
    // SAFETY: per the contract, the item is the `item` field of a
    // `UserItem` that `make_item_trampoline` leaked from a `KBox`; nothing
    // uses it after this.
    unsafe {
        let user = ptr::from_ref(user_item_of(item)).cast_mut();
        drop(KBox::from_raw(user));
    }
}
