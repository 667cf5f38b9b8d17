package dev.panvm.bench;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FioBenchmarkTest {

    private static Map<String, String> words(int jobs, int rwmixread, String policy) {
        FioBenchmark b = new FioBenchmark();
        b.jobs = jobs;
        b.rwmixread = rwmixread;
        b.policy = policy;
        return Arrays.stream(b.words().split(" ")).map(w -> w.split("=", 2))
                .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1]));
    }

    @Test
    void everyInvocationDoesTheOperationsJmhDividesBy() {
        for (int jobs : new int[] {1, 4}) {
            Map<String, String> w = words(jobs, 70, "qlearn");
            assertEquals(FioBenchmark.OPS, jobs * Integer.parseInt(w.get("ops")), "jobs=" + jobs + ": " + w);
            assertEquals(String.valueOf(jobs), w.get("jobs"));
        }
    }

    @Test
    void theTrialsParametersReachTheGuest() {
        Map<String, String> w = words(4, 50, "arc");
        assertEquals("randrw", w.get("rw"));
        assertEquals("50", w.get("rwmixread"));
        assertEquals("arc", w.get("cache"));
        assertEquals("1", w.get("keep_cache"), "the policies run in their steady state");
        assertEquals(FileBenchmark.FILE, w.get("file"));
    }
}
