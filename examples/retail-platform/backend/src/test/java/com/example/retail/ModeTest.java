package com.example.retail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModeTest {
    @Test
    void healthFileNamesTheMode(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("HEALTH");
        Files.writeString(file, "down\n");
        assertEquals(Mode.DOWN, BackendApplication.readMode(file));
        Files.writeString(file, " ERRORS ");
        assertEquals(Mode.ERRORS, BackendApplication.readMode(file));
        assertEquals(Mode.UP, BackendApplication.readMode(dir.resolve("absent")));
    }

    @Test
    void aTypoIsRefusedNotTakenAsHealthy() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Mode.parse("UPP"));
        assertEquals("HEALTH must be one of UP, DOWN, ERRORS, SLOW; got 'UPP'", error.getMessage());
    }

    @Test
    void theBakedVersionWinsOverTheDeployedOne() {
        assertEquals("1.0.0", BackendApplication.version(Map.of("BUILD_VERSION", "1.0.0", "APP_VERSION", "2.0.0")));
        assertEquals("2.0.0", BackendApplication.version(Map.of("BUILD_VERSION", "", "APP_VERSION", "2.0.0")));
        assertEquals("unknown", BackendApplication.version(Map.of()));
    }
}
