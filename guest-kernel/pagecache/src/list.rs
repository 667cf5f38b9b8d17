//! Intrusive doubly-linked lists over preallocated node arenas, as Linux
//! keeps its LRU lists through `struct page` (`page->lru`): a node's links
//! are slot numbers (u32) into its arena, so moving a key between lists or
//! to a list's end relinks a few words and allocates nothing.
//!
//! - [`List`]: one list (head, tail, length) over nodes that carry its
//!   links; a node type may carry several sets of links (`Linked<L>`).
//!   A node off every list of one kind may keep 64 bits of its own in
//!   those links ([`Links::holding`]): LeCaR's and qrule's nodes keep a
//!   count there, so a node's two states share one layout.
//! - [`Pool`]: the arena of nodes under their keys ([`PageIndex`]), free
//!   slots chained through their links. Capacity fixed at creation.
//! - [`FrequencyIndex`]: keys by (access count, order of arrival at that
//!   count), least first, in O(1) per count increment: the bucket lists of
//!   "An O(1) algorithm for implementing the LFU cache eviction scheme"
//!   (K. Shah, A. Mitra, D. Matani, 2010).
//! - [`History`]: a bounded FIFO of evicted keys (ghosts).

use alloc::vec::Vec;

use crate::PageKey;
use crate::index::{Keyed, Packed64, PackedKey, PageIndex, Vacancy};

/// Slots fit in 30 bits; a link's top two bits hold half a node's tag.
const SLOT_MASK: u32 = (1 << 30) - 1;
/// No slot: the end of a list.
pub const NIL: u32 = SLOT_MASK;

/// A node's neighbours in one list, and a 4-bit tag its owner keeps in
/// their spare top bits (which list the node is on, a flag), as Linux
/// keeps an rb-tree node's colour in its parent pointer.
#[derive(Clone, Copy, Debug)]
pub struct Links {
    prev: u32,
    next: u32,
}

impl Links {
    /// On no list, with `tag`.
    pub fn new(tag: u8) -> Self {
        let mut l = Links { prev: NIL, next: NIL };
        l.set_tag(tag);
        l
    }

    pub fn prev(self) -> u32 {
        self.prev & SLOT_MASK
    }
    pub fn next(self) -> u32 {
        self.next & SLOT_MASK
    }
    fn set_prev(&mut self, s: u32) {
        self.prev = (self.prev & !SLOT_MASK) | s;
    }
    fn set_next(&mut self, s: u32) {
        self.next = (self.next & !SLOT_MASK) | s;
    }

    /// 64 bits of the owner's kept in place of the links of a node on no
    /// list of this kind (a union without `unsafe`); [`Links::new`] makes
    /// them links again.
    pub fn holding(v: u64) -> Self {
        Links { prev: v as u32, next: (v >> 32) as u32 }
    }
    pub fn held(self) -> u64 {
        u64::from(self.prev) | u64::from(self.next) << 32
    }

    pub fn tag(self) -> u8 {
        ((self.prev >> 30) | (self.next >> 30) << 2) as u8
    }
    pub fn set_tag(&mut self, tag: u8) {
        debug_assert!(tag < 16);
        let t = u32::from(tag);
        self.prev = (self.prev & SLOT_MASK) | (t & 3) << 30;
        self.next = (self.next & SLOT_MASK) | (t >> 2) << 30;
    }
}

/// A node with links number `L` (a node on two lists at once has two).
pub trait Linked<const L: usize> {
    fn links(&self) -> &Links;
    fn links_mut(&mut self) -> &mut Links;
}

/// A list over nodes' links `L`: front is the oldest end (LRU), back the newest.
#[derive(Clone, Copy, Debug)]
pub struct List<const L: usize> {
    head: u32,
    tail: u32,
    len: u32,
}

impl<const L: usize> Default for List<L> {
    fn default() -> Self {
        List { head: NIL, tail: NIL, len: 0 }
    }
}

impl<const L: usize> List<L> {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    pub fn push_back<N: Linked<L>>(&mut self, nodes: &mut [N], s: u32) {
        self.insert_before(nodes, s, NIL);
    }

    /// Puts `s` (on no list) before `at`, or at the back if `at` is NIL.
    pub fn insert_before<N: Linked<L>>(&mut self, nodes: &mut [N], s: u32, at: u32) {
        let prev = if at == NIL { self.tail } else { nodes[at as usize].links().prev() };
        let l = nodes[s as usize].links_mut();
        l.set_prev(prev);
        l.set_next(at);
        match prev {
            NIL => self.head = s,
            p => nodes[p as usize].links_mut().set_next(s),
        }
        match at {
            NIL => self.tail = s,
            n => nodes[n as usize].links_mut().set_prev(s),
        }
        self.len += 1;
    }

