//! kmalloc size classes: which cache serves a request, and how big its slabs
//! are (Linux: `kmalloc_info[]`, `kmalloc_slab()`, `calculate_order()`).
//!
//! An object of class `c` sits at `slab base + i * c`. Slab bases are buddy
//! blocks, aligned to at least `PAGE_SIZE`, so such an object is aligned to
//! every power of two that divides `c` (up to the slab alignment). A request
//! `(size, align)` therefore goes to the smallest class with `c >= size` and
//! `c % align == 0`: 96 serves alignment 32 but not 64, so a 65-byte,
//! 64-aligned request lands in 128. Requests no class serves get whole buddy
//! blocks, which are aligned to their own size.

use crate::{MAX_ORDER, PAGE_SIZE, order_bytes};

/// Object sizes of the kmalloc caches, as Linux's `kmalloc-8` .. `kmalloc-8k`.
pub const KMALLOC_SIZES: [usize; NR_KMALLOC_CLASSES] = [
    8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
];

pub const NR_KMALLOC_CLASSES: usize = 13;

/// Requests larger than this go straight to the buddy allocator.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 8192;

/// At least this many objects per slab, so that big classes do not turn
/// every allocation into a buddy allocation.
const MIN_OBJECTS: usize = 8;

/// Most objects in any slab: a 4 KiB slab of 8-byte objects. Sizes the
/// per-slab bitmap.
pub(crate) const MAX_OBJECTS: usize = PAGE_SIZE as usize / KMALLOC_SIZES[0];

/// Where a request is served from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// From the slab cache of this class (an index into `KMALLOC_SIZES`).
    Slab(usize),
    /// From a buddy block of this order.
    Pages(usize),
    /// Bigger than a `MAX_ORDER` block, or `align` not a power of two.
    Unsatisfiable,
}

/// The class of sizes 1..=192 with alignment at most 8, by `(size - 1) / 8`
/// (Linux: `size_index[]`): every class is a multiple of 8, so the smallest
/// that holds the size serves it.
const SMALL_CLASS: [u8; 24] = {
    let mut table = [0; 24];
    let mut i = 0;
    while i < 24 {
        let size = (i + 1) * 8;
        let mut class = 0;
        while KMALLOC_SIZES[class] < size {
            class += 1;
        }
        table[i] = class as u8;
        i += 1;
    }
    table
};

/// Index of the 256-byte class: from there on classes double.
const FIRST_POWER_CLASS: usize = 7;
const _: () = assert!(KMALLOC_SIZES[FIRST_POWER_CLASS] == 256 && KMALLOC_SIZES[6] == 192);

/// The route for a request of `size` bytes aligned to `align`. A size of 0
/// is served as 1 byte, so it gets a real, distinct object.
///
/// Requests aligned to at most 8 bytes (almost all of them) find their class
/// in constant time, with a table up to 192 bytes and the size's power of two
/// above (Linux: `kmalloc_index()`); others search the classes.
#[inline]
pub(crate) fn route(size: usize, align: usize) -> Route {
    let size = size.max(1);
    if align <= 8 && align.is_power_of_two() {
        if size <= 192 {
            return Route::Slab(usize::from(SMALL_CLASS[(size - 1) / 8]));
        }
        if size <= KMALLOC_MAX_CACHE_SIZE {
            // 193..=256 -> 256 (class 7), 257..=512 -> 512, ...
            let log2_ceil = (usize::BITS - (size - 1).leading_zeros()) as usize;
            return Route::Slab(FIRST_POWER_CLASS + log2_ceil - 8);
        }
    }
    route_searching(size, align)
}

/// [`route`] by searching the classes: any alignment.
fn route_searching(size: usize, align: usize) -> Route {
    if !align.is_power_of_two() {
        return Route::Unsatisfiable;
    }
    if let Some(class) = KMALLOC_SIZES
        .iter()
        .position(|&c| c >= size && c % align == 0)
    {
        return Route::Slab(class);
    }
    match pages_order(size.max(align) as u64) {
        Some(order) => Route::Pages(order),
        None => Route::Unsatisfiable,
    }
}

