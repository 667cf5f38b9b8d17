use super::mock::MockDevice;
use super::*;

fn queue(size: u16, event_idx: bool) -> (SplitQueue<Vec<u8>, u32>, MockDevice) {
    let layout = Layout::new(size).unwrap();
    let mem = vec![0xa5u8; layout.total];
    (SplitQueue::new(mem, layout, event_idx), MockDevice::new(layout, event_idx))
}

/// xorshift64*, fixed seed: repeatable "random" schedules.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn need_event_matches_linux() {
    // Device asked to hear about index 5; driver moved 3 -> 6: passes 5.
    assert!(need_event(5, 6, 3));
    assert!(need_event(5, 6, 5));
    assert!(!need_event(5, 5, 3)); // index 5 not yet made available
    assert!(!need_event(5, 8, 6)); // already past before this move
    // Wrap-around.
    assert!(need_event(0xffff, 2, 0xfffe));
    assert!(need_event(0, 1, 0xffff));
    assert!(!need_event(3, 2, 0xfff0));
    // No movement never needs an event.
    assert!(!need_event(7, 7, 7));
}

#[test]
fn layout_is_spec_sized_and_aligned() {
    let l = Layout::new(256).unwrap();
    assert_eq!(l.desc, 0);
    assert_eq!(l.avail, 4096);
    assert_eq!(l.used % 4, 0);
    assert!(l.used >= l.avail + 6 + 512);
    assert_eq!(l.total, l.used + 6 + 8 * 256);
    assert_eq!(l.used_event(), l.avail + 4 + 512);
    assert_eq!(l.avail_event(), l.used + 4 + 2048);
    let one = Layout::new(1).unwrap();
    assert_eq!(one.used % 4, 0);
    assert!(Layout::new(0).is_none());
    assert!(Layout::new(3).is_none());
    assert!(Layout::new(MAX_SIZE).is_some());
}

/// Linux's `vring_size(num, align)` (include/uapi/linux/virtio_ring.h).
fn linux_vring_size(num: usize, align: usize) -> usize {
    ((16 * num + 2 * (3 + num) + align - 1) & !(align - 1)) + 2 * 3 + 8 * num
}

/// Where a legacy device looks for the areas of a queue of `num` entries
/// given only the block's start and QueueAlign: QEMU's
/// `virtio_queue_update_rings` (avail right after the descriptors, used at
/// `avail + offsetof(VRingAvail, ring[num])` rounded up to `align`). QEMU
/// leaves `used_event` out of the rounding; that places the used ring
/// differently only when `18 num + 4` is a multiple of `align`, which
/// needs `align` <= 8 for a power-of-two `num` (ferrite uses 4096).
fn device_view(num: u16, align: usize) -> Layout {
    let n = usize::from(num);
    let avail = 16 * n;
    let used = (avail + 4 + 2 * n).next_multiple_of(align);
    Layout { size: num, desc: 0, avail, used, total: used + 6 + 8 * n }
}

#[test]
fn legacy_layout_aligns_the_used_ring() {
    let l = Layout::legacy(256, 4096).unwrap();
    assert_eq!((l.desc, l.avail, l.used, l.total), (0, 4096, 8192, 8192 + 6 + 2048));
    assert_eq!(l.used_event(), 4096 + 4 + 512);
    assert_eq!(l.avail_event(), 8192 + 4 + 2048);
    let one = Layout::legacy(1, 4096).unwrap();
    assert_eq!((one.avail, one.used, one.total), (16, 4096, 4096 + 14));
    // 128 entries: 2048 + 6 + 256 bytes fit the first page.
    let l = Layout::legacy(128, 4096).unwrap();
    assert_eq!((l.avail, l.used, l.total), (2048, 4096, 4096 + 6 + 1024));
    for bad_align in [0, 1, 2, 3, 12, 4095] {
        assert!(Layout::legacy(8, bad_align).is_none(), "align {bad_align}");
    }
    assert!(Layout::legacy(0, 4096).is_none());
    assert!(Layout::legacy(3, 4096).is_none());
    assert!(Layout::legacy(MAX_SIZE, 4096).is_some());
}

