//! Kernel thread stacks as virtual-address bookkeeping: the area's layout
//! (fixed-size slots, each an unmapped guard below one stack), which slot a
//! new stack gets, and the report when a fault address lies in a guard.
//!
//! ostd's `kstack.rs` maps and unmaps the pages and flushes TLBs; this file
//! only decides, and ostd's page-table writes rely on it: [`Slots::take`]
//! never hands out a slot that is in use (the tests check it). A freed slot
//! whose pages stay mapped is handed out first (its mapping never changed,
//! so nothing needs flushing), then a freed unmapped slot, then one never
//! used.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

/// Where the stacks live and how big they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackLayout {
    /// The area's first address.
    pub start: u64,
    /// The area's size in bytes.
    pub size: u64,
    /// Bytes per slot: the guard, then the stack.
    pub slot_size: u64,
    /// Bytes of stack at the top of each slot.
    pub stack_size: u64,
}

impl StackLayout {
    /// Unmapped bytes below every stack.
    pub const fn guard_size(&self) -> u64 {
        self.slot_size - self.stack_size
    }

    /// How many stacks can exist at once.
    pub const fn slots(&self) -> u32 {
        (self.size / self.slot_size) as u32
    }

    /// The offset of `addr` in the area, if it lies there.
    pub fn offset(&self, addr: u64) -> Option<u64> {
        addr.checked_sub(self.start).filter(|&o| o < self.size)
    }

    /// The stack of `slot`: `[bottom, top)`.
    pub const fn stack_range(&self, slot: u32) -> Range<u64> {
        let bottom = self.start + slot as u64 * self.slot_size + self.guard_size();
        bottom..bottom + self.stack_size
    }

    /// The stack whose guard contains `addr`, as `[bottom, top)`; whether
    /// or not a stack lives in that slot now.
    pub fn guarded_stack(&self, addr: u64) -> Option<Range<u64>> {
        let offset = self.offset(addr)?;
        (offset % self.slot_size < self.guard_size())
            .then(|| self.stack_range((offset / self.slot_size) as u32))
    }
}

/// A slot handed out by [`Slots::take`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub index: u32,
    /// Its stack is still mapped from a previous use: nothing to map.
    pub mapped: bool,
}

/// Which slots are in use, and which free ones still have their stack mapped.
pub struct Slots {
    /// Freed slots whose stack is still mapped, at most its capacity (set
    /// by [`Slots::keep_mapped`], so that freeing a stack never allocates).
    mapped: Vec<u32>,
    /// Freed slots with nothing mapped.
    free: Vec<u32>,
    /// Slots `never_used..max` have never held a stack.
    never_used: u32,
    max: u32,
}

impl Slots {
    /// `max` slots, none used; no freed stack is kept mapped until [`Slots::keep_mapped`].
    pub const fn new(max: u32) -> Self {
        Self {
            mapped: Vec::new(),
            free: Vec::new(),
            never_used: 0,
            max,
        }
    }

    /// Keeps up to `stacks` freed stacks mapped for reuse (allocates).
    pub fn keep_mapped(&mut self, stacks: usize) {
        self.mapped = Vec::with_capacity(stacks);
    }

    /// A slot for a new stack, or `None` if all are in use.
    pub fn take(&mut self) -> Option<Slot> {
        if let Some(index) = self.mapped.pop() {
            return Some(Slot {
                index,
                mapped: true,
            });
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.never_used < self.max => {
                self.never_used += 1;
                self.never_used - 1
            }
            None => return None,
        };
        Some(Slot {
            index,
            mapped: false,
        })
    }

    /// A stack in slot `index` is freed: true if its pages stay mapped (the
    /// slot is free again); false if the caller must unmap them and then
    /// call [`Slots::unmapped`].
    pub fn release(&mut self, index: u32) -> bool {
        if self.mapped.len() < self.mapped.capacity() {
            self.mapped.push(index);
            return true;
        }
        false
    }

    /// The stack in slot `index` is unmapped: the slot is free again.
    pub fn unmapped(&mut self, index: u32) {
        self.free.push(index);
    }

    /// Slots that have held a stack so far (the high-water mark of live stacks).
    pub fn used(&self) -> u32 {
        self.never_used
    }
}

/// A task as a guard-page report names it.
pub struct TaskName<'a> {
    pub id: u32,
    pub name: &'a str,
    pub stack: Range<u64>,
}

/// The report of a fault at `fault` in the guard below `stack`, on `cpu`,
/// where `running` is the task running there (`None`: the idle loop): an
/// overflow if `stack` is the running task's, else a stray access.
pub struct GuardHit<'a> {
    pub cpu: usize,
    pub fault: u64,
    pub stack: Range<u64>,
    pub guard_size: u64,
    pub running: Option<TaskName<'a>>,
}

impl fmt::Display for GuardHit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cpu, fault) = (self.cpu, self.fault);
        let guard = Span(self.stack.start - self.guard_size..self.stack.start);
        let stack = Span(self.stack.clone());
        match &self.running {
            Some(task) if task.stack == self.stack => write!(
                f,
                "KERNEL STACK OVERFLOW on cpu {cpu}: task {} \"{}\" ran off its stack {stack} ({} KiB): \
                 fault address {fault:#x} in the guard pages {guard}",
                task.id,
                task.name,
                (self.stack.end - self.stack.start) >> 10
            ),
            running => {
                write!(
                    f,
                    "KERNEL STACK GUARD HIT on cpu {cpu}: fault address {fault:#x} in the guard pages {guard} \
                     below stack {stack}, not the running one: "
                )?;
                match running {
                    Some(task) => write!(
                        f,
                        "task {} \"{}\", stack {}",
                        task.id,
                        task.name,
                        Span(task.stack.clone())
                    ),
                    None => write!(f, "the idle loop"),
                }
            }
        }
    }
}

