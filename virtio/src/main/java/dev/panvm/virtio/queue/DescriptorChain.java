package dev.panvm.virtio.queue;

import java.util.ArrayList;
import java.util.List;

/**
 * A descriptor chain taken from the available ring and checked: its buffer elements in chain
 * order, device-readable ones first (2.7.4.2), all inside guest RAM. {@code headIndex} is what
 * goes back into the used ring.
 */
public record DescriptorChain(int headIndex, List<BufferElement> elements) implements PopResult {

    public DescriptorChain {
        elements = List.copyOf(elements);
    }

    /** The device-readable elements, as one byte stream. */
    public ScatterGatherList readable() {
        return select(false);
    }

    /** The device-writable elements, as one byte stream. */
    public ScatterGatherList writable() {
        return select(true);
    }

    private ScatterGatherList select(boolean writable) {
        List<BufferElement> out = new ArrayList<>(elements.size());
        for (BufferElement e : elements) {
            if (e.writable() == writable) {
                out.add(e);
            }
        }
        return ScatterGatherList.of(out);
    }
}
