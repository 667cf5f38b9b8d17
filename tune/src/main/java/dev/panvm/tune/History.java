package dev.panvm.tune;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A search's steps as they are taken, and the best so far (lowest mean). */
final class History {
    private final List<Step> steps;
    private Step best;

    /** Continues {@code steps}, which start with the default's step 0. */
    History(List<Step> steps) {
        SearchResult sofar = new SearchResult(steps);
        this.steps = new ArrayList<>(sofar.history());
        this.best = sofar.best();
    }

    /** A history holding only step 0: the filter's measurement of the defaults. */
    static History ofDefaults(FilterResult filter) {
        Measurement m = filter.atDefault();
        return new History(List.of(new Step(0, SearchSpace.defaults(filter.knobs()), m, 0, m.mean())));
    }

    Step add(Map<String, Long> settings, Measurement measurement, double reward) {
        double bestMean = Math.min(best.mean(), measurement.mean());
        Step step = new Step(last().step() + 1, settings, measurement, reward, bestMean);
        steps.add(step);
        if (step.mean() < best.mean()) {
            best = step;
        }
        return step;
    }

    Step defaults() {
        return steps.getFirst();
    }

    Step last() {
        return steps.getLast();
    }

    Step best() {
        return best;
    }

    /** The step with the lowest mean among steps 0 .. {@code step}, the earliest of equals. */
    Step bestUpTo(int step) {
        Step found = steps.getFirst();
        for (Step s : steps.subList(1, step + 1)) {
            if (s.mean() < found.mean()) {
                found = s;
            }
        }
        return found;
    }

    SearchResult result() {
        return new SearchResult(steps);
    }
}
