package dev.panvm.virtio.queue;

/**
 * What {@link Virtqueue#pop()} found: a checked {@link DescriptorChain}, nothing new
 * ({@link Empty}), or a {@link VirtqueueError} (a bad chain, which the device returns unused, or
 * a broken queue, which needs a device reset).
 */
public sealed interface PopResult permits DescriptorChain, PopResult.Empty, VirtqueueError {

    /** The available ring holds no chain the device has not taken yet. */
    record Empty() implements PopResult {
    }

    Empty EMPTY = new Empty();
}
