//! Where a run queue keeps the entities of its tasks: a slot arena, i.e. a
//! vector of slots with a free list threaded through the empty ones. It
//! grows only when every slot is taken and never shrinks, so once a queue
//! has held as many tasks as it will, storing and taking entities allocates
//! nothing. A task's slot index also names its node in the timeline
//! ([`crate::timeline`]), and is how the hot paths find it (the running
//! task's slot, the leftmost queued one) without looking up its id.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;
use core::ops::{Index, IndexMut};

#[derive(Clone, Debug)]
enum Slot<T> {
    Used(T),
    /// An empty slot and the next one on the free list.
    Free {
        next: Option<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    /// The most recently emptied slot: reused first, while its cache lines
    /// (and its timeline node's) are likely still warm.
    free: Option<usize>,
    len: usize,
}

impl<T> Arena<T> {
    /// An arena with room for `slots` values before it grows.
    pub fn with_capacity(slots: usize) -> Self {
        Arena {
            slots: Vec::with_capacity(slots),
            free: None,
            len: 0,
        }
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Stores `value` in a free slot (a new one only if none is free) and
    /// returns the slot's index.
    pub fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        match self.free {
            Some(slot) => {
                let Slot::Free { next } = mem::replace(&mut self.slots[slot], Slot::Used(value))
                else {
                    unreachable!("slot {slot} on the free list is in use");
                };
                self.free = next;
                slot
            }
            None => {
                self.slots.push(Slot::Used(value));
                self.slots.len() - 1
            }
        }
    }

    /// Takes the value out of `slot`, which becomes free. Panics if it is free.
    pub fn remove(&mut self, slot: usize) -> T {
        let next = self.free;
        let Slot::Used(value) = mem::replace(&mut self.slots[slot], Slot::Free { next }) else {
            panic!("slot {slot} is free");
        };
        self.free = Some(slot);
        self.len -= 1;
        value
    }

    pub fn get(&self, slot: usize) -> Option<&T> {
        match self.slots.get(slot) {
            Some(Slot::Used(value)) => Some(value),
            _ => None,
        }
    }

    /// The used slots and their values, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, s)| match s {
                Slot::Used(value) => Some((slot, value)),
                Slot::Free { .. } => None,
            })
    }

    /// Checks that the free list holds exactly the free slots, each once.
    pub fn check(&self) -> Result<(), String> {
        let mut on_list = 0;
        let mut cursor = self.free;
        while let Some(slot) = cursor {
            // Longer than the free slots can be: a cycle.
            on_list += 1;
            if on_list + self.len > self.slots.len() {
                return Err(format!(
                    "arena free list runs past its {} free slots",
                    self.slots.len() - self.len
                ));
            }
            cursor = match self.slots.get(slot) {
                Some(Slot::Free { next }) => *next,
                _ => {
                    return Err(format!(
                        "arena free list reaches slot {slot}, which is not free"
                    ));
                }
            };
        }
        let used = self.iter().count();
        if used != self.len || used + on_list != self.slots.len() {
            return Err(format!(
                "arena has {} slots, {used} used (counted {}), {on_list} on the free list",
                self.slots.len(),
                self.len
            ));
        }
        Ok(())
    }
}

impl<T> Index<usize> for Arena<T> {
    type Output = T;

    fn index(&self, slot: usize) -> &T {
        match &self.slots[slot] {
            Slot::Used(value) => value,
            Slot::Free { .. } => panic!("slot {slot} is free"),
        }
    }
}

impl<T> IndexMut<usize> for Arena<T> {
    fn index_mut(&mut self, slot: usize) -> &mut T {
        match &mut self.slots[slot] {
            Slot::Used(value) => value,
            Slot::Free { .. } => panic!("slot {slot} is free"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_slots_are_reused_last_freed_first_before_growing() {
        let mut arena = Arena::with_capacity(2);
        let slots: Vec<usize> = (0..4).map(|v| arena.insert(v)).collect();
        assert_eq!(slots, [0, 1, 2, 3]);
        assert_eq!(arena.remove(1), 1);
        assert_eq!(arena.remove(3), 3);
        arena.check().unwrap();
        assert_eq!(arena.get(3), None);
        assert_eq!(arena.insert(30), 3);
        assert_eq!(arena.insert(10), 1);
        assert_eq!(arena.insert(4), 4);
        assert_eq!(
            arena.iter().collect::<Vec<_>>(),
            [(0, &0), (1, &10), (2, &2), (3, &30), (4, &4)]
        );
        assert_eq!(arena.len(), 5);
        arena.check().unwrap();
    }
}
