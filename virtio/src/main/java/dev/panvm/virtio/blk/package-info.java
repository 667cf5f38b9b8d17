/**
 * The virtio block device (virtio 1.2, 5.2): {@link dev.panvm.virtio.blk.VirtioBlk} (device state
 * and request execution: parsed on the thread that processes the queue, run on the device's I/O
 * threads, several in flight and completed in any order), {@code FlushBarrier}
 * (a FLUSH starts after the requests before it), {@link dev.panvm.virtio.blk.BlockRequestParser}
 * (chain to request), {@link dev.panvm.virtio.blk.BlockMetrics}, and the backends
 * {@link dev.panvm.virtio.blk.FileBackend} (raw image) and {@link dev.panvm.virtio.blk.NullBackend}
 * (no media).
 */
package dev.panvm.virtio.blk;
