package dev.panvm.tune;

/**
 * STUN's reward for one step, from the step's result, the default setting's result and the
 * previous step's result (lower is better). The {@linkplain TunerSettings.Reference#REBASED
 * rebased} tuner calls it with the best result before the current round in place of the default's
 * (and, at a round's start, as the previous result); {@link TunerSettings#stun} keeps it exact.
 *
 * <ol>
 *   <li>more than {@code threshold} better than the default: {@code muchBetter} (STUN: +200);</li>
 *   <li>more than {@code threshold} worse than the default: {@code muchWorse} (STUN: -50);</li>
 *   <li>otherwise, better than the previous step: {@code improved} (STUN: +100);</li>
 *   <li>otherwise {@code unchanged} (STUN: 0).</li>
 * </ol>
 *
 * @param threshold  relative change against the default that counts as large (STUN: 0.2)
 * @param muchBetter reward of case 1
 * @param muchWorse  reward of case 2
 * @param improved   reward of case 3
 * @param unchanged  reward of case 4
 */
public record StunReward(double threshold, double muchBetter, double muchWorse, double improved, double unchanged) {

    /** The values of the STUN paper: 20 %, +200, -50, +100, 0. */
    public static final StunReward STUN = new StunReward(0.2, 200, -50, 100, 0);

    public StunReward {
        if (!(threshold > 0 && threshold < 1)) {
            throw new IllegalArgumentException("the threshold is a fraction in (0, 1), not " + threshold);
        }
    }

    /** The reward of a step whose result is {@code result}. */
    public double reward(double result, double defaultResult, double previousResult) {
        // a relative change, so that exactly 20 % lands in the middle band as "more than" says
        double gain = (defaultResult - result) / defaultResult;
        if (gain > threshold) {
            return muchBetter;
        }
        if (-gain > threshold) {
            return muchWorse;
        }
        return result < previousResult ? improved : unchanged;
    }
}
