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

/// The route for a request of `size` bytes aligned to `align`. A size of 0
/// is served as 1 byte, so it gets a real, distinct object.
pub(crate) fn route(size: usize, align: usize) -> Route {
    if !align.is_power_of_two() {
        return Route::Unsatisfiable;
    }
    let size = size.max(1);
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