/// The smallest order whose block holds `bytes`.
fn pages_order(bytes: u64) -> Option<usize> {
    let pages = bytes.div_ceil(PAGE_SIZE);
    let order = pages.next_power_of_two().ilog2() as usize;
    (order <= MAX_ORDER).then_some(order)
}

/// The buddy order of one slab of `size`-byte objects: the smallest that
/// holds at least `MIN_OBJECTS` objects and wastes at most 1/16 of the slab
/// at its end (only 96 and 192 leave any waste: 64 bytes of 4 KiB).
pub(crate) fn slab_order(size: usize) -> usize {
    (0..=MAX_ORDER)
        .find(|&order| {
            let bytes = order_bytes(order) as usize;
            bytes / size >= MIN_OBJECTS && (bytes % size) * 16 <= bytes
        })
        .expect("every kmalloc class fits a MAX_ORDER slab")
}

/// Objects in one slab of `size`-byte objects.
pub(crate) fn objects_per_slab(size: usize) -> usize {
    order_bytes(slab_order(size)) as usize / size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_increasing_and_end_at_the_cache_limit() {
        assert!(KMALLOC_SIZES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(*KMALLOC_SIZES.last().unwrap(), KMALLOC_MAX_CACHE_SIZE);
    }

    #[test]
    fn requests_go_to_the_smallest_class_that_fits_and_aligns() {
        let class = |size| KMALLOC_SIZES.iter().position(|&c| c == size).unwrap();
        assert_eq!(route(0, 1), Route::Slab(class(8)));
        assert_eq!(route(1, 1), Route::Slab(class(8)));
        assert_eq!(route(8, 16), Route::Slab(class(16)));
        assert_eq!(route(65, 8), Route::Slab(class(96)));
        assert_eq!(route(65, 32), Route::Slab(class(96)));
        assert_eq!(route(65, 64), Route::Slab(class(128)));
        assert_eq!(route(129, 64), Route::Slab(class(192)));
        assert_eq!(route(129, 128), Route::Slab(class(256)));
        assert_eq!(route(3000, 4096), Route::Slab(class(4096)));
        assert_eq!(route(8192, 8), Route::Slab(class(8192)));
        assert_eq!(route(8, 8192), Route::Slab(class(8192)));
        assert_eq!(route(8193, 8), Route::Pages(2)); // 3 pages -> order 2
        assert_eq!(route(8, 16384), Route::Pages(2)); // alignment beyond every class
        assert_eq!(route(4 << 20, 4096), Route::Pages(MAX_ORDER));
        assert_eq!(route((4 << 20) + 1, 8), Route::Unsatisfiable);
        assert_eq!(route(8, 8 << 20), Route::Unsatisfiable);
        assert_eq!(route(8, 24), Route::Unsatisfiable);
    }

    #[test]
    fn the_constant_time_route_agrees_with_the_search() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096, 8192, 3, 24] {
            for size in 0..=20_000 {
                assert_eq!(route(size, align), route_searching(size.max(1), align), "size {size} align {align}");
            }
        }
    }

    #[test]
    fn slabs_hold_at_least_eight_objects_with_little_waste() {
        let expected_orders = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        for (&size, &order) in KMALLOC_SIZES.iter().zip(&expected_orders) {
            assert_eq!(slab_order(size), order, "class {size}");
            let objects = objects_per_slab(size);
            assert!(
                (MIN_OBJECTS..=MAX_OBJECTS).contains(&objects),
                "class {size}: {objects}"
            );
        }
        assert_eq!(objects_per_slab(96), 42);
        assert_eq!(objects_per_slab(192), 21);
        assert_eq!(objects_per_slab(8), MAX_OBJECTS);
    }
}
