import { connectWs, Follower, serveHubs } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import { MarketSchema, OddsFeed } from "deltaframe/workload";

// Server: a hub holds one stream's keyed state; each change is encoded once for every client.
const hub = new Hub(MarketSchema, { stream: "odds" });
const feed = new OddsFeed({ seed: 1 }); // the reference workload: 200 markets × 20 selections
for (const [key, market] of feed.snapshot()) hub.set(key, market);
const server = await serveHubs([hub], { port: 0, host: "127.0.0.1" });

// Client: follows the stream into a replica; reconnects and resumes by itself.
const follower = new Follower({
  schema: MarketSchema,
  stream: "odds",
  random: Math.random,
  connect: (session, handlers) => connectWs(server.url, session, handlers),
});
follower.start();

// Publish 2,000 ticks, sending one batch per 20 ticks.
const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
for (let i = 1; i <= 2000; i++) {
  const tick = feed.next();
  hub.set(tick.key, tick.market);
  if (i % 20 === 0) {
    hub.flush(Date.now());
    await pause();
  }
}
while (follower.replica.stateHash() !== hub.stateHash()) await pause();
console.log(`replica of ${follower.replica.size} markets matches the server`);
follower.stop();
await server.close();
