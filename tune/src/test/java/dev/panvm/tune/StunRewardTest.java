package dev.panvm.tune;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Lower is better throughout; the default's result is 100. */
class StunRewardTest {
    private static final StunReward R = StunReward.STUN;

    @Test
    void moreThanTwentyPercentBetterThanTheDefault() {
        assertEquals(200, R.reward(79.9, 100, 50));
        assertEquals(200, R.reward(10, 100, 5), "even when worse than the previous step");
    }

    @Test
    void moreThanTwentyPercentWorseThanTheDefault() {
        assertEquals(-50, R.reward(120.1, 100, 200));
        assertEquals(-50, R.reward(500, 100, 1000), "even when better than the previous step");
    }

    @Test
    void withinTwentyPercentAndBetterThanThePreviousStep() {
        assertEquals(100, R.reward(95, 100, 96));
        assertEquals(100, R.reward(110, 100, 115));
    }

    @Test
    void withinTwentyPercentAndNoBetterThanThePreviousStep() {
        assertEquals(0, R.reward(95, 100, 94));
        assertEquals(0, R.reward(95, 100, 95), "equal is not better");
    }

    @Test
    void exactlyTwentyPercentIsNotMoreThanTwenty() {
        assertEquals(100, R.reward(80, 100, 90));
        assertEquals(0, R.reward(80, 100, 70));
        assertEquals(0, R.reward(120, 100, 110));
        assertEquals(100, R.reward(120, 100, 130));
    }

    @Test
    void thresholdAndRewardsAreSettings() {
        StunReward r = new StunReward(0.05, 10, -5, 1, -1);
        assertEquals(10, r.reward(94, 100, 90));
        assertEquals(-5, r.reward(106, 100, 110));
        assertEquals(1, r.reward(99, 100, 100));
        assertEquals(-1, r.reward(99, 100, 98));
    }
}
