package dev.panvm.tune.cli;

import dev.panvm.tune.FilterResult;
import dev.panvm.tune.Knob;
import dev.panvm.tune.Measurement;
import dev.panvm.tune.Sensitivity;
import dev.panvm.tune.Step;
import dev.panvm.tune.TunerSettings;
import dev.panvm.tune.TunerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TuneStateTest {
    private static final Knob K = new Knob("sched_nr_migrate", 0, 256, 32, 11);
    private static final Measurement M = Measurement.of(1, 2, 3);

    private static TuneState state(TunerSettings settings) {
        FilterResult filter = new FilterResult(List.of(K), M, List.of(new Sensitivity(K, M, M, M, 0.5, true)));
        TunerState q = new TunerState(TunerState.FORMAT, "w", List.of(K), List.of(K.name()), settings, 0,
                List.of(3), List.of(new Step(0, Map.of(K.name(), 32L), M, 0, M.mean())), List.of());
        return new TuneState(TuneState.FORMAT, "w", 1, M, 3, filter, q, List.of(), 0, List.of());
    }

    @Test
    void aSavedStateLoadsEqual(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("state.json");
        TuneState saved = state(TunerSettings.defaults(1));
        saved.save(file);
        assertEquals(saved, TuneState.load(file));
    }

    @Test
    void aTunerStateOfFormatOneInsideIsReadAsStunsReward(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("state.json");
        state(TunerSettings.stun(1)).save(file);
        String json = Files.readString(file);
        // as format 1 wrote it: no roundSteps, format 1 in the Q-learning state
        String old = json.replace("\"format\" : " + TunerState.FORMAT, "\"format\" : 1").replaceAll(",\\s*\"roundSteps\" : 0", "");
        assertTrue(!old.contains("roundSteps") && old.contains("\"format\" : 1"), old);
        Files.writeString(file, old);
        TuneState loaded = TuneState.load(file);
        assertEquals(state(TunerSettings.stun(1)), loaded);
        assertEquals(TunerSettings.Reference.STUN, loaded.q().settings().reference());
    }

    @Test
    void aTunerStateOfAnUnknownFormatInsideIsRefused(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("state.json");
        state(TunerSettings.defaults(1)).save(file);
        String json = Files.readString(file);
        int at = json.indexOf("\"q\"");
        Files.writeString(file, json.substring(0, at) + json.substring(at).replaceFirst("\"format\" : 2", "\"format\" : 9"));
        IOException e = assertThrows(IOException.class, () -> TuneState.load(file));
        assertTrue(e.getMessage().contains("tuner state format 9, this tuner reads 1 and 2"), e.getMessage());
    }
}
