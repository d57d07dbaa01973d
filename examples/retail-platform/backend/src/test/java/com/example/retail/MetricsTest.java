package com.example.retail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class MetricsTest {
    @Test
    void rendersCountersAndCumulativeBuckets() {
        Metrics metrics = new Metrics();
        metrics.record("GET", "/api/v1/products", 200, 0.02);
        metrics.record("GET", "/api/v1/products", 200, 0.7);
        String expected = String.join("\n",
                "# HELP http_server_requests_total HTTP requests answered, by method, route and status.",
                "# TYPE http_server_requests_total counter",
                "http_server_requests_total{method=\"GET\",uri=\"/api/v1/products\",status=\"200\"} 2",
                "# HELP http_server_requests_duration HTTP request durations in seconds.",
                "# TYPE http_server_requests_duration histogram",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.005\"} 0",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.01\"} 0",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.025\"} 1",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.05\"} 1",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.1\"} 1",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.25\"} 1",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"0.5\"} 1",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"1.0\"} 2",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"2.5\"} 2",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"5.0\"} 2",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"10.0\"} 2",
                "http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\",status=\"200\",le=\"+Inf\"} 2",
                "http_server_requests_duration_sum{method=\"GET\",uri=\"/api/v1/products\",status=\"200\"} 0.72",
                "http_server_requests_duration_count{method=\"GET\",uri=\"/api/v1/products\",status=\"200\"} 2",
                "# HELP orders_created_total Orders placed.",
                "# TYPE orders_created_total counter",
                "orders_created_total 0",
                "# HELP orders_completed_total Orders paid and completed.",
                "# TYPE orders_completed_total counter",
                "orders_completed_total 0",
                "# HELP orders_failed_total Orders that failed.",
                "# TYPE orders_failed_total counter",
                "orders_failed_total 0",
                "# HELP payments_failed_total Payments that failed.",
                "# TYPE payments_failed_total counter",
                "payments_failed_total 0",
                "");
        assertEquals(expected, metrics.render());
        assertEquals(2, metrics.count(200));
        assertEquals(0, metrics.count(500));
    }

    @Test
    void countsOrdersAndFailedPaymentsAsMicrometerNamesThem() {
        Metrics metrics = new Metrics();
        metrics.orderCreated();
        metrics.orderCompleted();
        metrics.orderCreated();
        metrics.orderFailed(true);
        metrics.orderCreated();
        metrics.orderFailed(false);
        assertEquals(Map.of("orders_created_total", 3L, "orders_completed_total", 1L,
                "orders_failed_total", 2L, "payments_failed_total", 1L), metrics.business());
        String text = metrics.render();
        assertTrue(text.contains("\norders_created_total 3\n"), text);
        assertTrue(text.contains("\norders_completed_total 1\n"), text);
        assertTrue(text.contains("\norders_failed_total 2\n"), text);
        assertTrue(text.contains("# TYPE payments_failed_total counter\npayments_failed_total 1\n"), text);
    }
}
