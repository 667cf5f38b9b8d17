package dev.panvm.vmm.sandbox;

import dev.panvm.kvm.sys.Epoll;
import dev.panvm.kvm.sys.ErrnoException;
import dev.panvm.kvm.sys.EventFd;
import dev.panvm.kvm.sys.LibC;
import dev.panvm.kvm.sys.RawSyscall;
import dev.panvm.kvm.sys.ThreadKick;
import dev.panvm.virtio.blk.BlockRequest;
import dev.panvm.virtio.blk.FileBackend;
import dev.panvm.virtio.mock.SimulatedBlkDriver;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * A child process for {@link SandboxProcessTest}: prepares what a running VM holds (an open disk
 * image, a listening console socket, eventfds, the vCPU kick signal), then, with {@code enforce},
 * installs panvm's sandbox; then does for some seconds what panvm and the JVM do while a guest
 * runs: the virtio-blk model with I/O threads on a file, threads that start and end, garbage
 * collections, JIT compilation, timers, eventfd and socket traffic, signal kicks out of blocking
 * calls. Last it tries what the sandbox must forbid (a new file, a process, a socket) and prints
 * one line per attempt:
 * {@code forbidden NAME: allowed} or {@code forbidden NAME: denied (message)}.
 *
 * <p>With {@code record} it installs nothing and writes {@link #MARK} to standard error first, so
 * that {@code strace -f} of a run shows which system calls follow it (scripts/sandbox-record).
 */
public final class SandboxProbe {
    static final String MARK = "sandbox-probe: sandbox point";
    private static final long SYS_EXECVE = 59;

    public static void main(String[] args) throws Exception {
        boolean enforce = args.length > 0 && args[0].equals("enforce");
        Path dir = Path.of(args.length > 1 ? args[1] : System.getProperty("java.io.tmpdir"));
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 3;

        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[4 << 20]);
        FileBackend disk = FileBackend.open(image, false);
        SimulatedBlkDriver blk = new SimulatedBlkDriver(disk, 4, 64, 8L << 20);
        ServerSocketChannel console = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        console.bind(UnixDomainSocketAddress.of(dir.resolve("console.sock")));
        SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("console.sock")));
        EventFd kick = new EventFd();
        Epoll epoll = new Epoll(4);
        EventFd never = new EventFd();
        epoll.add(never.fd(), 1);
        ThreadKick.install();

        if (enforce) {
            Sandbox.install(Sandbox.panvmPolicy());
            System.out.println("sandbox installed");
        } else {
            System.err.println(MARK);
        }
        long end = System.nanoTime() + (long) (seconds * 1e9);
        List<Thread> workers = new ArrayList<>();
        workers.add(Thread.ofPlatform().name("blk").start(() -> blockLoad(blk, end)));
        workers.add(Thread.ofPlatform().name("alloc").start(() -> allocationLoad(end)));
        workers.add(Thread.ofPlatform().name("console").start(() -> consoleTraffic(console, client, end)));
        workers.add(Thread.ofPlatform().name("eventfd").start(() -> eventfdTraffic(kick, end)));
        kickBlockedThread(epoll);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        AtomicLong ticks = new AtomicLong();
        timer.scheduleAtFixedRate(ticks::incrementAndGet, 1, 1, TimeUnit.MILLISECONDS);
        while (System.nanoTime() < end) {
            // Short-lived threads and the common pool, as device resets and the JVM's own pools make.
            long sum = IntStream.range(0, 200_000).parallel().mapToLong(i -> (long) i * i % 7).sum();
            Thread t = Thread.ofPlatform().start(() -> ConcurrentHashMap.newKeySet().add(sum));
            t.join();
            System.gc();
            Thread.sleep(50);
        }
        timer.shutdownNow();
        for (Thread w : workers) {
            w.join();
        }
        System.out.println("workload done: timer ticks " + ticks.get() + ", free memory " + Runtime.getRuntime().freeMemory());

        // A class file older than version 50 (picocli's), first loaded now, needs the JVM's old verifier.
        Class<?> old = Class.forName("picocli.CommandLine$Help$Ansi", true, SandboxProbe.class.getClassLoader());
        System.out.println("old class file loaded: " + old.getSimpleName());
        attempt("open", () -> Files.newOutputStream(dir.resolve("new-file")).close());
        attempt("exec", SandboxProbe::execNothing);
        attempt("socket", () -> SocketChannel.open(StandardProtocolFamily.UNIX).close());
        System.out.println("probe done");
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private interface Attempt {
        void run() throws Exception;
    }

    private static void attempt(String name, Attempt a) {
        try {
            a.run();
            System.out.println("forbidden " + name + ": allowed");
        } catch (Exception e) {
            System.out.println("forbidden " + name + ": denied (" + e + ")");
        }
    }

    /**
     * execve(2) of a path that does not exist: the kernel answers ENOENT if it let the call
     * through, the filter EPERM. No process is started either way. (Not ProcessBuilder: when
     * the filter refuses its pipes, the JDK's error path closes descriptors it never opened,
     * this process's standard output among them now and then.)
     */
    private static void execNothing() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            long r = RawSyscall.call(SYS_EXECVE, arena.allocateFrom("/nonexistent/panvm-probe").address(), 0, 0, 0, 0, 0);
            if (r == -LibC.EPERM) {
                throw new ErrnoException("execve", LibC.EPERM);
            }
        }
    }

    /** Mixed 4 KiB reads and writes at queue depth 16, with a flush now and then. */
    private static void blockLoad(SimulatedBlkDriver blk, long end) {
        SplittableRandom rnd = new SplittableRandom(1);
        SimulatedBlkDriver.Slot[] slots = new SimulatedBlkDriver.Slot[16];
        for (int i = 0; i < slots.length; i++) {
            int type = i == 0 ? BlockRequest.VIRTIO_BLK_T_FLUSH
                    : i % 2 == 0 ? BlockRequest.VIRTIO_BLK_T_IN : BlockRequest.VIRTIO_BLK_T_OUT;
            slots[i] = blk.slot(type, type == BlockRequest.VIRTIO_BLK_T_FLUSH ? 0 : 4096);
        }
        SimulatedBlkDriver.Slot[] byHead = new SimulatedBlkDriver.Slot[64];
        for (SimulatedBlkDriver.Slot s : slots) {
            byHead[s.head()] = s;
        }
        long done = 0;
        while (System.nanoTime() < end) {
            for (SimulatedBlkDriver.Slot s : slots) {
                blk.post(s, rnd.nextInt(1024) * 8L);
            }
            blk.kick();
            int left = slots.length;
            while (left > 0) {
                left -= blk.reap(head -> {
                    if (blk.status(byHead[head]) != 0) {
                        throw new IllegalStateException("request failed under the sandbox");
                    }
                });
                Thread.onSpinWait();
            }
            done += slots.length;
        }
        System.out.println("block requests " + done);
    }

    /** Garbage at a rate that keeps the collector busy, and methods hot enough to compile. */
    private static void allocationLoad(long end) {
        List<byte[]> keep = new ArrayList<>();
        long n = 0;
        while (System.nanoTime() < end) {
            keep.add(new byte[1 + (int) (n % 65536)]);
            if (keep.size() > 2000) {
                keep.clear();
            }
            n++;
        }
        System.out.println("allocations " + n);
    }

    /** Accepts the pending client and echoes bytes across the pair, as the console does. */
    private static void consoleTraffic(ServerSocketChannel console, SocketChannel client, long end) {
        try (SocketChannel served = console.accept()) {
            ByteBuffer buf = ByteBuffer.allocate(64);
            long rounds = 0;
            while (System.nanoTime() < end) {
                client.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
                buf.clear();
                while (buf.position() < 3) {
                    served.read(buf);
                }
                rounds++;
            }
            System.out.println("console rounds " + rounds);
        } catch (IOException e) {
            throw new IllegalStateException("console traffic failed under the sandbox", e);
        }
    }

    /** Writes and reads an eventfd, as kicks and irqfds are signalled. */
    private static void eventfdTraffic(EventFd fd, long end) {
        try {
            long rounds = 0;
            while (System.nanoTime() < end) {
                fd.signal();
                fd.drain();
                rounds++;
            }
            System.out.println("eventfd rounds " + rounds);
        } catch (IOException e) {
            throw new IllegalStateException("eventfd failed under the sandbox", e);
        }
    }

    /** A thread blocked in epoll_wait, as a device thread waits, kicked out of it with the vCPU kick signal. */
    private static void kickBlockedThread(Epoll epoll) throws Exception {
        CountDownLatch blocked = new CountDownLatch(1);
        long[] pthread = new long[1];
        Thread t = Thread.ofPlatform().name("kicked").start(() -> {
            pthread[0] = ThreadKick.currentThread();
            blocked.countDown();
            try {
                epoll.await(10_000);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        blocked.await();
        while (t.isAlive()) {
            ThreadKick.kick(pthread[0]);
            t.join(20);
        }
        System.out.println("kicked a blocked thread");
    }
}
