// A deltaframe server: the "odds" stream (the reference workload) served over
// WebSocket, with resume. Run: npx tsx examples/server.ts [port]
import { toBinary } from "@bufbuild/protobuf";
import { serveHubs } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import { MarketSchema, MarketStatusChangedSchema, OddsFeed } from "deltaframe/workload";

const port = Number(process.argv[2] ?? 8080);

// The hub owns the keyed state; every change is encoded once for all clients.
const hub = new Hub(MarketSchema, { stream: "odds" });
const feed = new OddsFeed({ seed: 1 });
for (const [key, market] of feed.snapshot()) hub.set(key, market);

// One server session per connection, attached to the hub.
const server = await serveHubs([hub], { port, host: "127.0.0.1" });
console.log(`serving "odds" at ${server.url}`);

// Publish about 200 ticks per second, flushed to every client every 50 ms.
setInterval(() => {
  for (let i = 0; i < 10; i++) {
    const tick = feed.next();
    hub.set(tick.key, tick.market);
    if (tick.event) hub.event(toBinary(MarketStatusChangedSchema, tick.event));
  }
  hub.flush(Date.now());
}, 50);

process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
