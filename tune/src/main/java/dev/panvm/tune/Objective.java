package dev.panvm.tune;

import java.util.Map;

/**
 * What the tuner optimises: a workload run under given scheduler parameters, measured so that
 * lower is better. A throughput objective reports its inverse (time per operation).
 */
public interface Objective {

    /**
     * Runs the workload with {@code settings} (every knob's name to its value) and returns the
     * repeated results.
     */
    Measurement measure(Map<String, Long> settings) throws Exception;

    /**
     * What is measured, in words that change whenever the results would (workload, its
     * parameters, CPUs, VMM): a saved tuner state only resumes against the same workload.
     */
    String workload();
}