#[test]
fn legacy_layout_matches_linux_and_qemu() {
    for align in [4, 8, 16, 64, 4096, 65536] {
        for shift in 0..=15 {
            let num = 1u16 << shift;
            let l = Layout::legacy(num, align).unwrap();
            assert_eq!(l.total, linux_vring_size(usize::from(num), align), "num {num} align {align}");
            assert_eq!(l.used % align, 0);
            assert!(l.used >= l.used_event() + 2, "used ring after used_event");
            let d = device_view(num, align);
            if align >= 16 {
                assert_eq!((l.desc, l.avail, l.used), (d.desc, d.avail, d.used), "num {num} align {align}");
            }
            // The rest is the modern layout's.
            let m = Layout::new(num).unwrap();
            assert_eq!((l.desc, l.avail), (m.desc, m.avail));
        }
    }
}

/// A queue in the legacy layout, and a device that found the areas itself.
#[test]
fn legacy_layout_round_trip_with_a_device_that_computes_its_own_offsets() {
    for event_idx in [false, true] {
        let layout = Layout::legacy(64, 4096).unwrap();
        let mem = vec![0xa5u8; layout.total];
        let mut q: SplitQueue<Vec<u8>, u32> = SplitQueue::new(mem, layout, event_idx);
        let mut dev = MockDevice::new(device_view(64, 4096), event_idx);
        for round in 0..300u32 {
            dev.want_next(q.memory_mut());
            let bufs = [Buffer::readable(0x1000, 16), Buffer::writable(0x2000, 512)];
            let head = q.add(&bufs, round).unwrap();
            assert!(q.publish(), "device asked to hear about every chain");
            let (h, descs) = dev.pop(q.memory()).unwrap();
            assert_eq!((h, descs.len()), (head, 2));
            assert_eq!((descs[1].addr, descs[1].len, descs[1].writable()), (0x2000, 512, true));
            dev.push(q.memory_mut(), u32::from(head), 100);
            assert_eq!(q.poll().unwrap(), Some(Used { token: round, len: 100, head }));
        }
        assert_eq!(q.in_flight(), 0);
        assert_eq!(dev.interrupts, 0, "polling asks for no interrupts in either layout");
    }
}

#[test]
fn add_publish_poll_round_trip() {
    let (mut q, mut dev) = queue(8, true);
    dev.want_next(q.memory_mut());
    let bufs = [
        Buffer::readable(0x1000, 16),
        Buffer::writable(0x2000, 512),
        Buffer::writable(0x3000, 1),
    ];
    let head = q.add(&bufs, 7).unwrap();
    assert_eq!(q.num_free(), 5);
    // Not visible before publish.
    assert!(dev.pop(q.memory()).is_none());
    assert!(q.publish(), "device asked for a notification");
    let (h, descs) = dev.pop(q.memory()).unwrap();
    assert_eq!(h, head);
    assert_eq!(descs.len(), 3);
    assert_eq!((descs[0].addr, descs[0].len, descs[0].writable()), (0x1000, 16, false));
    assert_eq!((descs[1].addr, descs[1].len, descs[1].writable()), (0x2000, 512, true));
    assert_eq!(descs[2].flags, DESC_F_WRITE);
    assert!(q.poll().unwrap().is_none());
    assert!(!q.has_used());
    dev.push(q.memory_mut(), u32::from(head), 513);
    assert!(q.has_used());
    assert_eq!(q.poll().unwrap(), Some(Used { token: 7, len: 513, head }));
    assert_eq!(q.num_free(), 8);
    assert_eq!(q.in_flight(), 0);
    assert!(q.poll().unwrap().is_none());
    assert_eq!(dev.interrupts, 0, "polling mode asks for no interrupts");
}

/// A queue whose memory has `extra` bytes after the ring, for indirect tables.
fn queue_with_room(size: u16, extra: usize) -> (SplitQueue<Vec<u8>, u32>, MockDevice) {
    let layout = Layout::new(size).unwrap();
    let mem = vec![0xa5u8; layout.total + extra];
    (SplitQueue::new(mem, layout, true), MockDevice::new(layout, true))
}

