package dev.panvm.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything a {@link Tuner} needs to continue exactly where it stopped, as one JSON file: what it
 * tunes (workload, knobs), how it learns (settings), where it is (grid point, random draws taken),
 * what it learned (Q table) and what it measured (history; step 0 is the default's measurement).
 *
 * @param format   version of this layout
 * @param workload the objective's {@link Objective#workload()}
 * @param knobs    every knob the workload runs with
 * @param kept     names of the knobs being tuned (the filter's choice), in the state's order
 * @param settings learning parameters
 * @param draws    random numbers drawn so far from {@code settings.seed()}
 * @param current  the current grid point, one index per kept knob
 * @param history  every step so far
 * @param q        the Q table's visited rows
 */
public record TunerState(int format, String workload, List<Knob> knobs, List<String> kept, TunerSettings settings,
                         long draws, List<Integer> current, List<Step> history, List<QEntry> q) {

    /** The layout this code writes and reads. */
    public static final int FORMAT = 1;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public TunerState {
        knobs = List.copyOf(knobs);
        kept = List.copyOf(kept);
        current = List.copyOf(current);
        history = List.copyOf(history);
        q = List.copyOf(q);
    }

    /** Writes the state to {@code file} atomically: a crash leaves the old file or the new one, never half of one. */
    public void save(Path file) throws IOException {
        StateFile.write(JSON, file, this);
    }

    public static TunerState load(Path file) throws IOException {
        TunerState state = JSON.readValue(file.toFile(), TunerState.class);
        if (state.format() != FORMAT) {
            throw new IOException(file + ": tuner state format " + state.format() + ", this tuner reads " + FORMAT);
        }
        return state;
    }
}
