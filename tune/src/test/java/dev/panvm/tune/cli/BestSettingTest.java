package dev.panvm.tune.cli;

import dev.panvm.tune.Measurement;
import dev.panvm.tune.Step;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BestSettingTest {

    private static Step step(int i, long value, double... runs) {
        Measurement m = Measurement.of(runs);
        return new Step(i, Map.of("sched_latency_ns", value), m, 0, m.mean());
    }

    @Test
    void aSettingMeasuredOftenBeatsOneLuckyStep() {
        List<Step> history = List.of(
                step(0, 10, 10, 11, 9),
                step(1, 20, 8, 8.5, 7.5),
                step(2, 30, 2, 30, 1),     // lowest single mean after a lucky draw... but wide
                step(3, 20, 8, 7.8, 8.2),
                step(4, 20, 8.1, 7.9, 8));
        BestSetting best = BestSetting.of(history);
        assertEquals(Map.of("sched_latency_ns", 20L), best.settings());
        assertEquals(3, best.visits());
        assertEquals(1, best.firstStep());
        assertEquals(9, best.pooled().samples().size());
        assertEquals(8.0, best.pooled().mean(), 1e-9);
    }

    @Test
    void aHistoryOfTheDefaultAloneRecommendsTheDefault() {
        BestSetting best = BestSetting.of(List.of(step(0, 10, 10, 11, 9)));
        assertEquals(0, best.firstStep());
        assertEquals(1, best.visits());
    }
}
