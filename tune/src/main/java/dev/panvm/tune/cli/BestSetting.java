package dev.panvm.tune.cli;

import dev.panvm.tune.Measurement;
import dev.panvm.tune.Step;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The setting a search recommends, chosen so that a lucky draw does not win: every step that
 * measured the same setting is pooled into one measurement, and the setting with the lowest
 * upper 95 % bound of its pooled mean is chosen. The lowest single step mean (the "best so far"
 * of the learning curve) is the minimum of hundreds of noisy means on a long run, and on this
 * host's noise it is mostly the luckiest draw: re-measured, such a step is rarely as fast.
 *
 * @param settings  the setting
 * @param pooled    every run of every step that measured it
 * @param visits    how many steps measured it
 * @param firstStep the first step that did
 */
public record BestSetting(Map<String, Long> settings, Measurement pooled, int visits, int firstStep) {

    /** The recommended setting of {@code history} (step 0, the default, included). */
    public static BestSetting of(List<Step> history) {
        Map<Map<String, Long>, List<Step>> bySetting = new LinkedHashMap<>();
        for (Step s : history) {
            bySetting.computeIfAbsent(s.settings(), k -> new ArrayList<>()).add(s);
        }
        return bySetting.entrySet().stream().map(e -> {
            List<Double> runs = new ArrayList<>();
            e.getValue().forEach(s -> runs.addAll(s.measurement().samples()));
            return new BestSetting(e.getKey(), new Measurement(runs), e.getValue().size(), e.getValue().getFirst().step());
        }).min(Comparator.comparingDouble(BestSetting::upperBound).thenComparingInt(BestSetting::firstStep)).orElseThrow();
    }

    /** The pooled mean's upper 95 % bound (infinite for a single run). */
    public double upperBound() {
        return pooled.mean() + pooled.halfWidth();
    }
}
