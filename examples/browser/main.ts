// A browser client: follows the "odds" stream over the standard WebSocket
// into a replica, resuming after a dropped connection. Bundle it with esbuild
// and open index.html?ws=ws://127.0.0.1:8080/ (see docs/guides/getting-started.md).
import { connectWebSocket, Follower } from "deltaframe/adapters/websocket";
import { MarketSchema, Status } from "deltaframe/workload";

const url = new URLSearchParams(location.search).get("ws") ?? "ws://127.0.0.1:8080/";

const follower = new Follower({
  schema: MarketSchema,
  stream: "odds",
  random: Math.random,
  connect: (session, handlers) => connectWebSocket(url, session, handlers),
});
follower.start();

// Four times a second: a status line and the first markets with their best price.
const status = document.getElementById("status")!;
const list = document.getElementById("markets")!;
setInterval(() => {
  const m = follower.metrics;
  status.textContent = `${follower.replica.size} markets · ${m.updates} updates · ${m.resumes} resumes`;
  list.replaceChildren(
    ...[...follower.replica].slice(0, 15).map(({ value }) => {
      const li = document.createElement("li");
      const best = Math.min(...value.selections.map((s) => s.priceTicks));
      li.textContent = `${value.name} · ${Status[value.status]} · best ${best}`;
      return li;
    }),
  );
}, 250);

// For tests and the console: the replica's canonical state hash, as the server computes it.
Object.assign(globalThis, {
  deltaframe: {
    keys: () => follower.replica.size,
    stateHash: () => follower.replica.stateHash().toString(16),
    metrics: () => ({ ...follower.metrics }),
  },
});
