package dev.panvm.virtio.queue;

/**
 * One physically-contiguous element of a buffer (virtio 1.2, 2.7.13.1): a guest-physical range
 * the device may read ({@code writable == false}) or write. Elements come out of
 * {@link Virtqueue#pop()} already checked to lie inside guest RAM.
 */
public record BufferElement(long address, long length, boolean writable) {
}
