//! The run queue's timeline: Linux's `tasks_timeline`, a red-black tree of
//! the queued tasks keyed by `(vruntime, id)`, with its leftmost node cached
//! (`struct rb_root_cached`), so picking the next task is O(1) and queueing
//! or dequeueing one is O(log n).
//!
//! The tree is intrusive in the way an index-linked structure can be without
//! `unsafe`: node `i` is element `i` of one vector, where `i` is the task's
//! slot in its CPU's entity arena ([`crate::arena`]). Inserting and erasing
//! only relink indices; the vector grows only when the arena hands out a
//! slot beyond its end, i.e. only when the arena itself grows.
//!
//! Why red-black, as Linux: at most two rotations per insert and three per
//! erase, with a worst-case height of 2 log2(n + 1) and no randomness. AVL
//! trees may rotate all the way up on erase (and a task is erased from the
//! tree on every pick); a treap's balance is only expected, and with
//! deterministic priorities it depends on the keys it is fed.
//!
//! Each node keeps a copy of its key, as the `BTreeSet` this replaces did:
//! a descent then reads only these 32-byte nodes, not the tasks' entities.
//! The copy cannot go stale, because a queued task's vruntime never changes
//! (the running task's does, and it is out of the tree).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::iter;

use crate::{Nanos, TaskId};

/// A queued task's sort key: the id breaks ties, so keys are unique and
/// equal vruntimes are served in id order.
pub(crate) type Key = (Nanos, TaskId);

/// "No node": the links of a leaf, the parent of the root.
const NIL: u32 = u32::MAX;
const LEFT: usize = 0;
const RIGHT: usize = 1;

/// The other side.
fn flip(dir: usize) -> usize {
    dir ^ 1
}

#[derive(Clone, Copy, Debug)]
struct RbNode {
    key: Key,
    parent: u32,
    /// `rb_left` and `rb_right`, indexed by side, so that each rebalancing
    /// case is written once for both mirror images (Linux spells both out).
    child: [u32; 2],
    red: bool,
}

impl RbNode {
    /// A node no task has used yet.
    const UNUSED: RbNode = RbNode {
        key: (0, 0),
        parent: NIL,
        child: [NIL; 2],
        red: false,
    };
}

#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    /// Indexed by arena slot; only the nodes of queued tasks are linked.
    nodes: Vec<RbNode>,
    root: u32,
    /// The node with the smallest key, `NIL` when empty.
    rb_leftmost: u32,
    len: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            nodes: Vec::new(),
            root: NIL,
            rb_leftmost: NIL,
            len: 0,
        }
    }
}

/// A slot as a link, `None` for `NIL`.
fn slot(link: u32) -> Option<usize> {
    (link != NIL).then_some(link as usize)
}

