/**
 * `deltaframe demo` (`npm start`): a live loopback demo. A server publishes
 * the reference odds workload; clients follow it over real WebSockets — one
 * consumes slowly (credit stalls, conflation), one has its connection killed
 * mid-run and resumes. A live view shows throughput, bytes per update against
 * JSON, stalls, conflations, resumes and RTT; at the end every client's
 * replica is checked against the server's state by canonical hash.
 *
 * @module
 */
import { connectWs, Follower, type WsConnection } from "../adapters/ws.js";
import type { ClientEvent } from "../session/index.js";
import { MarketSchema } from "../workload/index.js";
import { type CliIo, flagOption, type OptionValues, parseIntOption, stringOption } from "./io.js";
import { ODDS_STREAM, type OddsServer, QUIET_STREAM, startOddsServer } from "./odds-server.js";

/** Usage text of `deltaframe demo`. */
export const DEMO_USAGE = `Usage: deltaframe demo [options]

A live demo on loopback: a server publishing the reference odds workload
(200 markets x 20 selections) and many clients following it over WebSocket.
Client 1 consumes slowly (credit stalls, conflation); client 2 has its
connection killed mid-run and resumes. At the end every client's replica is
checked against the server's state (canonical hash); the exit code is 1 if
any differs.

Options:
  --clients <n>    number of clients, at least 2 (default 20)
  --seconds <n>    how long to publish (default 60)
  --seed <n>       seed of the workload (default 1)
  --port <n>       port to listen on, 0 for any free port (default 0)
  --rate <n>       ticks per second (default 200, the workload's mean)
  --hashes         send the canonical hash of each result (8 B per update), checked by every client
  --plain          print periodic lines instead of a live view
  -h, --help       show this help`;

interface Client {
  readonly id: number;
  readonly role: "normal" | "slow" | "killed";
  readonly follower: Follower<typeof MarketSchema>;
}

function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

interface Totals {
  updates: number;
  events: number;
  conflated: number;
  resumes: number;
  stalls: number;
  bytesOut: number;
  rttMs: number;
}

function totals(clients: readonly Client[], server: OddsServer): Totals {
  let rttSum = 0;
  let rttCount = 0;
  const t: Totals = { updates: 0, events: 0, conflated: 0, resumes: 0, stalls: 0, bytesOut: 0, rttMs: -1 };
  for (const c of clients) {
    const m = c.follower.metrics;
    t.updates += m.updates;
    t.events += m.events;
    t.conflated += m.conflated;
    t.resumes += m.resumes;
    const rtt = c.follower.session?.metrics.rttMs ?? -1;
    if (rtt >= 0) {
      rttSum += rtt;
      rttCount++;
    }
  }
  for (const s of server.sessions) {
    t.stalls += s.metrics.creditStalls;
    t.bytesOut += s.metrics.bytesOut;
    if (s.metrics.rttMs >= 0) {
      rttSum += s.metrics.rttMs;
      rttCount++;
    }
  }
  if (rttCount > 0) t.rttMs = rttSum / rttCount;
  return t;
}

