package dev.panvm.bench.report;

import dev.panvm.bench.SecondaryMetrics;

import dev.panvm.bench.report.JmhResults.Entry;
import dev.panvm.bench.report.JmhResults.Metric;
import dev.panvm.bench.report.Row.Value;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Pairs JMH's results into rows: the results of one benchmark method with the same parameters
 * but for {@code vmm} are one figure measured on different systems; panvm's result and each
 * peer's make a row. Rows follow the catalog's order, results the catalog does not know last.
 */
public final class Rows {

    private Rows() {
    }

    /** A figure's identity: the method and its parameters but {@code vmm}. */
    private record Key(String shortName, Map<String, String> params) {
    }

    /**
     * The rows of {@code entries}; {@code warn} hears about what is shown incompletely (benchmarks
     * not in the catalog, a metric missing from a result).
     */
    public static List<Row> of(List<Entry> entries, Consumer<String> warn) throws BadDataException {
        Map<Key, Map<String, Entry>> bySystem = new LinkedHashMap<>();
        for (Entry e : entries) {
            Map<String, String> params = new LinkedHashMap<>(e.params());
            String vmm = Optional.ofNullable(params.remove("vmm")).orElse(Figures.PANVM);
            Entry previous = bySystem.computeIfAbsent(new Key(e.shortName(), params), k -> new LinkedHashMap<>())
                    .put(vmm, e);
            if (previous != null) {
                throw new BadDataException("two results for " + e.benchmark() + " " + e.params());
            }
        }
        List<Row> rows = new ArrayList<>();
        List<Key> keys = new ArrayList<>(bySystem.keySet());
        keys.sort(Comparator.comparingInt(k -> Figures.rank(k.shortName())));
        for (Key key : keys) {
            Map<String, Entry> systems = bySystem.get(key);
            if (!Figures.known(key.shortName())) {
                warn.accept(key.shortName() + " is not in the report's catalog (report.Figures): "
                        + "shown by its JMH name");
            }
            Entry any = systems.values().iterator().next();
            Figure figure = Figures.of(key.shortName(), key.params(), Unit.ofJmh(any.primary().unit()));
            Set<String> peers = new LinkedHashSet<>();
            if (!figure.peer().isEmpty()) {
                peers.add(figure.peer());
            }
            systems.keySet().stream().filter(s -> !s.equals(Figures.PANVM)).forEach(peers::add);
            Optional<Value> panvm = value(systems.get(Figures.PANVM), figure, warn);
            if (peers.isEmpty()) {
                rows.add(new Row(figure, "", panvm, Optional.empty()));
            }
            for (String peer : peers) {
                rows.add(new Row(figure, peer, panvm, value(systems.get(peer), figure, warn)));
            }
        }
        return rows;
    }

    /** One system's result in the figure's unit; empty when the system has no result or lacks the metric. */
    private static Optional<Value> value(Entry e, Figure figure, Consumer<String> warn) throws BadDataException {
        if (e == null) {
            return Optional.empty();
        }
        Optional<Metric> metric = e.metric(figure.metric());
        if (metric.isEmpty()) {
            warn.accept(e.benchmark() + " " + e.params() + ": no metric " + figure.metric().get() + "; shown as —");
            return Optional.empty();
        }
        Metric m = metric.get();
        Unit from = Unit.ofJmh(m.unit());
        if (!from.dimension().equals(figure.unit().dimension())) {
            throw new BadDataException(e.benchmark() + " " + e.params() + ": JMH's unit " + m.unit()
                    + " cannot be shown in " + figure.unit().symbol());
        }
        OptionalDouble guest = OptionalDouble.empty();
        Metric g = e.secondary().get(SecondaryMetrics.GUEST_NS_PER_OP);
        if (g != null && Unit.ofJmh(g.unit()).dimension().equals(figure.unit().dimension())) {
            guest = OptionalDouble.of(figure.unit().convert(g.score(), Unit.ofJmh(g.unit())));
        }
        return Optional.of(new Value(figure.unit().convert(m.score(), from), figure.unit().convert(m.error(), from),
                guest));
    }
}
