/**
 * The virtio entropy device (virtio 1.2, 5.4): {@link dev.panvm.virtio.rng.VirtioRng} filling
 * guest buffers from an {@link dev.panvm.virtio.rng.EntropySource}, by default the host's
 * {@code /dev/urandom}.
 */
package dev.panvm.virtio.rng;
