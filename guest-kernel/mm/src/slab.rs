//! One slab: a buddy block cut into equal objects, and which of them are free.
//!
//! Linux keeps a slab's free list inside the free objects themselves. We
//! cannot touch the memory, so a bitmap out of band records the free
//! objects instead: bit `i` set means object `i` (at `base + i * size`) is
//! free. The bitmap has room for the largest object count of any class
//! (`MAX_OBJECTS`), so descriptors are all the same size and live in one
//! preallocated array.

use crate::size_class::MAX_OBJECTS;

const WORDS: usize = MAX_OBJECTS / 64;

/// `base` of a descriptor that describes no slab.
const UNUSED: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Slab {
    /// Address of the slab's buddy block, or `UNUSED`.
    pub base: u64,
    /// Size class (index into `KMALLOC_SIZES`).
    pub class: u8,
    /// Objects handed out.
    pub in_use: u16,
    /// Bit set = object free.
    free: [u64; WORDS],
}

impl Slab {
    pub(crate) const UNUSED: Slab = Slab {
        base: UNUSED,
        class: 0,
        in_use: 0,
        free: [0; WORDS],
    };

    /// A slab at `base` of `objects` free objects of class `class`.
    pub(crate) fn new(base: u64, class: usize, objects: usize) -> Self {
        assert!(objects <= MAX_OBJECTS);
        let mut free = [0u64; WORDS];
        for (w, word) in free.iter_mut().enumerate() {
            let bits = objects.saturating_sub(w * 64).min(64);
            *word = if bits == 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            };
        }
        Self {
            base,
            class: class as u8,
            in_use: 0,
            free,
        }
    }

    pub(crate) fn is_used(&self) -> bool {
        self.base != UNUSED
    }

    /// Takes the lowest-numbered free object (so a slab fills from its
    /// start, keeping live objects together); `None` if the slab is full.
    pub(crate) fn take_object(&mut self) -> Option<usize> {
        let (w, word) = self
            .free
            .iter_mut()
            .enumerate()
            .find(|(_, word)| **word != 0)?;
        let bit = word.trailing_zeros() as usize;
        *word &= !(1 << bit);
        self.in_use += 1;
        Some(w * 64 + bit)
    }

    /// Marks object `index` free again; `false` if it already was (a double
    /// free), in which case nothing changes.
    pub(crate) fn put_object(&mut self, index: usize) -> bool {
        let (word, mask) = (&mut self.free[index / 64], 1u64 << (index % 64));
        if *word & mask != 0 {
            return false;
        }
        *word |= mask;
        self.in_use -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_come_lowest_first_and_double_free_is_refused() {
        let mut slab = Slab::new(0x1000, 0, 70);
        for expected in 0..70 {
            assert_eq!(slab.take_object(), Some(expected));
        }
        assert_eq!(slab.take_object(), None, "object 70 does not exist");
        assert_eq!(slab.in_use, 70);

        assert!(slab.put_object(65));
        assert!(!slab.put_object(65));
        assert!(slab.put_object(3));
        assert_eq!(slab.in_use, 68);
        assert_eq!(slab.take_object(), Some(3));
        assert_eq!(slab.take_object(), Some(65));
        assert_eq!(slab.take_object(), None);
    }

    #[test]
    fn a_full_size_bitmap_has_every_bit() {
        let mut slab = Slab::new(0, 0, MAX_OBJECTS);
        assert!((0..MAX_OBJECTS).all(|i| slab.take_object() == Some(i)));
        assert_eq!(slab.take_object(), None);
        assert!(!Slab::UNUSED.is_used() && slab.is_used());
    }
}
