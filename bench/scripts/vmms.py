"""How the comparison scripts start ferrite on each VMM: one place for both command lines."""

# QEMU reports a debug-exit value v as exit status (v << 1) | 1; panvm reports v itself.
QEMU_SUCCESS = 1
PANVM_SUCCESS = 0


def qemu(kernel, cmdline="", mem="512M", extra=()):
    """QEMU microvm with KVM, the peer: modern virtio-mmio transports (QEMU 7.2 makes them
    legacy by default) and the debug-exit port ferrite ends the VM through."""
    cmd = ["qemu-system-x86_64", "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities",
           "-m", mem, "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
           "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
           "-global", "virtio-mmio.force-legacy=false", "-kernel", kernel, *extra]
    return cmd + (["-append", cmdline] if cmdline else [])


def qemu_disk(image, read_only=True):
    """QEMU's arguments for `image` as the first virtio-blk disk."""
    ro = ",readonly=on" if read_only else ""
    return ["-drive", f"id=d0,file={image},format=raw,if=none{ro}", "-device", "virtio-blk-device,drive=d0"]


def warm_host_cache(image):
    """Reads `image` once: both VMMs read disks through the host page cache, so no run (the
    first one in particular) then measures the host's disk instead of the VMM."""
    with open(image, "rb") as f:
        while f.read(1 << 20):
            pass


def panvm(launcher, kernel, cmdline="", mem="512M", extra=()):
    """panvm through its launcher (scripts/panvm), as a user runs it."""
    cmd = [launcher, "run", "--kernel", kernel, "--mem", mem, *extra]
    return cmd + (["--cmdline", cmdline] if cmdline else [])
