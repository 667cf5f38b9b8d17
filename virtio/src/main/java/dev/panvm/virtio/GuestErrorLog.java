package dev.panvm.virtio;

import org.slf4j.Logger;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One warning line per device and kind of guest error, at most once a minute, with the count of
 * the occurrences that were not logged in between. A hostile or buggy guest can produce an error
 * per request; the log must not become the denial of service.
 */
public final class GuestErrorLog {
    private static final long INTERVAL_NANOS = 60_000_000_000L;

    private final Logger log;
    private final String device;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    private static final class Window {
        long lastLogged;
        long suppressed;
    }

    public GuestErrorLog(Logger log, String device) {
        this.log = log;
        this.device = device;
    }

    /**
     * Reports a guest error of the given kind; returns true when this call wrote a log line.
     */
    public boolean report(String kind, String message) {
        Window w = windows.computeIfAbsent(kind, k -> new Window());
        long suppressed;
        synchronized (w) {
            long now = System.nanoTime();
            if (w.lastLogged != 0 && now - w.lastLogged < INTERVAL_NANOS) {
                w.suppressed++;
                return false;
            }
            w.lastLogged = now == 0 ? 1 : now;
            suppressed = w.suppressed;
            w.suppressed = 0;
        }
        if (suppressed == 0) {
            log.warn("{}: guest error ({}): {}", device, kind, message);
        } else {
            log.warn("{}: guest error ({}): {} ({} more since the last report)", device, kind, message, suppressed);
        }
        return true;
    }

    public String device() {
        return device;
    }
}
