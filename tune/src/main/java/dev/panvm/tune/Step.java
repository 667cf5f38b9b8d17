package dev.panvm.tune;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One entry of a search's history. Step 0 is the default setting; each later step is one
 * measurement the search chose.
 *
 * @param step        0 for the default, then 1, 2, ...
 * @param settings    every knob's value in this step
 * @param measurement the workload's results under {@code settings}
 * @param reward      STUN's reward for the step (0 for step 0)
 * @param bestMean    lowest mean of steps 0 .. {@code step}
 */
public record Step(int step, Map<String, Long> settings, Measurement measurement, double reward, double bestMean) {

    public Step {
        // in the knobs' order, so that saved histories read the same from run to run
        settings = Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }

    public double mean() {
        return measurement.mean();
    }
}