#[test]
fn indirect_chains_take_one_ring_descriptor_each() {
    // A 16-entry queue holds sixteen 10-buffer chains (160 buffers) through
    // indirect tables, where direct chains would fit only one.
    const N: u64 = 16;
    let (mut q, mut dev) = queue_with_room(N as u16, N as usize * 10 * DESC_SIZE);
    let table_base = q.memory().len() - N as usize * 10 * DESC_SIZE;
    dev.want_next(q.memory_mut());
    let chain = |k: u64| -> Vec<Buffer> {
        let mut b = vec![Buffer::readable(0x10_0000 * (k + 1), 16)];
        b.extend((0..8).map(|i| Buffer::writable(0x10_0000 * (k + 1) + 0x1000 * (i + 1), 4096)));
        b.push(Buffer::writable(0x10_0000 * (k + 1) + 0xf000, 1));
        b
    };
    // The tables live in the same block as the ring here (a driver keeps
    // them apart); addresses are offsets in it, as the mock device reads them.
    let mut tables = q.memory().clone();
    for k in 0..N {
        let table = table_base + k as usize * 10 * DESC_SIZE;
        q.add_indirect(&mut tables, table, table as u64, &chain(k), k as u32).unwrap();
    }
    assert_eq!(q.num_free(), 0);
    let full = q.add_indirect(&mut tables, table_base, table_base as u64, &chain(0), 9);
    assert_eq!(full, Err((AddError::Full { needed: 1, free: 0 }, 9)));
    // A chain may not be longer than the queue, indirect or not.
    let long: Vec<Buffer> = (0..17).map(|i| Buffer::writable(0x1000 * i, 8)).collect();
    let too_long = q.add_indirect(&mut tables, table_base, table_base as u64, &long, 10);
    assert_eq!(too_long, Err((AddError::TooLong { needed: 17, size: 16 }, 10)));
    q.memory_mut()[table_base..].copy_from_slice(&tables[table_base..]);
    assert!(q.publish());
    for k in 0..N {
        let (head, descs) = dev.pop(q.memory()).unwrap();
        let got: Vec<Buffer> =
            descs.iter().map(|d| Buffer { addr: d.addr, len: d.len, writable: d.writable() }).collect();
        assert_eq!(got, chain(k), "the device sees the buffers, in order");
        dev.push(q.memory_mut(), u32::from(head), 8 * 4096 + 1);
    }
    for k in 0..N as u32 {
        let used = q.poll().unwrap().unwrap();
        assert_eq!((used.token, used.len), (k, 8 * 4096 + 1));
    }
    assert_eq!(q.num_free(), N as u16, "each chain gave back its one descriptor");
}

#[test]
fn indirect_chains_are_checked_like_direct_ones() {
    let (mut q, mut dev) = queue_with_room(8, 4 * DESC_SIZE);
    let table = q.memory().len() - 4 * DESC_SIZE;
    let mut tables = q.memory().clone();
    let mut add = |q: &mut SplitQueue<Vec<u8>, u32>, bufs: &[Buffer], token| {
        q.add_indirect(&mut tables, table, table as u64, bufs, token)
    };
    let bad_order = [Buffer::writable(0x1000, 8), Buffer::readable(0x2000, 8)];
    assert_eq!(add(&mut q, &bad_order, 1), Err((AddError::ReadableAfterWritable, 1)));
    assert_eq!(add(&mut q, &[], 2), Err((AddError::Empty, 2)));
    assert_eq!(add(&mut q, &[Buffer::readable(0x1000, 0)], 4), Err((AddError::ZeroLength, 4)));
    assert_eq!(q.num_free(), 8, "refused chains take nothing");
    // The device may not claim more than the table's writable bytes.
    let bufs = [Buffer::readable(0x1000, 16), Buffer::writable(0x2000, 100)];
    let head = add(&mut q, &bufs, 3).unwrap();
    q.memory_mut()[table..].copy_from_slice(&tables[table..]);
    q.publish();
    dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head), 101);
    assert!(matches!(q.poll(), Err(DeviceError::LenTooLarge { len: 101, writable: 100, .. })));
}

#[test]
fn publish_without_new_entries_is_free() {
    let (mut q, dev) = queue(4, true);
    dev.want_next(q.memory_mut());
    assert!(!q.publish());
    assert_eq!(q.stats().publishes, 0);
}

