/**
 * The virtio-mmio transport, version 2 (virtio 1.2, 4.2): {@link dev.panvm.virtio.mmio.MmioTransport}
 * presents a device through a register window, with hooks for the vmm's ioeventfds
 * ({@link dev.panvm.virtio.mmio.QueueNotifier}) and irqfds ({@link dev.panvm.virtio.mmio.InterruptSink}).
 */
package dev.panvm.virtio.mmio;
