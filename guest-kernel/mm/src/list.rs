//! Intrusive doubly linked lists of array indices.
//!
//! Linux threads its free lists through `struct page` (`page->lru`) and its
//! slab lists through the slab's own `struct slab`. We do the same with
//! indices instead of pointers: the links live in a `[Link]` array owned by
//! whoever owns the elements (one `Link` per page frame, one per slab
//! descriptor), and a [`List`] is just a head, a tail and a length. Pushing,
//! popping and removing an element from the middle are O(1) and never
//! allocate -- which is the point: these lists are used on the hot paths.
//!
//! An element is on at most one list at a time; the owner knows which (from
//! the frame's or slab's state) and passes the right `List` back for removal.

/// "No element": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// The neighbours of one element. Unlinked elements have both set to `NIL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    next: u32,
    prev: u32,
}

impl Link {
    pub(crate) const UNLINKED: Link = Link {
        next: NIL,
        prev: NIL,
    };
}

/// A list threaded through a `[Link]` array.
#[derive(Clone, Copy, Debug)]
pub(crate) struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl List {
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first element, without removing it.
    pub(crate) fn first(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Adds `i` at the head: the next `pop_front` returns it (LIFO, so the
    /// most recently freed, cache-hot element is reused first).
    pub(crate) fn push_front(&mut self, links: &mut [Link], i: u32) {
        debug_assert_eq!(
            links[i as usize],
            Link::UNLINKED,
            "element {i} already on a list"
        );
        links[i as usize] = Link {
            next: self.head,
            prev: NIL,
        };
        match self.head {
            NIL => self.tail = i,
            old => links[old as usize].prev = i,
        }
        self.head = i;
        self.len += 1;
    }

    /// Adds `i` at the tail: it is reused last.
    pub(crate) fn push_back(&mut self, links: &mut [Link], i: u32) {
        debug_assert_eq!(
            links[i as usize],
            Link::UNLINKED,
            "element {i} already on a list"
        );
        links[i as usize] = Link {
            next: NIL,
            prev: self.tail,
        };
        match self.tail {
            NIL => self.head = i,
            old => links[old as usize].next = i,
        }
        self.tail = i;
        self.len += 1;
    }

    /// Unlinks `i`, which must be on this list.
    pub(crate) fn remove(&mut self, links: &mut [Link], i: u32) {
        let Link { next, prev } = links[i as usize];
        match prev {
            NIL => {
                debug_assert_eq!(self.head, i, "element {i} is not on this list");
                self.head = next;
            }
            p => links[p as usize].next = next,
        }
        match next {
            NIL => {
                debug_assert_eq!(self.tail, i, "element {i} is not on this list");
                self.tail = prev;
            }
            n => links[n as usize].prev = prev,
        }
        links[i as usize] = Link::UNLINKED;
        self.len -= 1;
    }

    /// Removes and returns the first element.
    pub(crate) fn pop_front(&mut self, links: &mut [Link]) -> Option<u32> {
        let i = self.first()?;
        self.remove(links, i);
        Some(i)
    }

    /// The elements from head to tail.
    #[cfg(test)]
    pub(crate) fn iter<'a>(&self, links: &'a [Link]) -> impl Iterator<Item = u32> + 'a {
        let mut cur = self.head;
        core::iter::from_fn(move || {
            let i = (cur != NIL).then_some(cur)?;
            cur = links[i as usize].next;
            Some(i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn contents(list: &List, links: &[Link]) -> Vec<u32> {
        list.iter(links).collect()
    }

    #[test]
    fn push_pop_remove_keep_order_and_length() {
        let mut links = vec![Link::UNLINKED; 8];
        let mut list = List::EMPTY;
        list.push_back(&mut links, 3);
        list.push_back(&mut links, 5);
        list.push_front(&mut links, 1);
        list.push_back(&mut links, 7);
        assert_eq!(contents(&list, &links), [1, 3, 5, 7]);
        assert_eq!(list.len(), 4);

        list.remove(&mut links, 5); // middle
        list.remove(&mut links, 7); // tail
        assert_eq!(contents(&list, &links), [1, 3]);
        list.push_back(&mut links, 7);
        assert_eq!(contents(&list, &links), [1, 3, 7]);
        list.remove(&mut links, 1); // head
        assert_eq!(list.first(), Some(3));

        assert_eq!(list.pop_front(&mut links), Some(3));
        assert_eq!(list.pop_front(&mut links), Some(7));
        assert_eq!(list.pop_front(&mut links), None);
        assert!(list.is_empty());
        assert!(links.iter().all(|l| *l == Link::UNLINKED));
    }

    #[test]
    fn two_lists_share_one_link_array() {
        let mut links = vec![Link::UNLINKED; 6];
        let (mut even, mut odd) = (List::EMPTY, List::EMPTY);
        for i in 0..6 {
            if i % 2 == 0 {
                even.push_front(&mut links, i);
            } else {
                odd.push_back(&mut links, i);
            }
        }
        assert_eq!(contents(&even, &links), [4, 2, 0]);
        assert_eq!(contents(&odd, &links), [1, 3, 5]);
        even.remove(&mut links, 2);
        odd.push_back(&mut links, 2);
        assert_eq!(contents(&even, &links), [4, 0]);
        assert_eq!(contents(&odd, &links), [1, 3, 5, 2]);
    }
}
