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
 *
 * <p>The business counters, named as Micrometer names a counter for Prometheus
 * ({@code orders.created} becomes {@code orders_created_total}): orders created, completed and
 * failed, and payments failed. The order-completion-rate metric divides completed by created, the
 * payment-failure trigger reads the increase of failed payments, and the business dashboard shows
 * all four. They are exported from the start at 0, so "no failure yet" reads 0, not no data.
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
    private long ordersCreated;
    private long ordersCompleted;
    private long ordersFailed;
    private long paymentsFailed;

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

    /** An order was placed. */
    public synchronized void orderCreated() {
        ordersCreated++;
    }

    /** An order was paid and completed. */
    public synchronized void orderCompleted() {
        ordersCompleted++;
    }

    /** An order failed; {@code paymentFailed}: because its payment failed (counted as that too). */
    public synchronized void orderFailed(boolean paymentFailed) {
        ordersFailed++;
        if (paymentFailed) {
            paymentsFailed++;
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
        counter(out, "orders_created_total", "Orders placed.", ordersCreated);
        counter(out, "orders_completed_total", "Orders paid and completed.", ordersCompleted);
        counter(out, "orders_failed_total", "Orders that failed.", ordersFailed);
        counter(out, "payments_failed_total", "Payments that failed.", paymentsFailed);
        return out.toString();
    }

    private static void counter(StringBuilder out, String name, String help, long value) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(" counter\n");
        out.append(name).append(' ').append(value).append('\n');
    }

    /** The business counters so far, by their exported names: for tests. */
    public synchronized Map<String, Long> business() {
        return Map.of("orders_created_total", ordersCreated, "orders_completed_total", ordersCompleted,
                "orders_failed_total", ordersFailed, "payments_failed_total", paymentsFailed);
    }

    /** Requests counted with this status so far (all routes): for tests. */
    public synchronized long count(int status) {
        String needle = "status=\"" + status + "\"";
        return series.entrySet().stream().filter(e -> e.getKey().contains(needle))
                .mapToLong(e -> e.getValue().count).sum();
    }
}
