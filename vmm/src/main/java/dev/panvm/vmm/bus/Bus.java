package dev.panvm.vmm.bus;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Maps address ranges of one address space (I/O ports or MMIO) to devices and dispatches guest
 * accesses to them. Accesses nobody claims read as all-ones (as on a PC bus with nothing
 * behind the address) and are logged once per address.
 */
public final class Bus {
    private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

    private record Range(long base, long length, BusDevice device) {}

    private final String name;
    // Copy-on-write: devices are registered while the machine is built, then every exit only
    // reads, so lookups on vCPU threads take no lock.
    private volatile TreeMap<Long, Range> ranges = new TreeMap<>();
    private final Set<Long> reportedUnclaimed = ConcurrentHashMap.newKeySet();

    public Bus(String name) {
        this.name = name;
    }

    /** Claims {@code [base, base + length)} for {@code device}; ranges may not overlap. */
    public synchronized void register(long base, long length, BusDevice device) {
        if (length <= 0) {
            throw new IllegalArgumentException("empty range at " + Long.toHexString(base));
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + length - 1);
        if (below != null && below.getValue().base() + below.getValue().length() > base) {
            throw new IllegalArgumentException(String.format("%s range [%#x, %#x) overlaps [%#x, %#x)", name,
                    base, base + length, below.getKey(), below.getKey() + below.getValue().length()));
        }
        TreeMap<Long, Range> updated = new TreeMap<>(ranges);
        updated.put(base, new Range(base, length, device));
        ranges = updated;
    }

    private Range find(long address) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        if (e == null || address - e.getKey() >= e.getValue().length()) {
            return null;
        }
        return e.getValue();
    }

    /** Dispatches a read; returns false (and fills all-ones) when no device claims the address. */
    public boolean read(long address, MemorySegment data) {
        Range r = find(address);
        if (r == null) {
            data.fill((byte) 0xff);
            unclaimed("read", address);
            return false;
        }
        r.device().read(address - r.base(), data);
        return true;
    }

    /** Dispatches a write; returns false (and drops it) when no device claims the address. */
    public boolean write(long address, MemorySegment data) {
        Range r = find(address);
        if (r == null) {
            unclaimed("write", address);
            return false;
        }
        r.device().write(address - r.base(), data);
        return true;
    }

    private void unclaimed(String access, long address) {
        if (reportedUnclaimed.add(address)) {
            LOG.debug("{} {} at {} claimed by no device (reported once)", name, access, Long.toHexString(address));
        }
    }
}
