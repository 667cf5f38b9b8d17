/**
 * The virtio network device (virtio 1.2, 5.1): {@link dev.panvm.virtio.net.VirtioNet} over a
 * {@link dev.panvm.virtio.net.NetBackend} (a TAP device in the vmm,
 * {@link dev.panvm.virtio.net.InMemoryNetBackend} in tests).
 */
package dev.panvm.virtio.net;
