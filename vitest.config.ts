import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests and benches import the package by its public names ("deltaframe/codec"),
// so the exports map is exercised; here each name resolves to its TypeScript
// source instead of the built file in dist/.
const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  exports: Record<string, string | { default: string }>;
};
const alias = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === "object")
  .map(([name, target]) => ({
    find: new RegExp(`^${name === "." ? "deltaframe" : `deltaframe/${name.slice(2)}`}$`),
    replacement: fileURLToPath(
      new URL(
        (target as { default: string }).default.replace("./dist/", "./src/").replace(/\.js$/, ".ts"),
        import.meta.url,
      ),
    ),
  }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
    benchmark: {
      include: ["bench/**/*.bench.ts"],
    },
  },
});
