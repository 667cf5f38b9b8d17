/**
 * The virtio console device (virtio 1.2, 5.3): {@link dev.panvm.virtio.console.VirtioConsole}
 * (one port, receiveq and transmitq, emerg_wr) over a {@link dev.panvm.virtio.console.ConsolePort}
 * (a socket or the vmm's standard streams in the vmm, an in-memory port in tests), with
 * {@link dev.panvm.virtio.console.ConsoleMetrics}.
 */
package dev.panvm.virtio.console;
