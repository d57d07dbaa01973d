package com.example.retail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/**
 * Entry point. Configuration comes from the environment the Docker target sets at `docker run`:
 * PORT and BIND (where to listen), APP_VERSION (the version deployed); BUILD_VERSION (baked in by
 * the image build's VERSION argument) wins over APP_VERSION. HEALTH_FILE names the file holding
 * the {@link Mode} (default /app/HEALTH; absent means UP).
 */
public final class BackendApplication {
    private BackendApplication() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        Mode mode;
        try {
            mode = readMode(Path.of(env.getOrDefault("HEALTH_FILE", "/app/HEALTH")));
        } catch (IllegalArgumentException e) {
            System.err.println("retail-backend: " + e.getMessage());
            System.exit(2);
            return;
        }
        String version = version(env);
        Backend backend = new Backend(mode, version, profile());
        String bind = env.getOrDefault("BIND", "127.0.0.1");
        int port = Integer.parseInt(env.getOrDefault("PORT", "8080"));
        backend.start(bind, port);
        System.out.printf("retail-backend %s (%s) listening on %s:%d%n", version, mode, bind, backend.port());
        // `docker stop` sends SIGTERM: stop accepting, then exit 0.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            backend.stop();
            stopped.countDown();
        }));
        stopped.await();
    }

    static Mode readMode(Path file) throws IOException {
        try {
            return Mode.parse(Files.readString(file));
        } catch (NoSuchFileException e) {
            return Mode.UP;
        }
    }

    static String version(Map<String, String> env) {
        String baked = env.getOrDefault("BUILD_VERSION", "");
        if (!baked.isBlank()) {
            return baked;
        }
        return env.getOrDefault("APP_VERSION", "unknown");
    }

    /** "prod" when packaged with -Pprod, else "dev" (Maven filters retail-backend.properties). */
    static String profile() throws IOException {
        Properties properties = new Properties();
        try (InputStream in = BackendApplication.class.getResourceAsStream("/retail-backend.properties")) {
            if (in != null) {
                properties.load(in);
            }
        }
        return properties.getProperty("profile", "dev");
    }
}