/// An address range as `start..end` in hex.
struct Span(Range<u64>);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}..{:#x}", self.0.start, self.0.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ferrite's: 1 GiB below the kernel's map, 64 KiB slots, 32 KiB stacks.
    const LAYOUT: StackLayout = StackLayout {
        start: 0xffff_ffff_4000_0000,
        size: 1 << 30,
        slot_size: 64 << 10,
        stack_size: 32 << 10,
    };

    #[test]
    fn layout() {
        assert_eq!(LAYOUT.guard_size(), 32 << 10);
        assert_eq!(LAYOUT.slots(), 16384);
        assert_eq!(
            LAYOUT.stack_range(0),
            0xffff_ffff_4000_8000..0xffff_ffff_4001_0000
        );
        assert_eq!(
            LAYOUT.stack_range(1),
            0xffff_ffff_4001_8000..0xffff_ffff_4002_0000
        );
        assert_eq!(LAYOUT.offset(0xffff_ffff_3fff_ffff), None);
        assert_eq!(LAYOUT.offset(0xffff_ffff_8000_0000), None);
        assert_eq!(LAYOUT.offset(0xffff_ffff_7fff_ffff), Some((1 << 30) - 1));
    }

    #[test]
    fn guard_addresses_name_the_stack_above() {
        let stack0 = LAYOUT.stack_range(0);
        assert_eq!(
            LAYOUT.guarded_stack(0xffff_ffff_4000_7ff8),
            Some(stack0.clone())
        );
        assert_eq!(LAYOUT.guarded_stack(0xffff_ffff_4000_0000), Some(stack0));
        assert_eq!(LAYOUT.guarded_stack(0xffff_ffff_4000_8000), None); // the stack itself
        assert_eq!(
            LAYOUT.guarded_stack(0xffff_ffff_4001_0000),
            Some(LAYOUT.stack_range(1))
        );
        assert_eq!(LAYOUT.guarded_stack(0xffff_ffff_8000_0000), None);
    }

    #[test]
    fn slots_are_reused_mapped_first() {
        let mut slots = Slots::new(3);
        slots.keep_mapped(1);
        let take = |slots: &mut Slots| slots.take().map(|s| (s.index, s.mapped));
        assert_eq!(take(&mut slots), Some((0, false)));
        assert_eq!(take(&mut slots), Some((1, false)));
        assert!(slots.release(0)); // kept mapped
        assert!(!slots.release(1)); // the cache is full: unmap
        slots.unmapped(1);
        assert_eq!(take(&mut slots), Some((0, true)));
        assert_eq!(take(&mut slots), Some((1, false)));
        assert_eq!(take(&mut slots), Some((2, false)));
        assert_eq!(take(&mut slots), None);
        assert_eq!(slots.used(), 3);
    }

    #[test]
    fn a_slot_in_use_is_never_handed_out() {
        let mut slots = Slots::new(64);
        slots.keep_mapped(8);
        let mut in_use: Vec<u32> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if !seed.is_multiple_of(3) {
                match slots.take() {
                    Some(slot) => {
                        assert!(
                            !in_use.contains(&slot.index),
                            "slot {} handed out twice",
                            slot.index
                        );
                        assert!(slot.index < 64);
                        in_use.push(slot.index);
                    }
                    None => assert_eq!(in_use.len(), 64),
                }
            } else if !in_use.is_empty() {
                let index = in_use.swap_remove((seed >> 8) as usize % in_use.len());
                if !slots.release(index) {
                    slots.unmapped(index);
                }
            }
        }
    }

    #[test]
    fn freeing_into_the_mapped_cache_does_not_allocate() {
        let mut slots = Slots::new(8);
        slots.keep_mapped(4);
        let buffer = slots.mapped.as_ptr();
        for _ in 0..4 {
            slots.take();
        }
        for index in 0..4 {
            assert!(slots.release(index));
        }
        assert_eq!(slots.mapped.as_ptr(), buffer);
    }

    #[test]
    fn guard_hit_reports() {
        let stack = LAYOUT.stack_range(0);
        let overflow = GuardHit {
            cpu: 1,
            fault: 0xffff_ffff_4000_7ff8,
            stack: stack.clone(),
            guard_size: LAYOUT.guard_size(),
            running: Some(TaskName {
                id: 1,
                name: "stack-overflow",
                stack: stack.clone(),
            }),
        };
        assert_eq!(
            overflow.to_string(),
            "KERNEL STACK OVERFLOW on cpu 1: task 1 \"stack-overflow\" ran off its stack \
             0xffffffff40008000..0xffffffff40010000 (32 KiB): fault address 0xffffffff40007ff8 \
             in the guard pages 0xffffffff40000000..0xffffffff40008000"
        );
        let stray = GuardHit {
            running: None,
            ..overflow
        };
        assert_eq!(
            stray.to_string(),
            "KERNEL STACK GUARD HIT on cpu 1: fault address 0xffffffff40007ff8 in the guard pages \
             0xffffffff40000000..0xffffffff40008000 below stack 0xffffffff40008000..0xffffffff40010000, \
             not the running one: the idle loop"
        );
    }
}
