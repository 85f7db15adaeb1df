// A Node client: follows the "odds" stream into a replica, reconnecting and
// resuming when the connection drops. Run: npx tsx examples/node-client.ts ws://127.0.0.1:8080/
import { connectWs, Follower } from "deltaframe/adapters/ws";
import { MarketSchema } from "deltaframe/workload";

const url = process.argv[2] ?? "ws://127.0.0.1:8080/";

const follower = new Follower({
  schema: MarketSchema,
  stream: "odds",
  random: Math.random,
  connect: (session, handlers) => connectWs(url, session, handlers),
  onEvent: (event) => {
    if (event.type === "event") console.log(`event at offset ${event.offset}`);
  },
});
follower.start();

setInterval(() => {
  const m = follower.metrics;
  const hash = follower.replica.stateHash().toString(16);
  console.log(`${follower.replica.size} markets, ${m.updates} updates, ${m.resumes} resumes, hash ${hash}`);
}, 1000);
