package dev.panvm.tune;

import java.util.Comparator;
import java.util.List;

/**
 * One row of the Q table as saved: a state (grid index per kept knob) and Q of each action.
 *
 * @param state  grid index per kept knob
 * @param values Q(state, a) for every action a, legal or not
 */
public record QEntry(List<Integer> state, List<Double> values) {

    /** By state, lexicographically. */
    static final Comparator<QEntry> ORDER = (a, b) -> {
        for (int i = 0; i < Math.min(a.state.size(), b.state.size()); i++) {
            int c = Integer.compare(a.state.get(i), b.state.get(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.state.size(), b.state.size());
    };

    public QEntry {
        state = List.copyOf(state);
        values = List.copyOf(values);
    }
}
