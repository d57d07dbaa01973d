package com.example.retail;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The backend's HTTP surface: the endpoints the deployment runbook checks, and one business
 * endpoint whose answers the monitoring triggers watch.
 *
 * <ul>
 *   <li>{@code /api/v1/health}: {"status":"UP"} (503 {"status":"DOWN"} in mode DOWN)</li>
 *   <li>{@code /actuator/health}: Spring Boot Actuator's shape, with the components mongo, redis
 *       and elasticsearch; {@code /actuator/health/<component>} answers one of them (what
 *       {@code health.deps} reads)</li>
 *   <li>{@code /api/v1/version}: {"version":"...","profile":"..."}</li>
 *   <li>{@code /actuator/prometheus}: {@link Metrics}</li>
 *   <li>{@code /api/v1/products}: a small catalogue (500 in mode ERRORS, slow in mode SLOW)</li>
 *   <li>{@code POST /api/v1/orders}: place an order: 201 when it is paid and completed; in mode
 *       ERRORS its payment fails (502), counted as a failed order and a failed payment (slow in
 *       mode SLOW)</li>
 * </ul>
 */
public final class Backend {
    static final List<String> COMPONENTS = List.of("mongo", "redis", "elasticsearch");
    private static final String JSON = "application/json";

    private final Mode mode;
    private final String version;
    private final String profile;
    private final Metrics metrics = new Metrics();
    private final AtomicLong orders = new AtomicLong();
    private HttpServer server;
    private ExecutorService executor;

    public Backend(Mode mode, String version, String profile) {
        this.mode = mode;
        this.version = version;
        this.profile = profile;
    }

    /** Listen on host:port (port 0: any free port) and answer until {@link #stop()}. */
    public synchronized void start(String host, int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress(host, port), 64);
        executor = Executors.newFixedThreadPool(8);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /** The port actually bound (useful after start with port 0). */
    public synchronized int port() {
        return server.getAddress().getPort();
    }

    public synchronized void stop() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
            server = null;
        }
    }

    public Metrics metrics() {
        return metrics;
    }

    /** One answer: status, content type, body, and the route template the metrics label it by. */
    record Answer(int status, String contentType, String body, String route) {
        static Answer json(int status, String body, String route) {
            return new Answer(status, JSON, body + "\n", route);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        long started = System.nanoTime();
        Answer answer;
        try {
            answer = route(exchange.getRequestMethod(), exchange.getRequestURI().getPath());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer = Answer.json(503, "{\"error\":\"shutting down\"}", "UNKNOWN");
        }
        // Recorded before the answer leaves: a client that scrapes right after its answer arrives
        // must find its request counted. The scrape itself is not traffic: counting it would
        // dilute the error rate.
        if (!"/actuator/prometheus".equals(answer.route())) {
            metrics.record(exchange.getRequestMethod(), answer.route(), answer.status(),
                    (System.nanoTime() - started) / 1e9);
        }
        byte[] body = answer.body().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", answer.contentType());
        boolean head = "HEAD".equals(exchange.getRequestMethod());
        exchange.sendResponseHeaders(answer.status(), head ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            if (!head) {
                out.write(body);
            }
        }
    }

    /** The answer to METHOD PATH (package-private: the unit tests call it without a socket). */
    Answer route(String method, String path) throws InterruptedException {
        if ("/api/v1/orders".equals(path)) {
            return "POST".equals(method) ? order() : Answer.json(405, "{\"error\":\"method not allowed\"}", path);
        }
        if (!"GET".equals(method) && !"HEAD".equals(method)) {
            return Answer.json(405, "{\"error\":\"method not allowed\"}", path);
        }
        boolean up = mode != Mode.DOWN;
        String status = up ? "{\"status\":\"UP\"}" : "{\"status\":\"DOWN\"}";
        switch (path) {
            case "/", "/api/v1" -> {
                return Answer.json(200, "{\"service\":\"retail-backend\",\"version\":\"" + version + "\"}", "/");
            }
            case "/api/v1/health" -> {
                return Answer.json(up ? 200 : 503, status, path);
            }
            case "/actuator/health" -> {
                StringBuilder body = new StringBuilder(up ? "{\"status\":\"UP\"" : "{\"status\":\"DOWN\"");
                body.append(",\"components\":{");
                for (int i = 0; i < COMPONENTS.size(); i++) {
                    body.append(i == 0 ? "" : ",").append('"').append(COMPONENTS.get(i)).append("\":").append(status);
                }
                return Answer.json(up ? 200 : 503, body.append("}}").toString(), path);
            }
            case "/api/v1/version" -> {
                return Answer.json(200, "{\"version\":\"" + version + "\",\"profile\":\"" + profile + "\"}", path);
            }
            case "/actuator/prometheus" -> {
                return new Answer(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(), path);
            }
            case "/api/v1/products" -> {
                return products();
            }
            default -> {
                String prefix = "/actuator/health/";
                if (path.startsWith(prefix) && COMPONENTS.contains(path.substring(prefix.length()))) {
                    return Answer.json(up ? 200 : 503, status, "/actuator/health/{component}");
                }
                return Answer.json(404, "{\"error\":\"not found\"}", "NOT_FOUND");
            }
        }
    }

    private Answer order() throws InterruptedException {
        String route = "/api/v1/orders";
        metrics.orderCreated();
        long number = orders.incrementAndGet();
        if (mode == Mode.ERRORS) {
            metrics.orderFailed(true);
            return Answer.json(502, "{\"order\":" + number + ",\"status\":\"FAILED\",\"error\":\"payment failed\"}",
                    route);
        }
        if (mode == Mode.SLOW) {
            Thread.sleep(Mode.SLOW_DELAY_MILLIS);
        }
        metrics.orderCompleted();
        return Answer.json(201, "{\"order\":" + number + ",\"status\":\"COMPLETED\"}", route);
    }

    private Answer products() throws InterruptedException {
        String route = "/api/v1/products";
        if (mode == Mode.ERRORS) {
            return Answer.json(500, "{\"error\":\"catalogue unavailable\"}", route);
        }
        if (mode == Mode.SLOW) {
            Thread.sleep(Mode.SLOW_DELAY_MILLIS);
        }
        return Answer.json(200, "[{\"sku\":\"RA-1001\",\"name\":\"Canvas tote\",\"price\":24.0},"
                + "{\"sku\":\"RA-1002\",\"name\":\"Enamel mug\",\"price\":12.5}]", route);
    }
}
