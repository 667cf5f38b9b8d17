package dev.panvm.tune;

/**
 * One row of STUN's filtering table: the workload with one knob at its minimum, at its default and
 * at its maximum (every other knob at its default), and whether the knob is kept for tuning.
 *
 * @param knob      the knob
 * @param atMin     the workload with the knob at {@code knob.min()}
 * @param atDefault the workload with every knob at its default
 * @param atMax     the workload with the knob at {@code knob.max()}
 * @param effect    the larger relative change of the two ends against the default (0.25 = 25 %)
 * @param kept      whether an end changes the result by more than the threshold and by more than the noise
 */
public record Sensitivity(Knob knob, Measurement atMin, Measurement atDefault, Measurement atMax,
                          double effect, boolean kept) {

    /** The row for {@code knob}, judged against {@code threshold} (STUN: 0.2). */
    static Sensitivity of(Knob knob, Measurement atMin, Measurement atDefault, Measurement atMax, double threshold) {
        double effect = Math.max(change(atMin, atDefault), change(atMax, atDefault));
        boolean kept = matters(atMin, atDefault, threshold) || matters(atMax, atDefault, threshold);
        return new Sensitivity(knob, atMin, atDefault, atMax, effect, kept);
    }

    private static double change(Measurement end, Measurement atDefault) {
        return Math.abs(end.mean() - atDefault.mean()) / atDefault.mean();
    }

    /** Large (above the threshold) and real: the two 95 % intervals do not overlap. */
    private static boolean matters(Measurement end, Measurement atDefault, double threshold) {
        double difference = Math.abs(end.mean() - atDefault.mean());
        return change(end, atDefault) > threshold && difference > end.halfWidth() + atDefault.halfWidth();
    }
}
