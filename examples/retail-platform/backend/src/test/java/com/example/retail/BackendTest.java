package com.example.retail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The endpoints the runbook checks, over a real socket, in each mode. */
class BackendTest {
    private final HttpClient client = HttpClient.newHttpClient();
    private Backend backend;

    private HttpResponse<String> get(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + backend.port() + path)).build();
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + backend.port() + path))
                .POST(HttpRequest.BodyPublishers.ofString("{\"sku\":\"RA-1001\"}")).build();
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private void start(Mode mode) throws Exception {
        backend = new Backend(mode, "1.4.2", "prod");
        backend.start("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        backend.stop();
    }

    @Test
    void healthyVersionAnswersTheRunbookEndpoints() throws Exception {
        start(Mode.UP);
        HttpResponse<String> health = get("/api/v1/health");
        assertEquals(200, health.statusCode());
        assertEquals("{\"status\":\"UP\"}\n", health.body());
        assertEquals("application/json", health.headers().firstValue("Content-Type").orElse(""));

        HttpResponse<String> actuator = get("/actuator/health");
        assertEquals(200, actuator.statusCode());
        assertEquals("{\"status\":\"UP\",\"components\":{\"mongo\":{\"status\":\"UP\"},"
                + "\"redis\":{\"status\":\"UP\"},\"elasticsearch\":{\"status\":\"UP\"}}}\n", actuator.body());
        for (String component : Backend.COMPONENTS) {
            HttpResponse<String> one = get("/actuator/health/" + component);
            assertEquals(200, one.statusCode(), component);
            assertEquals("{\"status\":\"UP\"}\n", one.body(), component);
        }
        assertEquals("{\"version\":\"1.4.2\",\"profile\":\"prod\"}\n", get("/api/v1/version").body());
        assertEquals(200, get("/api/v1/products").statusCode());
        assertEquals(404, get("/actuator/health/postgres").statusCode());
    }

    @Test
    void downVersionFailsItsHealthChecksButStillReportsItsVersion() throws Exception {
        start(Mode.DOWN);
        HttpResponse<String> health = get("/api/v1/health");
        assertEquals(503, health.statusCode());
        assertEquals("{\"status\":\"DOWN\"}\n", health.body());
        assertEquals(503, get("/actuator/health").statusCode());
        assertEquals(503, get("/actuator/health/mongo").statusCode());
        assertEquals(200, get("/api/v1/version").statusCode());
    }

    @Test
    void erroringVersionPassesHealthChecksAndItsErrorsShowInTheMetrics() throws Exception {
        start(Mode.ERRORS);
        assertEquals(200, get("/api/v1/health").statusCode());
        for (int i = 0; i < 3; i++) {
            assertEquals(500, get("/api/v1/products").statusCode());
        }
        String metrics = get("/actuator/prometheus").body();
        assertTrue(metrics.contains(
                "http_server_requests_total{method=\"GET\",uri=\"/api/v1/products\",status=\"500\"} 3\n"), metrics);
        assertTrue(metrics.contains(
                "http_server_requests_total{method=\"GET\",uri=\"/api/v1/health\",status=\"200\"} 1\n"), metrics);
        // The scrape itself is not counted as traffic.
        assertTrue(!metrics.contains("uri=\"/actuator/prometheus\""), metrics);
    }

    @Test
    void slowVersionAnswersAboveTheLatencyThreshold() throws Exception {
        start(Mode.SLOW);
        long started = System.nanoTime();
        assertEquals(200, get("/api/v1/products").statusCode());
        assertTrue((System.nanoTime() - started) / 1e6 >= Mode.SLOW_DELAY_MILLIS);
        String metrics = get("/actuator/prometheus").body();
        assertTrue(metrics.contains("http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\","
                + "status=\"200\",le=\"0.5\"} 0\n"), metrics);
        // Above 0.5 s, wherever it lands beyond (a loaded build machine may add to the 0.75 s).
        assertTrue(metrics.contains("http_server_requests_duration_bucket{method=\"GET\",uri=\"/api/v1/products\","
                + "status=\"200\",le=\"+Inf\"} 1\n"), metrics);
        // Health checks stay fast so the version deploys and only the monitoring sees it.
        started = System.nanoTime();
        get("/api/v1/health");
        assertTrue((System.nanoTime() - started) / 1e6 < Mode.SLOW_DELAY_MILLIS);
    }

    @Test
    void ordersOfAHealthyVersionCompleteAndAreCounted() throws Exception {
        start(Mode.UP);
        HttpResponse<String> first = post("/api/v1/orders");
        assertEquals(201, first.statusCode());
        assertEquals("{\"order\":1,\"status\":\"COMPLETED\"}\n", first.body());
        assertEquals(201, post("/api/v1/orders").statusCode());
        assertEquals(405, get("/api/v1/orders").statusCode());
        String metrics = get("/actuator/prometheus").body();
        assertTrue(metrics.contains("\norders_created_total 2\n"), metrics);
        assertTrue(metrics.contains("\norders_completed_total 2\n"), metrics);
        assertTrue(metrics.contains("\norders_failed_total 0\n"), metrics);
        assertTrue(metrics.contains("\npayments_failed_total 0\n"), metrics);
        assertTrue(metrics.contains(
                "http_server_requests_total{method=\"POST\",uri=\"/api/v1/orders\",status=\"201\"} 2\n"), metrics);
    }

    @Test
    void ordersOfAnErroringVersionFailTheirPayment() throws Exception {
        start(Mode.ERRORS);
        HttpResponse<String> order = post("/api/v1/orders");
        assertEquals(502, order.statusCode());
        assertTrue(order.body().contains("\"error\":\"payment failed\""), order.body());
        String metrics = get("/actuator/prometheus").body();
        assertTrue(metrics.contains("\norders_created_total 1\n"), metrics);
        assertTrue(metrics.contains("\norders_completed_total 0\n"), metrics);
        assertTrue(metrics.contains("\norders_failed_total 1\n"), metrics);
        assertTrue(metrics.contains("\npayments_failed_total 1\n"), metrics);
    }

    @Test
    void unknownPathsShareOneRouteLabel() throws Exception {
        start(Mode.UP);
        assertEquals(404, get("/a").statusCode());
        assertEquals(404, get("/b").statusCode());
        assertTrue(get("/actuator/prometheus").body().contains("uri=\"NOT_FOUND\",status=\"404\"} 2\n"));
    }
}