/** Runs `deltaframe demo`; returns the exit code (0 when every replica matches). */
export async function runDemo(values: OptionValues, _positionals: string[], io: CliIo): Promise<number> {
  const clientCount = parseIntOption("clients", stringOption(values, "clients"), 20, 2, 1000);
  const seconds = parseIntOption("seconds", stringOption(values, "seconds"), 60, 1, 86_400);
  const seed = parseIntOption("seed", stringOption(values, "seed"), 1);
  const port = parseIntOption("port", stringOption(values, "port"), 0, 0, 65_535);
  const rate = parseIntOption("rate", stringOption(values, "rate"), 200, 1, 1_000_000);
  const live = io.isTTY && !flagOption(values, "plain");

  const server = await startOddsServer({
    port,
    host: "127.0.0.1",
    seed,
    rate,
    session: { heartbeatMs: 500, idleTimeoutMs: 10_000 },
    hashes: flagOption(values, "hashes"),
  });
  const url = server.server.url;
  io.stdout(
    `deltaframe demo: serving the odds feed at ${url} to ${clientCount} clients for ${seconds} s (seed ${seed}, ${rate} ticks/s)\n`,
  );

  // Delivery latency (publish → applied to a replica), over the last view interval.
  let latencySum = 0;
  let latencyCount = 0;
  const clients: Client[] = [];
  for (let id = 1; id <= clientCount; id++) {
    const role = id === 1 ? "slow" : id === 2 ? "killed" : "normal";
    const follower = new Follower({
      schema: MarketSchema,
      stream: ODDS_STREAM,
      random: random(seed * 7919 + id),
      connect: (session, handlers) => connectWs(url, session, handlers),
      onEvent: (event) => {
        if (event.type !== "update" || role === "slow") return;
        const at = server.publishedAt(event.version);
        if (at !== undefined) {
          latencySum += Date.now() - at;
          latencyCount++;
        }
      },
      session:
        role === "slow"
          ? { windowMessages: 32, autoConsume: false, agent: `demo-${id}` }
          : { windowMessages: 1024, agent: `demo-${id}` },
    });
    follower.start();
    clients.push({ id, role, follower });
  }
  // An idle connection (a stream that never changes): the server pings it every heartbeat, which gives the RTT.
  const monitor = new Follower({
    schema: MarketSchema,
    stream: QUIET_STREAM,
    random: random(seed),
    connect: (session, handlers) => connectWs(url, session, handlers),
    session: { agent: "demo-monitor" },
  });
  monitor.start();
  const slow = clients[0]!.follower;
  const killed = clients[1]!.follower;

  // The slow client grants credit for at most 5 messages every 100 ms (50/s, a quarter of the feed).
  let slowBudget = 5;
  const slowTimer = setInterval(() => {
    const s = slow.session;
    if (s === undefined || s.isClosed) return;
    const n = Math.min(s.unconsumedCount, slowBudget);
    if (n > 0) {
      s.consume(n, Date.now());
      slow.transport?.flush();
    }
  }, 100);

  const started = Date.now();
  let lastRender = 0;
  let lastUpdates = 0;
  let lastBytes = 0;
  let lastTime = started;
  let rate1s = 0;
  let perUpdate = 0;
  let latency = -1;
  let lines = 0;
  let killedAt: number | undefined;
  const render = (final: boolean) => {
    const now = Date.now();
    const elapsed = (now - started) / 1000;
    const t = totals(clients, server);
    if (now - lastTime >= 900 || final) {
      const updates = t.updates - lastUpdates;
      rate1s = (updates * 1000) / Math.max(1, now - lastTime);
      // Live cost over the last second: snapshots (sent once per connection) are left out by the window.
      if (updates > 0 && !final) perUpdate = (t.bytesOut - lastBytes) / updates;
      lastUpdates = t.updates;
      lastBytes = t.bytesOut;
      lastTime = now;
    }
    const ticks = server.ticks();
    const json = ticks > 0 ? server.jsonBytes() / ticks : 0;
    const progress = Math.min(1, elapsed / seconds);
    const bar = `${"#".repeat(Math.round(progress * 30))}${".".repeat(30 - Math.round(progress * 30))}`;
    // RTT of the idle monitoring connection (ping/pong, both sides); the busy ones rarely ping.
    const monitorRtt = monitor.session?.metrics.rttMs ?? -1;
    const rttMs = monitorRtt >= 0 ? monitorRtt : t.rttMs;
    const rtt = rttMs >= 0 ? `${fmt(rttMs, 1)} ms` : "n/a";
    if (latencyCount > 0) {
      latency = latencySum / latencyCount;
      latencySum = 0;
      latencyCount = 0;
    }
    const lat = latency >= 0 ? `${fmt(latency, 1)} ms` : "n/a";
    if (!live) {
      if (final || now - lastRender >= 2000) {
        lastRender = now;
        io.stdout(
          `t=${fmt(elapsed, 1)}s ticks=${ticks} updates/s=${fmt(rate1s)} bytes/update=${fmt(perUpdate, 1)} (json ${fmt(json, 1)}) stalls=${t.stalls} conflated=${t.conflated} resumes=${t.resumes} rtt=${rtt} latency=${lat}\n`,
        );
      }
      return;
    }
    const out: string[] = [];
    out.push(`\x1b[1mdeltaframe demo\x1b[0m  ${url}  [${bar}] ${fmt(elapsed, 1)} / ${seconds} s`);
    out.push(`ticks published   ${fmt(ticks)}   (offset ${server.hub.offset})`);
    out.push(`updates delivered ${fmt(t.updates)}   ${fmt(rate1s)} updates/s   events ${fmt(t.events)}`);
    out.push(
      `bytes per update  ${fmt(perUpdate, 1)} B on the wire (last second, all framing)   vs JSON of the changed selections ${fmt(json, 1)} B (${json > 0 && perUpdate > 0 ? fmt(json / perUpdate, 1) : "-"}x)`,
    );
    out.push(
      `credit stalls     ${fmt(t.stalls)}   conflated updates ${fmt(t.conflated)}   resumes ${fmt(t.resumes)}   rtt ${rtt}`,
    );
    out.push("");
    out.push(" id  role     updates   events  conflated  resumes  keys");
    for (const c of clients.slice(0, 24)) {
      const m = c.follower.metrics;
      out.push(
        `${String(c.id).padStart(3)}  ${c.role.padEnd(7)} ${String(m.updates).padStart(8)} ${String(m.events).padStart(8)} ${String(m.conflated).padStart(10)} ${String(m.resumes).padStart(8)}  ${c.follower.replica.size}`,
      );
    }
    if (clients.length > 24) out.push(`  … and ${clients.length - 24} more`);
    const text = `${lines > 0 ? `\x1b[${lines}A` : ""}${out.map((l) => `\x1b[2K${l}`).join("\n")}\n`;
    lines = out.length;
    io.stdout(text);
  };

  const view = setInterval(() => {
    const elapsed = Date.now() - started;
    if (killedAt === undefined && elapsed >= (seconds * 1000) / 3) {
      killedAt = elapsed;
      (killed.transport as WsConnection<ClientEvent> | undefined)?.terminate();
      if (!live) io.stdout(`t=${fmt(elapsed / 1000, 1)}s killed client 2's connection\n`);
    }
    render(false);
  }, 250);

  const aborted = new Promise<void>((resolve) => io.signal?.addEventListener("abort", () => resolve()));
  await Promise.race([new Promise((r) => setTimeout(r, seconds * 1000)), aborted]);
  server.stopPublishing();
  // Let the slow client catch up: grant credit without bound.
  slowBudget = Number.MAX_SAFE_INTEGER;
  const target = server.hub.stateHash();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !clients.every((c) => c.follower.replica.stateHash() === target)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  clearInterval(view);
  clearInterval(slowTimer);
  render(true);

  const mismatched = clients.filter((c) => c.follower.replica.stateHash() !== target);
  const eventsOk = clients.filter(
    (c) => c.follower.metrics.eventOrderErrors === 0 && c.follower.metrics.droppedEvents === 0,
  ).length;
  const t = totals(clients, server);
  io.stdout(
    `replica check: ${clientCount - mismatched.length}/${clientCount} clients match the server state hash 0x${target.toString(16).padStart(16, "0")}\n`,
  );
  io.stdout(
    `events: ${eventsOk}/${clientCount} clients saw every event in order, none dropped (${server.eventOffsets.length} published); slow client conflated ${slow.metrics.conflated} updates; killed client resumed ${killed.metrics.resumes} time(s); credit stalls ${t.stalls}\n`,
  );
  for (const c of mismatched)
    io.stderr(`client ${c.id} (${c.role}): replica differs from the server state\n`);
  for (const c of clients) c.follower.stop();
  monitor.stop();
  await new Promise((r) => setTimeout(r, 50));
  await server.close();
  return mismatched.length === 0 ? 0 : 1;
}
