/**
 * Split virtqueues (virtio 1.2, 2.7): {@link dev.panvm.virtio.queue.Virtqueue} takes descriptor
 * chains from the available ring, checked into {@link dev.panvm.virtio.queue.DescriptorChain}s or
 * typed {@link dev.panvm.virtio.queue.VirtqueueError}s, and returns them through the used ring
 * with the notification suppression of VIRTIO_F_EVENT_IDX.
 */
package dev.panvm.virtio.queue;
