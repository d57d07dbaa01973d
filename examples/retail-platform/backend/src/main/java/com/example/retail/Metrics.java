package com.example.retail;

import java.util.Map;
import java.util.TreeMap;

/**
 * The HTTP metrics the runbook's Prometheus rules query, in the Prometheus text format.
 *
 * <p>{@code http_server_requests_total{method,uri,status}} counts requests (the error-rate trigger
 * divides its 5xx part by the total) and {@code http_server_requests_duration} is a histogram of
 * their durations in seconds (the p95 trigger takes {@code histogram_quantile} over its buckets).
 * The names are the ones in retail_deploy/monitoring/triggers.py, so the monitoring chapter watches this
 * service unchanged. Synchronized: a handful of requests per second, no contention worth a
 * lock-free design.
 */
public final class Metrics {
    /** Upper bounds in seconds; the runbook's 0.5 s threshold is one of them. */
    static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

    private static final class Series {
        long count;
        double sum;
        final long[] buckets = new long[BUCKETS.length];
    }

    private final Map<String, Series> series = new TreeMap<>();

    /** Record one finished request. */
    public synchronized void record(String method, String uri, int status, double seconds) {
        String labels = "method=\"" + method + "\",uri=\"" + uri + "\",status=\"" + status + "\"";
        Series s = series.computeIfAbsent(labels, k -> new Series());
        s.count++;
        s.sum += seconds;
        for (int i = 0; i < BUCKETS.length; i++) {
            if (seconds <= BUCKETS[i]) {
                s.buckets[i]++;
            }
        }
    }

    /** Everything recorded so far, as Prometheus scrapes it (text format 0.0.4). */
    public synchronized String render() {
        StringBuilder out = new StringBuilder();
        out.append("# HELP http_server_requests_total HTTP requests answered, by method, route and status.\n");
        out.append("# TYPE http_server_requests_total counter\n");
        series.forEach((labels, s) ->
                out.append("http_server_requests_total{").append(labels).append("} ").append(s.count).append('\n'));
        out.append("# HELP http_server_requests_duration HTTP request durations in seconds.\n");
        out.append("# TYPE http_server_requests_duration histogram\n");
        series.forEach((labels, s) -> {
            for (int i = 0; i < BUCKETS.length; i++) {
                out.append("http_server_requests_duration_bucket{").append(labels).append(",le=\"")
                        .append(BUCKETS[i]).append("\"} ").append(s.buckets[i]).append('\n');
            }
            out.append("http_server_requests_duration_bucket{").append(labels).append(",le=\"+Inf\"} ")
                    .append(s.count).append('\n');
            out.append("http_server_requests_duration_sum{").append(labels).append("} ").append(s.sum).append('\n');
            out.append("http_server_requests_duration_count{").append(labels).append("} ").append(s.count).append('\n');
        });
        return out.toString();
    }

    /** Requests counted with this status so far (all routes): for tests. */
    public synchronized long count(int status) {
        String needle = "status=\"" + status + "\"";
        return series.entrySet().stream().filter(e -> e.getKey().contains(needle))
                .mapToLong(e -> e.getValue().count).sum();
    }
}