impl Timeline {
    /// A tree with room for the nodes of slots `0..slots` before it grows.
    pub fn with_capacity(slots: usize) -> Self {
        Timeline {
            nodes: Vec::with_capacity(slots),
            ..Timeline::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// `rb_first_cached()`: the slot with the smallest key.
    pub fn first(&self) -> Option<usize> {
        slot(self.rb_leftmost)
    }

    /// The key `slot` was inserted with.
    pub fn key(&self, slot: usize) -> Key {
        self.nodes[slot].key
    }

    /// `rb_next()`: the slot after `slot` in key order.
    pub fn next(&self, slot: usize) -> Option<usize> {
        let mut i = slot as u32;
        let right = self.node(i).child[RIGHT];
        if right != NIL {
            return self::slot(self.outermost(right, LEFT));
        }
        // Climb until we come up from a left child: that parent is next.
        loop {
            let parent = self.node(i).parent;
            if parent == NIL || self.node(parent).child[LEFT] == i {
                return self::slot(parent);
            }
            i = parent;
        }
    }

    /// The queued slots in key order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        iter::successors(self.first(), |&s| self.next(s))
    }

    /// `rb_add_cached()`: links the node of `slot`, which must not be linked.
    pub fn insert(&mut self, slot: usize, key: Key) {
        let z = u32::try_from(slot)
            .ok()
            .filter(|&z| z != NIL)
            .expect("slot fits a link");
        if slot >= self.nodes.len() {
            self.nodes.resize(slot + 1, RbNode::UNUSED);
        }
        let (mut parent, mut dir, mut leftmost) = (NIL, LEFT, true);
        let mut i = self.root;
        while i != NIL {
            debug_assert_ne!(key, self.node(i).key, "key queued twice");
            parent = i;
            dir = if key < self.node(i).key {
                LEFT
            } else {
                leftmost = false;
                RIGHT
            };
            i = self.node(i).child[dir];
        }
        self.nodes[slot] = RbNode {
            key,
            parent,
            child: [NIL; 2],
            red: true,
        };
        match parent {
            NIL => self.root = z,
            _ => self.nodes[parent as usize].child[dir] = z,
        }
        if leftmost {
            self.rb_leftmost = z;
        }
        self.len += 1;
        self.insert_fixup(z);
    }

    /// `rb_erase_cached()`: unlinks the node of `slot`, which must be linked.
    pub fn erase(&mut self, slot: usize) {
        let z = slot as u32;
        if z == self.rb_leftmost {
            self.rb_leftmost = self.next(slot).map_or(NIL, |s| s as u32);
        }
        let [left, right] = self.node(z).child;
        // `x` moves into the place of the node that leaves the tree's
        // shape (z itself, or its successor that replaces it); if that node
        // was black, the paths through `x` are one black short.
        let (x, x_parent, removed_black);
        if left == NIL || right == NIL {
            x = if left == NIL { right } else { left };
            x_parent = self.node(z).parent;
            removed_black = !self.node(z).red;
            self.transplant(z, x);
        } else {
            let y = self.outermost(right, LEFT);
            x = self.node(y).child[RIGHT];
            removed_black = !self.node(y).red;
            if y == right {
                x_parent = y;
            } else {
                x_parent = self.node(y).parent;
                self.transplant(y, x);
                self.nodes[y as usize].child[RIGHT] = right;
                self.nodes[right as usize].parent = y;
            }
            self.transplant(z, y);
            self.nodes[y as usize].child[LEFT] = left;
            self.nodes[left as usize].parent = y;
            self.nodes[y as usize].red = self.node(z).red;
        }
        self.len -= 1;
        if removed_black {
            self.erase_fixup(x, x_parent);
        }
    }

    fn node(&self, i: u32) -> &RbNode {
        &self.nodes[i as usize]
    }

    fn is_red(&self, i: u32) -> bool {
        i != NIL && self.node(i).red
    }

    fn set_red(&mut self, i: u32, red: bool) {
        self.nodes[i as usize].red = red;
    }

    /// The side of `parent` that `child` hangs on.
    fn side(&self, parent: u32, child: u32) -> usize {
        usize::from(self.node(parent).child[RIGHT] == child)
    }

    /// The last node going from `i` always to `dir`.
    fn outermost(&self, mut i: u32, dir: usize) -> u32 {
        while self.node(i).child[dir] != NIL {
            i = self.node(i).child[dir];
        }
        i
    }

    /// Puts `new` (maybe `NIL`) where `old` hangs (`__rb_change_child()`).
    fn transplant(&mut self, old: u32, new: u32) {
        let parent = self.node(old).parent;
        if parent == NIL {
            self.root = new;
        } else {
            let side = self.side(parent, old);
            self.nodes[parent as usize].child[side] = new;
        }
        if new != NIL {
            self.nodes[new as usize].parent = parent;
        }
    }

    /// Moves `x` down to its `dir` side and its other child up into its
    /// place (`dir == LEFT`: a left rotation). Keeps the key order.
    fn rotate(&mut self, x: u32, dir: usize) {
        let y = self.node(x).child[flip(dir)];
        let inner = self.node(y).child[dir];
        self.nodes[x as usize].child[flip(dir)] = inner;
        if inner != NIL {
            self.nodes[inner as usize].parent = x;
        }
        self.transplant(x, y);
        self.nodes[y as usize].child[dir] = x;
        self.nodes[x as usize].parent = y;
    }

    /// `rb_insert_color()`: the new red node `z` may have a red parent.
    fn insert_fixup(&mut self, mut z: u32) {
        loop {
            let p = self.node(z).parent;
            if !self.is_red(p) {
                break;
            }
            // A red node is never the root, so the grandparent exists.
            let g = self.node(p).parent;
            let dir = self.side(g, p);
            let uncle = self.node(g).child[flip(dir)];
            if self.is_red(uncle) {
                // Red uncle: push the grandparent's black down, go on above.
                self.set_red(p, false);
                self.set_red(uncle, false);
                self.set_red(g, true);
                z = g;
                continue;
            }
            // Black uncle: an inner grandchild first rotates outwards, then
            // the grandparent rotates away from the red pair. Done.
            let top = if self.side(p, z) == dir {
                p
            } else {
                self.rotate(p, dir);
                z
            };
            self.set_red(top, false);
            self.set_red(g, true);
            self.rotate(g, flip(dir));
            break;
        }
        let root = self.root;
        self.set_red(root, false);
    }

    /// `____rb_erase_color()`: the paths through `x` (maybe `NIL`, child of
    /// `parent`) are one black node short of the others.
    fn erase_fixup(&mut self, mut x: u32, mut parent: u32) {
        while x != self.root && !self.is_red(x) {
            // The sibling's side has a black node more, so it is not NIL;
            // hence when `x` is NIL, the NIL child of `parent` is `x`.
            let dir = if self.node(parent).child[LEFT] == x {
                LEFT
            } else {
                RIGHT
            };
            let mut w = self.node(parent).child[flip(dir)];
            if self.is_red(w) {
                // Red sibling: rotate it up, so x's sibling is black.
                self.set_red(w, false);
                self.set_red(parent, true);
                self.rotate(parent, dir);
                w = self.node(parent).child[flip(dir)];
            }
            let [inner, outer] = [self.node(w).child[dir], self.node(w).child[flip(dir)]];
            if !self.is_red(inner) && !self.is_red(outer) {
                // Take a black off both sides here; the shortage moves up.
                self.set_red(w, true);
                x = parent;
                parent = self.node(x).parent;
                continue;
            }
            if !self.is_red(outer) {
                // Only the inner nephew is red: rotate it up to outer.
                self.set_red(inner, false);
                self.set_red(w, true);
                self.rotate(w, flip(dir));
                w = self.node(parent).child[flip(dir)];
            }
            // Red outer nephew: rotating the sibling up adds x's missing black.
            let outer = self.node(w).child[flip(dir)];
            self.set_red(w, self.node(parent).red);
            self.set_red(parent, false);
            self.set_red(outer, false);
            self.rotate(parent, dir);
            x = self.root;
        }
        if x != NIL {
            self.set_red(x, false);
        }
    }

    /// Checks the red-black properties (black root, no red node with a red
    /// child, the same number of black nodes on every path), the parent
    /// links, the key order, the count and the leftmost cache.
    pub fn check(&self) -> Result<(), String> {
        if self.root != NIL && (self.node(self.root).parent != NIL || self.node(self.root).red) {
            return Err(format!(
                "timeline root {} has a parent or is red",
                self.root
            ));
        }
        let mut count = 0;
        self.check_subtree(self.root, NIL, (None, None), &mut count)?;
        if count != self.len {
            return Err(format!("timeline holds {count} nodes, counts {}", self.len));
        }
        let leftmost = match self.root {
            NIL => NIL,
            root => self.outermost(root, LEFT),
        };
        if self.rb_leftmost != leftmost {
            return Err(format!(
                "timeline caches leftmost {} but it is {leftmost}",
                self.rb_leftmost
            ));
        }
        Ok(())
    }

    /// Checks the subtree under `i` (child of `parent`), whose keys must lie
    /// strictly between `bounds`; returns its black height.
    fn check_subtree(
        &self,
        i: u32,
        parent: u32,
        bounds: (Option<Key>, Option<Key>),
        count: &mut usize,
    ) -> Result<usize, String> {
        if i == NIL {
            return Ok(1);
        }
        // Counting first stops the walk on a cycle.
        *count += 1;
        if *count > self.len || i as usize >= self.nodes.len() {
            return Err(format!(
                "timeline reaches node {i} beyond its {} nodes",
                self.len
            ));
        }
        let n = self.node(i);
        if n.parent != parent {
            return Err(format!(
                "timeline node {i} has parent {}, not {parent}",
                n.parent
            ));
        }
        if bounds.0.is_some_and(|lo| n.key <= lo) || bounds.1.is_some_and(|hi| n.key >= hi) {
            return Err(format!(
                "timeline node {i} with key {:?} is out of order",
                n.key
            ));
        }
        if n.red && (self.is_red(n.child[LEFT]) || self.is_red(n.child[RIGHT])) {
            return Err(format!("timeline node {i} is red with a red child"));
        }
        let left = self.check_subtree(n.child[LEFT], i, (bounds.0, Some(n.key)), count)?;
        let right = self.check_subtree(n.child[RIGHT], i, (Some(n.key), bounds.1), count)?;
        if left != right {
            return Err(format!(
                "timeline node {i} has {left} black nodes on its left, {right} on its right"
            ));
        }
        Ok(left + usize::from(!n.red))
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    use super::*;

    /// SplitMix64: a seeded sequence for the operations.
    struct SplitMix(u64);

    impl SplitMix {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }

    /// Random inserts and erases over a pool of slots, with few distinct
    /// vruntimes so that ties (broken by id) are common; after every step
    /// the tree must hold what a `BTreeSet` holds, in the same order, and
    /// satisfy its invariants.
    fn random_ops(seed: u64, slots: usize, steps: usize) {
        let mut rng = SplitMix(seed);
        let mut tree = Timeline::default();
        let mut reference = BTreeSet::new();
        let mut key_of: Vec<Option<Key>> = alloc::vec![None; slots];
        for step in 0..steps {
            let slot = rng.below(slots as u64) as usize;
            // Grow and shrink in turns, so the tree is both large and empty at times.
            let growing = (step / (4 * slots)).is_multiple_of(2);
            match key_of[slot] {
                Some(key) if !growing || rng.below(4) == 0 => {
                    tree.erase(slot);
                    assert!(reference.remove(&(key, slot)));
                    key_of[slot] = None;
                }
                None if growing || rng.below(4) == 0 => {
                    // Ids are unique but not in slot order, as after tasks moved between queues.
                    let key = (rng.below(16), (slot * 7 % slots) as TaskId);
                    tree.insert(slot, key);
                    assert!(reference.insert((key, slot)));
                    key_of[slot] = Some(key);
                }
                _ => continue,
            }
            tree.check()
                .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
            let expected: Vec<usize> = reference.iter().map(|&(_, s)| s).collect();
            assert_eq!(
                tree.iter().collect::<Vec<_>>(),
                expected,
                "seed {seed} step {step}"
            );
            assert_eq!(tree.first(), expected.first().copied());
            assert_eq!(tree.len(), expected.len());
            for &s in &expected {
                assert_eq!(Some(tree.key(s)), key_of[s]);
            }
        }
    }

    #[test]
    fn random_inserts_and_erases_match_a_btreeset() {
        for seed in 1..=20 {
            random_ops(seed, 64, 3_000);
        }
        random_ops(99, 8, 3_000);
        random_ops(100, 1_000, 20_000);
    }

    #[test]
    fn ascending_and_descending_inserts_stay_balanced() {
        let n = 1_000;
        for descending in [false, true] {
            let mut tree = Timeline::default();
            for i in 0..n {
                let v = if descending { n - i } else { i };
                tree.insert(i, (v as Nanos, i as TaskId));
            }
            tree.check().unwrap();
            // Red-black: height <= 2 log2(n + 1) < 20 for 1000 nodes.
            let depth = |mut s: usize| {
                let mut d = 0;
                while tree.node(s as u32).parent != NIL {
                    s = tree.node(s as u32).parent as usize;
                    d += 1;
                }
                d
            };
            assert!((0..n).map(depth).max().unwrap() < 20);
            let first = if descending { n - 1 } else { 0 };
            assert_eq!(tree.first(), Some(first));
            while let Some(s) = tree.first() {
                tree.erase(s);
            }
            tree.check().unwrap();
            assert_eq!(tree.len(), 0);
        }
    }
}