#[test]
fn full_queue_rejects_and_returns_the_token() {
    let (mut q, _dev) = queue(4, false);
    q.add(&[Buffer::writable(0, 8); 3], 1).unwrap();
    let (e, token) = q.add(&[Buffer::writable(0, 8); 2], 2).unwrap_err();
    assert_eq!(e, AddError::Full { needed: 2, free: 1 });
    assert_eq!(token, 2);
    let (e, _) = q.add(&[Buffer::writable(0, 8); 5], 3).unwrap_err();
    assert_eq!(e, AddError::TooLong { needed: 5, size: 4 });
    assert_eq!(q.add(&[], 4).unwrap_err().0, AddError::Empty);
    assert_eq!(q.add(&[Buffer::readable(0, 0)], 5).unwrap_err().0, AddError::ZeroLength);
    let bad_order = [Buffer::writable(0, 1), Buffer::readable(0, 1)];
    q.add(&[Buffer::writable(0, 1)], 6).unwrap();
    let (mut q2, _) = queue(4, false);
    assert_eq!(q2.add(&bad_order, 7).unwrap_err().0, AddError::ReadableAfterWritable);
}

#[test]
fn event_idx_suppresses_notifications_until_the_device_asks() {
    let (mut q, mut dev) = queue(16, true);
    // The device is busy: it asked to be told about entry 100 only.
    dev.set_avail_event(q.memory_mut(), 100);
    for i in 0..4 {
        q.add(&[Buffer::writable(0x1000 * i, 64)], i as u32).unwrap();
        assert!(!q.publish());
    }
    // It caught up and wants the next one (index 4).
    while let Some((head, _)) = dev.pop(q.memory()) {
        dev.push(q.memory_mut(), u32::from(head), 0);
    }
    dev.want_next(q.memory_mut());
    while q.poll().unwrap().is_some() {}
    // A batch of three published at once: one notification.
    for i in 0..3 {
        q.add(&[Buffer::writable(0x1000 * i, 64)], i as u32).unwrap();
    }
    assert!(q.publish());
    q.add(&[Buffer::writable(0, 64)], 9).unwrap();
    assert!(!q.publish(), "device has not caught up: no second notification");
    let s = q.stats();
    assert_eq!((s.publishes, s.notify_needed), (6, 1));
}

#[test]
fn without_event_idx_the_no_notify_flag_rules() {
    let (mut q, _dev) = queue(8, false);
    q.add(&[Buffer::writable(0, 1)], 0).unwrap();
    assert!(q.publish());
    let used_flags = q.layout().used_flags();
    q.memory_mut().write_u16(used_flags, USED_F_NO_NOTIFY);
    q.add(&[Buffer::writable(0, 1)], 1).unwrap();
    assert!(!q.publish());
    // Polling mode without event idx: the driver set NO_INTERRUPT.
    assert_eq!(q.memory().read_u16(q.layout().avail_flags()), AVAIL_F_NO_INTERRUPT);
}

#[test]
fn interrupts_follow_set_interrupts() {
    for event_idx in [false, true] {
        let (mut q, mut dev) = queue(8, event_idx);
        for round in 0..3u32 {
            q.add(&[Buffer::writable(0, 4)], round).unwrap();
            q.publish();
            let (head, _) = dev.pop(q.memory()).unwrap();
            dev.push(q.memory_mut(), u32::from(head), 4);
            q.poll().unwrap().unwrap();
        }
        assert_eq!(dev.interrupts, 0, "event_idx={event_idx}: polling takes no interrupts");
        assert!(!q.set_interrupts(true));
        for round in 0..3u32 {
            q.add(&[Buffer::writable(0, 4)], round).unwrap();
            q.publish();
            let (head, _) = dev.pop(q.memory()).unwrap();
            dev.push(q.memory_mut(), u32::from(head), 4);
            q.poll().unwrap().unwrap();
        }
        assert_eq!(dev.interrupts, 3, "event_idx={event_idx}: one interrupt per completion");
        // A completion that arrived before interrupts were enabled is reported.
        q.set_interrupts(false);
        q.add(&[Buffer::writable(0, 4)], 9).unwrap();
        q.publish();
        let (head, _) = dev.pop(q.memory()).unwrap();
        dev.push(q.memory_mut(), u32::from(head), 4);
        assert!(q.set_interrupts(true));
    }
}

#[test]
fn polling_over_many_wraps_takes_no_interrupt() {
    let (mut q, mut dev) = queue(4, true);
    for i in 0..200_000u32 {
        q.add(&[Buffer::writable(0, 4)], i).unwrap();
        q.publish();
        let (head, _) = dev.pop(q.memory()).unwrap();
        dev.push(q.memory_mut(), u32::from(head), 4);
        assert_eq!(q.poll().unwrap().unwrap().token, i);
    }
    assert_eq!(dev.interrupts, 0);
}

