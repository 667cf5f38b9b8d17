/**
 * panvm's virtio devices (virtio 1.2), independent of KVM: a {@link dev.panvm.virtio.GuestMemory}
 * abstraction, the device model interface ({@link dev.panvm.virtio.VirtioDevice}) and its shared
 * state machine ({@link dev.panvm.virtio.VirtioDeviceBase}: the lock every entry point takes,
 * bounded resets, and chains a device finishes on other threads, returned in any order).
 *
 * <ul>
 *   <li>{@code queue}: split virtqueues (2.7) and descriptor-chain checking;</li>
 *   <li>{@code mmio}: the virtio-mmio transport, version 2 (4.2);</li>
 *   <li>{@code blk}, {@code net}, {@code console}, {@code rng}: the block (5.2), network (5.1),
 *       console (5.3) and entropy (5.4) devices, each with its request parsing, backends and
 *       metrics in separate classes.</li>
 * </ul>
 *
 * <p>The guest is untrusted: nothing it writes makes an entry point throw, loop without end or
 * touch host memory outside guest RAM; errors become a request status, a chain returned unused,
 * or DEVICE_NEEDS_RESET, with one rate-limited log line ({@link dev.panvm.virtio.GuestErrorLog}).
 */
package dev.panvm.virtio;