    /// Takes `s` (on this list) off it.
    pub fn unlink<N: Linked<L>>(&mut self, nodes: &mut [N], s: u32) {
        let l = *nodes[s as usize].links();
        match l.prev() {
            NIL => self.head = l.next(),
            p => nodes[p as usize].links_mut().set_next(l.next()),
        }
        match l.next() {
            NIL => self.tail = l.prev(),
            n => nodes[n as usize].links_mut().set_prev(l.prev()),
        }
        let l = nodes[s as usize].links_mut();
        l.set_prev(NIL);
        l.set_next(NIL);
        self.len -= 1;
    }

    /// `s` (on this list) to the back.
    pub fn move_to_back<N: Linked<L>>(&mut self, nodes: &mut [N], s: u32) {
        if self.tail != s {
            self.unlink(nodes, s);
            self.push_back(nodes, s);
        }
    }

    pub fn pop_front<N: Linked<L>>(&mut self, nodes: &mut [N]) -> Option<u32> {
        let s = self.front()?;
        self.unlink(nodes, s);
        Some(s)
    }

    /// The slots from front to back, checking that the links agree both
    /// ways and with the length.
    #[cfg(test)]
    pub fn check<N: Linked<L>>(&self, nodes: &[N]) -> Vec<u32> {
        let slots: Vec<u32> = self.iter(nodes).take(nodes.len() + 1).collect();
        assert_eq!(slots.len(), self.len(), "list length");
        let mut prev = NIL;
        for &s in &slots {
            assert_eq!(nodes[s as usize].links().prev(), prev, "prev link of {s}");
            prev = s;
        }
        assert_eq!(self.tail, prev, "tail");
        slots
    }

    /// Slots from front to back.
    pub fn iter<'a, N: Linked<L>>(&self, nodes: &'a [N]) -> impl Iterator<Item = u32> + 'a {
        let mut s = self.head;
        core::iter::from_fn(move || {
            let cur = s;
            (cur != NIL).then(|| {
                s = nodes[cur as usize].links().next();
                cur
            })
        })
    }
}

/// An arena of at most `capacity` nodes (fixed at creation); a freed slot
/// is chained through its links 0 for reuse.
pub struct Slab<N> {
    nodes: Vec<N>,
    free: u32,
}

impl<N: Linked<0>> Slab<N> {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity < NIL as usize, "{capacity} nodes: slots have 30 bits");
        Slab { nodes: Vec::with_capacity(capacity), free: NIL }
    }

    pub fn bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<N>()
    }

    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }
    pub fn nodes_mut(&mut self) -> &mut [N] {
        &mut self.nodes
    }

    pub fn insert(&mut self, node: N) -> u32 {
        if self.free != NIL {
            let s = self.free;
            self.free = self.nodes[s as usize].links().next();
            self.nodes[s as usize] = node;
            s
        } else {
            assert!(self.nodes.len() < self.nodes.capacity(), "node arena full");
            self.nodes.push(node);
            self.nodes.len() as u32 - 1
        }
    }

    /// Frees `s` (on no list).
    pub fn remove(&mut self, s: u32) {
        let l = self.nodes[s as usize].links_mut();
        l.set_next(self.free);
        self.free = s;
    }
}

/// Nodes found by key: a [`Slab`] and a [`PageIndex`] over it.
pub struct Pool<N> {
    slab: Slab<N>,
    index: PageIndex,
}

impl<N: Keyed + Linked<0>> Pool<N> {
    /// For at most `capacity` nodes, the index with `spare` free entries (see [`PageIndex::new`]).
    pub fn new(capacity: usize, spare: usize) -> Self {
        Pool { slab: Slab::new(capacity), index: PageIndex::new(capacity, spare) }
    }

    pub fn bytes(&self) -> usize {
        self.slab.bytes() + self.index.bytes()
    }

    pub fn nodes(&self) -> &[N] {
        self.slab.nodes()
    }
    pub fn nodes_mut(&mut self) -> &mut [N] {
        self.slab.nodes_mut()
    }
    pub fn node(&self, s: u32) -> &N {
        &self.slab.nodes[s as usize]
    }

