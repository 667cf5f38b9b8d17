package dev.panvm.tune;

import java.util.Comparator;
import java.util.List;

/**
 * A search's history so far, step 0 (the default) first.
 *
 * @param history every step, in order
 */
public record SearchResult(List<Step> history) {

    public SearchResult {
        history = List.copyOf(history);
        if (history.isEmpty()) {
            throw new IllegalArgumentException("a history starts with the default's step 0");
        }
    }

    /** The step with the lowest mean, the earliest of equals. */
    public Step best() {
        return history.stream().min(Comparator.comparingDouble(Step::mean)).orElseThrow();
    }
}
