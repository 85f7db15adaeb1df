// Browser proof: the WHATWG WebSocket adapter in Debian's headless Chromium
// follows the odds feed from a ws server, survives a server-side connection
// kill by resuming, and ends with the server's state hash. Never skipped:
// without /usr/bin/chromium this test fails (CI installs it with apt).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serveHubs, type WsServer } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import type { ServerEvent } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("browser client (examples/browser)", () => {
  it("follows the feed in headless Chromium, resumes after a kill, and converges to the server's hash", async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); this test is never skipped`,
      );
    }
    // Bundle the example with esbuild's JS API into a temporary directory.
    const dir = mkdtempSync(join(tmpdir(), "df-browser-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const result = await build({
      entryPoints: [join(root, "examples/browser/main.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outfile: join(dir, "main.js"),
      tsconfig: join(root, "tsconfig.json"),
      external: ["node:*"],
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const bundle = readFileSync(join(dir, "main.js"), "utf8");
    expect(bundle).not.toMatch(/from\s*["']node:|from\s*["']ws["']/);
    await copyFile(join(root, "examples/browser/index.html"), join(dir, "index.html"));

    // The page's own HTTP server.
    const http: Server = createServer((req, res) => {
      const name = new URL(req.url ?? "/", "http://x").pathname.slice(1) || "index.html";
      if (name !== "index.html" && name !== "main.js") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": name.endsWith(".js") ? "text/javascript" : "text/html" });
      res.end(readFileSync(join(dir, name)));
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => http.close(r)));
    const httpPort = (http.address() as AddressInfo).port;

    // The feed.
    const hub = new Hub(MarketSchema, { stream: "odds" });
    const feed = new OddsFeed({ seed: 11 });
    for (const [key, market] of feed.snapshot()) hub.set(key, market);
    hub.flush(Date.now());
    const server: WsServer<ServerEvent> = await serveHubs([hub]);
    cleanups.push(() => server.close());
    const publish = (ticks: number) => {
      for (let i = 0; i < ticks; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      hub.flush(Date.now());
    };

    const profile = mkdtempSync(join(tmpdir(), "df-chromium-"));
    cleanups.push(() => rm(profile, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    cleanups.push(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(`http://127.0.0.1:${httpPort}/index.html?ws=${encodeURIComponent(server.url)}`);

    type PageState = { keys: number; hash: string; resumes: number; connects: number };
    const state = () =>
      page.evaluate(() => {
        const df = (
          globalThis as unknown as {
            deltaframe?: {
              keys(): number;
              stateHash(): string;
              metrics(): { resumes: number; connects: number };
            };
          }
        ).deltaframe;
        if (df === undefined) return { keys: -1, hash: "", resumes: 0, connects: 0 };
        const m = df.metrics();
        return { keys: df.keys(), hash: df.stateHash(), resumes: m.resumes, connects: m.connects };
      }) as Promise<PageState>;

    await until(state, (s) => s.keys === 200, "the snapshot in the page");
    for (let round = 0; round < 10; round++) {
      publish(50);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(state, (s) => s.hash === hub.stateHash().toString(16), "the page to follow live updates");

    // Kill the page's connection on the server side, keep publishing; it must resume.
    expect(server.connections.size).toBe(1);
    for (const c of server.connections) c.terminate();
    for (let round = 0; round < 10; round++) {
      publish(50);
      await new Promise((r) => setTimeout(r, 20));
    }
    const final = await until(
      state,
      (s) => s.resumes >= 1 && s.hash === hub.stateHash().toString(16),
      "the page to resume and converge",
    );
    expect(final).toMatchObject({ keys: 200, resumes: 1, connects: 2 });
    expect(pageErrors).toEqual([]);
  });
});
