package dev.panvm.kvm.sys;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class EpollTest {
    @Test
    void reportsTheTokensOfSignalledEventFds() throws Exception {
        try (Epoll epoll = new Epoll(8); EventFd a = new EventFd(); EventFd b = new EventFd()) {
            epoll.add(a.fd(), 11);
            epoll.add(b.fd(), 22);
            assertEquals(0, epoll.await(0).length, "nothing signalled yet");
            b.signal();
            assertArrayEquals(new long[] {22}, epoll.await(1000));
            a.signal();
            a.signal();
            long[] ready = epoll.await(1000);
            Arrays.sort(ready);
            assertArrayEquals(new long[] {11, 22}, ready, "b stays ready until drained");
            assertEquals(2, a.drain());
            assertEquals(1, b.drain());
            assertEquals(0, a.drain(), "drained counter reads 0, without blocking");
            assertEquals(0, epoll.await(0).length);
            epoll.remove(a.fd());
            a.signal();
            assertEquals(0, epoll.await(0).length, "removed descriptors are not reported");
        }
    }

    @Test
    void epollEventIsTwelveBytesAsOnX86_64() {
        assertEquals(12, Epoll.EPOLL_EVENT.byteSize());
    }
}
