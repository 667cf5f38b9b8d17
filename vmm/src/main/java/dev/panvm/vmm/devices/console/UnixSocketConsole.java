package dev.panvm.vmm.devices.console;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A console on a Unix stream socket panvm listens on ({@code --console unix:PATH}), as QEMU's
 * {@code -chardev socket,server=on}: one client at a time (the next one is accepted when it
 * leaves). Nothing is lost while no client is connected: the guest's output waits in a
 * {@value #PENDING_BYTES}-byte pipe for the next client (beyond that the guest's transmit queue
 * waits too), and output a client did not take before it left goes to the next one.
 */
final class UnixSocketConsole extends HostConsole {
    private static final Logger LOG = LoggerFactory.getLogger(UnixSocketConsole.class);
    /** The file-type bits of st_mode, and a socket's (inode(7)). */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    static final int PENDING_BYTES = 64 * 1024;

    private final Path path;
    private final ServerSocketChannel server;
    private final BytePipe pending = new BytePipe(PENDING_BYTES);
    private SocketChannel client; // guarded by this
    private boolean closed;       // guarded by this

    private UnixSocketConsole(Path path, ServerSocketChannel server) {
        this.path = path;
        this.server = server;
        Thread.ofPlatform().name("console-accept").daemon().start(this::acceptClients);
        Thread.ofPlatform().name("console-output").daemon().start(this::sendOutput);
    }

    /**
     * Binds the socket. A path that already exists is refused rather than replaced, unless it is
     * a stale socket: one nobody listens on, as a run under the sandbox leaves behind (it may not
     * delete files).
     */
    static UnixSocketConsole listen(Path path) throws IOException {
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            if (!isStaleSocket(path)) {
                throw new IOException("console socket " + path + " already exists; remove it or choose another path");
            }
            Files.delete(path);
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            server.close();
            throw new IOException("console socket " + path + ": " + e.getMessage(), e);
        }
        return new UnixSocketConsole(path, server);
    }

    /** True for a Unix socket file on which a connection is refused: no server is behind it. */
    private static boolean isStaleSocket(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if ((mode & S_IFMT) != S_IFSOCK) {
                return false;
            }
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            return false;
        } catch (java.net.ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void write(MemorySegment src) throws IOException {
        pending.put(src);
    }

    /** Accepts a client, serves its input until it leaves, then accepts the next. */
    private void acceptClients() {
        try {
            while (true) {
                SocketChannel c = server.accept();
                synchronized (this) {
                    if (closed) {
                        c.close();
                        return;
                    }
                    client = c;
                    notifyAll();
                }
                readInput(c);
                dropClient(c);
            }
        } catch (ClosedChannelException e) {
            // close(): no more clients
        } catch (IOException e) {
            LOG.warn("console socket {}: {}", path, e.getMessage());
        }
    }

    private void readInput(SocketChannel c) {
        ByteBuffer buf = ByteBuffer.allocate(4096);
        try {
            while (c.read(buf.clear()) >= 0) {
                deliver(buf.array(), 0, buf.position());
            }
        } catch (IOException e) {
            // the client left, or the console was closed
        }
    }

    /** Moves the guest's output to whichever client is connected; keeps what one did not take. */
    private void sendOutput() {
        byte[] chunk = new byte[4096];
        try {
            int n;
            while ((n = pending.take(chunk, 0, chunk.length)) >= 0) {
                ByteBuffer left = ByteBuffer.wrap(chunk, 0, n);
                while (left.hasRemaining()) {
                    SocketChannel c = awaitClient();
                    if (c == null) {
                        return;
                    }
                    try {
                        while (left.hasRemaining()) {
                            c.write(left);
                        }
                    } catch (IOException e) {
                        dropClient(c);
                    }
                }
            }
        } catch (IOException e) {
            // interrupted: the console is closing
        }
    }

    private synchronized SocketChannel awaitClient() throws IOException {
        try {
            while (client == null && !closed) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        return closed ? null : client;
    }

    private synchronized void dropClient(SocketChannel c) {
        if (client == c) {
            client = null;
        }
        try {
            c.close();
        } catch (IOException e) {
            // already gone
        }
    }

    @Override
    public void close() {
        SocketChannel c;
        synchronized (this) {
            closed = true;
            c = client;
            client = null;
            notifyAll();
        }
        super.close();
        pending.close();
        try {
            server.close();
            if (c != null) {
                c.close();
            }
        } catch (IOException e) {
            LOG.warn("console socket {}: {}", path, e.getMessage());
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // Under the sandbox panvm may not delete files; the next run on this path replaces it.
            LOG.info("console socket {} left behind: {}", path, e.getMessage());
        }
    }
}
