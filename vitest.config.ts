import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One self-signed certificate per run for the private ejabberds (test/helpers/stack.ts).
    globalSetup: ["test/helpers/tls-setup.ts"],
    // Each e2e file runs its own private ejabberd. Most of an e2e file's time
    // is waiting (reconnect graces, outages, timers), not CPU: on the 2-core CI
    // machine three at a time took the suite from 926 s to 568 s.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
