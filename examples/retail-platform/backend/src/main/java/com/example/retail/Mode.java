package com.example.retail;

import java.util.Locale;

/**
 * How a build of the backend behaves, chosen by the one-word HEALTH file baked into the image.
 *
 * <p>It exists for the rollback demos and tests: a version that fails its health checks (DOWN),
 * one that passes them but fails the requests users make (ERRORS, raising the error rate the
 * monitoring triggers watch), and one that answers slowly (SLOW, raising the p95 latency).
 */
public enum Mode {
    /** Healthy: every endpoint answers normally. */
    UP,
    /** Unhealthy: /api/v1/health and /actuator/health answer 503 {"status":"DOWN"}. */
    DOWN,
    /** Healthy to its health checks, but the business endpoints fail: the catalogue answers 500,
     *  an order's payment fails (502, a failed order and a failed payment). */
    ERRORS,
    /** Healthy, but the business endpoints answer after {@link #SLOW_DELAY_MILLIS}. */
    SLOW;

    /** Above the runbook's p95 latency threshold (500 ms). */
    public static final long SLOW_DELAY_MILLIS = 750;

    /** The mode named by a HEALTH file's text (case and surrounding blanks ignored). */
    public static Mode parse(String text) {
        String word = text.strip().toUpperCase(Locale.ROOT);
        for (Mode mode : values()) {
            if (mode.name().equals(word)) {
                return mode;
            }
        }
        throw new IllegalArgumentException(
                "HEALTH must be one of UP, DOWN, ERRORS, SLOW; got '" + text.strip() + "'");
    }
}