    /// The slot of `key`, or where its key would go.
    pub fn find(&self, key: PageKey) -> Result<u32, Vacancy> {
        let nodes = self.slab.nodes();
        self.index.find(key, |s| nodes[s as usize].key())
    }

    /// Adds `node`, whose key missed at `v`; returns its slot.
    pub fn insert(&mut self, v: Vacancy, node: N) -> u32 {
        let s = self.slab.insert(node);
        self.index.insert(v, s);
        s
    }

    /// Puts `node`, whose key missed at `v`, in slot `s` (on no list),
    /// whose key leaves and is returned: an eviction without freeing.
    pub fn reuse(&mut self, v: Vacancy, s: u32, node: N) -> PageKey {
        self.index.insert(v, s);
        let old = core::mem::replace(&mut self.slab.nodes_mut()[s as usize], node).key();
        self.index.remove(old, s);
        old
    }

    /// Frees `s` (on no list), returning its key.
    pub fn remove(&mut self, s: u32) -> PageKey {
        let key = self.slab.nodes()[s as usize].key();
        self.index.remove(key, s);
        self.slab.remove(s);
        key
    }

    /// Checks that the nodes on the owner's lists, `on_lists`, are the
    /// nodes indexed, each once and under its own key.
    #[cfg(test)]
    pub fn check(&self, on_lists: &[u32]) {
        let mut listed = on_lists.to_vec();
        listed.sort_unstable();
        let mut indexed: Vec<u32> = self.index.slots().collect();
        indexed.sort_unstable();
        assert_eq!(listed, indexed, "nodes on lists vs nodes indexed");
        for &s in on_lists {
            assert_eq!(self.find(self.node(s).key()).ok(), Some(s), "node {s} indexed under its key");
        }
    }
}

/// A key and its links: LRU's and ARC's node, a ghost.
#[derive(Clone, Copy, Debug)]
pub struct KeyNode {
    key: PackedKey,
    links: Links,
}

impl KeyNode {
    pub fn new(key: PageKey, tag: u8) -> Self {
        KeyNode { key: PackedKey::new(key), links: Links::new(tag) }
    }
}

impl Keyed for KeyNode {
    fn key(&self) -> PageKey {
        self.key.get()
    }
}

