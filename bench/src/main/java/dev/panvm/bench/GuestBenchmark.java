package dev.panvm.bench;

import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.concurrent.TimeUnit;

/**
 * What every benchmark of a running system shares: one {@link Subject} per JMH fork (booted by
 * the subclass's trial setup, ended with {@code exit 0} and checked at its end), one workload
 * batch per invocation, time per operation. JMH applies these annotations and the fixture to the
 * subclasses.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public abstract class GuestBenchmark {
    protected Subject subject;

    @TearDown(Level.Trial)
    public void shutdown() throws Exception {
        subject.close();
    }

    /** One batch: {@code run WORKLOAD PARAMS} on the subject. */
    protected Object run(String workload, String params) throws Exception {
        return subject.run(workload, params);
    }
}