/// Random adds, batched publishes, out-of-order completions: descriptors are
/// never shared between chains in flight, tokens and lengths come back
/// intact, and every descriptor is free again at the end.
#[test]
fn random_out_of_order_schedule_keeps_invariants() {
    for (size, event_idx, seed) in [(8u16, true, 1u64), (16, false, 2), (256, true, 3), (2, true, 4)] {
        let (mut q, mut dev) = queue(size, event_idx);
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        // Chains the device holds: (head, token, descriptor count, writable bytes).
        let mut at_device: Vec<(u16, u32, Vec<mock::Desc>)> = Vec::new();
        let mut expected: std::collections::HashMap<u32, (usize, u64)> = Default::default();
        let mut next_token = 0u32;
        let mut completed = 0u64;
        let mut notifies = 0u64;
        for _ in 0..20_000 {
            match rng.below(4) {
                0 | 1 => {
                    let n = 1 + rng.below(u64::from(size.min(5))) as usize;
                    let split = rng.below(n as u64 + 1) as usize;
                    let bufs: Vec<Buffer> = (0..n)
                        .map(|i| Buffer {
                            addr: u64::from(next_token) << 16 | i as u64,
                            len: 1 + rng.below(4096) as u32,
                            writable: i >= split,
                        })
                        .collect();
                    let writable: u64 = bufs.iter().filter(|b| b.writable).map(|b| u64::from(b.len)).sum();
                    match q.add(&bufs, next_token) {
                        Ok(_) => {
                            expected.insert(next_token, (n, writable));
                            next_token += 1;
                        }
                        Err((AddError::Full { .. }, t)) => assert_eq!(t, next_token),
                        Err((e, _)) => panic!("unexpected {e}"),
                    }
                    if rng.below(2) == 0 && q.publish() {
                        notifies += 1;
                    }
                }
                2 => {
                    if q.publish() {
                        notifies += 1;
                    }
                    while let Some((head, descs)) = dev.pop(q.memory()) {
                        let token = (descs[0].addr >> 16) as u32;
                        at_device.push((head, token, descs));
                    }
                    if rng.below(3) == 0 {
                        dev.want_next(q.memory_mut());
                    }
                    // Complete a random subset, in random order.
                    let k = rng.below(at_device.len() as u64 + 1) as usize;
                    for _ in 0..k {
                        let i = rng.below(at_device.len() as u64) as usize;
                        let (head, _, descs) = at_device.swap_remove(i);
                        let writable: u64 = descs.iter().filter(|d| d.writable()).map(|d| u64::from(d.len)).sum();
                        let len = rng.below(writable + 1) as u32;
                        dev.push(q.memory_mut(), u32::from(head), len);
                    }
                }
                _ => {
                    while let Some(used) = q.poll().unwrap() {
                        let (n, writable) = expected.remove(&used.token).expect("known token, once");
                        assert!(u64::from(used.len) <= writable);
                        assert!(n >= 1);
                        completed += 1;
                    }
                }
            }
            // Descriptors of chains at the device are pairwise disjoint and
            // account, with the free ones, for the whole table.
            let mut seen = vec![false; usize::from(size)];
            let held: usize = at_device.iter().map(|(_, _, descs)| descs.len()).sum();
            let in_flight_descs: usize = expected.values().map(|(n, _)| n).sum();
            assert_eq!(in_flight_descs + usize::from(q.num_free()), usize::from(size));
            assert!(held <= in_flight_descs);
            // Walk the free list: no descriptor twice, none held by a chain.
            let mut d = q.free_head;
            for _ in 0..q.num_free() {
                assert!(!seen[usize::from(d)], "descriptor {d} twice on the free list");
                seen[usize::from(d)] = true;
                d = q.next[usize::from(d)];
            }
            for (head, chain) in q.chains.iter().enumerate() {
                if let Some(chain) = chain {
                    let mut d = head as u16;
                    for i in 0..chain.count {
                        assert!(!seen[usize::from(d)], "descriptor {d} both free and in a chain");
                        seen[usize::from(d)] = true;
                        if i + 1 < chain.count {
                            d = q.next[usize::from(d)];
                        }
                    }
                    assert_eq!(d, chain.tail);
                }
            }
            assert!(seen.iter().all(|&s| s), "every descriptor is free or in exactly one chain");
        }
        // Drain everything.
        q.publish();
        while let Some((head, descs)) = dev.pop(q.memory()) {
            let _ = descs;
            at_device.push((head, 0, Vec::new()));
        }
        for (head, _, _) in at_device.drain(..) {
            dev.push(q.memory_mut(), u32::from(head), 0);
        }
        while let Some(used) = q.poll().unwrap() {
            expected.remove(&used.token).unwrap();
            completed += 1;
        }
        assert!(expected.is_empty());
        assert_eq!(q.num_free(), size);
        assert_eq!(q.stats().completed, completed);
        assert!(notifies <= q.stats().publishes);
        assert_eq!(dev.interrupts, 0);
    }
}