impl Linked<0> for KeyNode {
    fn links(&self) -> &Links {
        &self.links
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// A node that a [`FrequencyIndex`] orders: its links 1 chain it in its
/// count's bucket, and it names that bucket.
pub trait Counted: Linked<1> {
    fn bucket(&self) -> u32;
    fn set_bucket(&mut self, b: u32);
}

/// The keys with one access count, in order of arrival at it.
struct Bucket {
    count: Packed64,
    /// Links in the list of buckets, by increasing count.
    links: Links,
    members: List<1>,
}

impl Linked<0> for Bucket {
    fn links(&self) -> &Links {
        &self.links
    }
    fn links_mut(&mut self) -> &mut Links {
        &mut self.links
    }
}

/// Nodes ordered by (count, arrival at that count), least first: LFU order
/// with ties to the oldest. A list of buckets by increasing count, each a
/// list of its nodes, so adding one to a count moves a node to the next
/// bucket (or renames its bucket) in O(1). Entering at an arbitrary count
/// (a key back from history) walks the buckets from the least count.
pub struct FrequencyIndex {
    buckets: Slab<Bucket>,
    order: List<0>,
}

impl FrequencyIndex {
    /// For at most `capacity` nodes (so at most as many buckets).
    pub fn new(capacity: usize) -> Self {
        FrequencyIndex { buckets: Slab::new(capacity), order: List::default() }
    }

    pub fn bytes(&self) -> usize {
        self.buckets.bytes()
    }

    /// The bucket for `count`, created if absent; the walk starts after
    /// bucket `from` (one with a smaller count), or at the least count.
    fn bucket(&mut self, count: u64, from: u32) -> u32 {
        let b = self.buckets.nodes();
        let mut at = if from == NIL { self.order.head } else { b[from as usize].links.next() };
        while at != NIL && b[at as usize].count.get() < count {
            at = b[at as usize].links.next();
        }
        if at != NIL && b[at as usize].count.get() == count {
            return at;
        }
        let new =
            self.buckets.insert(Bucket { count: Packed64::new(count), links: Links::new(0), members: List::default() });
        self.order.insert_before(self.buckets.nodes_mut(), new, at);
        new
    }

    /// Adds `s` (absent) with `count`, as the newest at that count.
    pub fn insert<N: Counted>(&mut self, nodes: &mut [N], s: u32, count: u64) {
        let b = self.bucket(count, NIL);
        self.buckets.nodes_mut()[b as usize].members.push_back(nodes, s);
        nodes[s as usize].set_bucket(b);
    }

    /// Takes `s` out, returning its count.
    pub fn remove<N: Counted>(&mut self, nodes: &mut [N], s: u32) -> u64 {
        let b = nodes[s as usize].bucket();
        let bucket = &mut self.buckets.nodes_mut()[b as usize];
        bucket.members.unlink(nodes, s);
        let count = bucket.count.get();
        if bucket.members.len() == 0 {
            self.order.unlink(self.buckets.nodes_mut(), b);
            self.buckets.remove(b);
        }
        count
    }

    /// One more access to `s`; returns its new count.
    pub fn bump<N: Counted>(&mut self, nodes: &mut [N], s: u32) -> u64 {
        let b = nodes[s as usize].bucket();
        let bucket = &self.buckets.nodes()[b as usize];
        let count = bucket.count.get() + 1;
        let next = bucket.links.next();
        if bucket.members.len() == 1 && (next == NIL || self.buckets.nodes()[next as usize].count.get() != count) {
            // Alone at its count: the bucket itself moves up.
            self.buckets.nodes_mut()[b as usize].count = Packed64::new(count);
            return count;
        }
        let to = self.bucket(count, b);
        self.remove(nodes, s);
        self.buckets.nodes_mut()[to as usize].members.push_back(nodes, s);
        nodes[s as usize].set_bucket(to);
        count
    }

    /// The count of `s` (in the index).
    pub fn count<N: Counted>(&self, nodes: &[N], s: u32) -> u64 {
        self.buckets.nodes()[nodes[s as usize].bucket() as usize].count.get()
    }

    /// The least counted node, oldest at that count.
    pub fn peek_lfu(&self) -> Option<u32> {
        let b = self.order.front()?;
        self.buckets.nodes()[b as usize].members.front()
    }

    /// Checks the buckets (non-empty, counts increasing, members naming
    /// them) and returns the nodes, least first.
    #[cfg(test)]
    pub fn check<N: Counted>(&self, nodes: &[N]) -> Vec<u32> {
        let buckets = self.buckets.nodes();
        let mut out = Vec::new();
        let mut last = None;
        for b in self.order.check(buckets) {
            let bucket = &buckets[b as usize];
            assert!(last < Some(bucket.count.get()), "bucket counts increase");
            last = Some(bucket.count.get());
            let members = bucket.members.check(nodes);
            assert!(!members.is_empty(), "empty bucket {b}");
            assert!(members.iter().all(|&s| nodes[s as usize].bucket() == b), "members name bucket {b}");
            out.extend(members);
        }
        out
    }
}

/// Keys recently evicted, oldest first, at most `capacity` (the oldest
/// goes when a new one comes), each with a tag: qrule's ghosts.
pub struct History {
    pool: Pool<KeyNode>,
    order: List<0>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        History { pool: Pool::new(capacity, capacity), order: List::default(), capacity }
    }

    pub fn bytes(&self) -> usize {
        self.pool.bytes()
    }

    /// Adds `key`, absent, as the newest.
    pub fn add(&mut self, key: PageKey, tag: u8) {
        let Err(v) = self.pool.find(key) else { panic!("{key:?} already in history") };
        let node = KeyNode::new(key, tag);
        let s = if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front(self.pool.nodes_mut())
        {
            self.pool.reuse(v, oldest, node);
            oldest
        } else {
            self.pool.insert(v, node)
        };
        self.order.push_back(self.pool.nodes_mut(), s);
    }

    /// Removes `key`, returning its tag if it was present.
    pub fn take(&mut self, key: PageKey) -> Option<u8> {
        let s = self.pool.find(key).ok()?;
        self.order.unlink(self.pool.nodes_mut(), s);
        let tag = self.pool.node(s).links.tag();
        self.pool.remove(s);
        Some(tag)
    }

    /// Checks the order and the index, and the bound; returns the keys, oldest first.
    #[cfg(test)]
    pub fn check(&self) -> Vec<PageKey> {
        let slots = self.order.check(self.pool.nodes());
        self.pool.check(&slots);
        assert!(slots.len() <= self.capacity, "history over its capacity");
        slots.iter().map(|&s| self.pool.node(s).key()).collect()
    }
}
