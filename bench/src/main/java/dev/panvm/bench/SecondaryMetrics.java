package dev.panvm.bench;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Figures a benchmark learns from the system it measures rather than from JMH's clock, reported
 * by JMH as secondary results of each iteration: the guest's own TSC figure for a workload
 * ({@value #GUEST_NS_PER_OP}: the guest's elapsed time over its operations, summed over the
 * iteration's invocations), panvm's resident memory beyond guest RAM ({@value #RSS_BEYOND_RAM}), and a
 * file workload's device requests per operation and hit ratio.
 *
 * <p>Benchmarks {@link #record} into this fork-wide table; JMH calls the profiler around every
 * iteration in the same JVM ({@code -prof dev.panvm.bench.SecondaryMetrics}, which {@link BenchMain}
 * adds). A static table is the one channel JMH offers between a benchmark and a profiler.
 */
public final class SecondaryMetrics implements InternalProfiler {
    public static final String GUEST_NS_PER_OP = "guest.ns_per_op";
    public static final String RSS_BEYOND_RAM = "rss_beyond_ram.MiB";
    /** Device requests (reads and writes) per operation of a file workload, from the guest's counters. */
    public static final String DEVICE_REQUESTS_PER_OP = "guest.device_requests_per_op";
    /** The page cache's hit ratio over the iteration's lookups. */
    public static final String HIT_RATIO = "guest.hit_ratio";
    private static final Map<String, String> UNITS = Map.of(GUEST_NS_PER_OP, "ns/op", RSS_BEYOND_RAM, "MiB",
            DEVICE_REQUESTS_PER_OP, "requests/op", HIT_RATIO, "hits/lookup");

    private record Sum(double numerator, double denominator) {
        Sum plus(double n, double d) {
            return new Sum(numerator + n, denominator + d);
        }
    }

    private static final Map<String, Sum> SUMS = new ConcurrentHashMap<>();

    /** Adds {@code numerator / denominator} to this iteration's figure {@code name} (a ratio of sums). */
    static void record(String name, double numerator, double denominator) {
        SUMS.merge(name, new Sum(numerator, denominator), (a, b) -> a.plus(b.numerator(), b.denominator()));
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        SUMS.clear();
    }

    @Override
    public List<? extends Result> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
                                                 IterationResult result) {
        List<Result> out = new ArrayList<>();
        SUMS.forEach((name, sum) -> {
            if (sum.denominator() > 0) {
                out.add(new ScalarResult(name, sum.numerator() / sum.denominator(), UNITS.get(name), AggregationPolicy.AVG));
            }
        });
        return out;
    }

    @Override
    public String getDescription() {
        return "what the measured system reports itself: guest TSC time per operation, VMM memory";
    }
}