#[test]
fn used_idx_running_ahead_breaks_the_queue() {
    let (mut q, mut dev) = queue(8, true);
    q.add(&[Buffer::writable(0x1000, 8)], 1).unwrap();
    q.publish();
    let (head, _) = dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head), 8);
    let used_idx = q.layout().used_idx();
    q.memory_mut().write_u16(used_idx, 5); // claims 5 completions, 1 in flight
    let e = q.poll().unwrap_err();
    assert_eq!(e, DeviceError::UsedIdxAhead { used_idx: 5, last_used: 0, in_flight: 1 });
    assert!(e.to_string().contains("ran ahead"));
    // Broken for good; nothing is handed back.
    assert_eq!(q.poll().unwrap_err(), e);
    assert_eq!(q.add(&[Buffer::writable(0, 1)], 2).unwrap_err().0, AddError::Broken(e));
    assert!(!q.publish());
    assert_eq!(q.in_flight(), 1);
}

#[test]
fn used_id_out_of_range_or_not_in_flight() {
    let (mut q, mut dev) = queue(8, true);
    q.add(&[Buffer::writable(0x1000, 8)], 1).unwrap();
    q.publish();
    dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), 8, 0);
    assert_eq!(q.poll().unwrap_err(), DeviceError::IdOutOfRange { id: 8, size: 8 });

    let (mut q, mut dev) = queue(8, true);
    q.add(&[Buffer::readable(0x1000, 8), Buffer::writable(0x2000, 8)], 1).unwrap();
    q.add(&[Buffer::writable(0x3000, 8)], 2).unwrap();
    q.publish();
    let (head, _) = dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head), 8);
    assert_eq!(q.poll().unwrap().unwrap().token, 1);
    // The same head again: a duplicate completion.
    dev.push(q.memory_mut(), u32::from(head), 8);
    assert_eq!(q.poll().unwrap_err(), DeviceError::NotInFlight { id: u32::from(head) });
    assert_eq!(q.in_flight(), 1, "chain 2 stays with the device");

    // A descriptor in the middle of a chain is not a head.
    let (mut q, mut dev) = queue(8, true);
    let head = q.add(&[Buffer::readable(0x1000, 8), Buffer::writable(0x2000, 8)], 1).unwrap();
    q.publish();
    dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head) + 1, 0);
    assert_eq!(q.poll().unwrap_err(), DeviceError::NotInFlight { id: u32::from(head) + 1 });
}

#[test]
fn used_len_larger_than_the_writable_buffers() {
    let (mut q, mut dev) = queue(8, true);
    let head = q.add(&[Buffer::readable(0x1000, 16), Buffer::writable(0x2000, 512)], 1).unwrap();
    q.publish();
    dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head), 513);
    assert_eq!(
        q.poll().unwrap_err(),
        DeviceError::LenTooLarge { id: u32::from(head), len: 513, writable: 512 }
    );
    assert_eq!(q.in_flight(), 1, "the buffers stay with the device");
    assert_eq!(q.num_free(), 6);

    // Device-readable-only chains: a nonzero len is ignored, counted.
    let (mut q, mut dev) = queue(8, true);
    let head = q.add(&[Buffer::readable(0x1000, 1514)], 1).unwrap();
    q.publish();
    dev.pop(q.memory()).unwrap();
    dev.push(q.memory_mut(), u32::from(head), 1514);
    assert_eq!(q.poll().unwrap().unwrap().len, 0);
    assert_eq!(q.stats().len_ignored, 1);
}
