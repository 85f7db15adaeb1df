// A browser client of the odds feed: follows the "odds" stream over the
// standard WebSocket, keeps a replica of every market, resumes after a
// dropped connection, and shows the first markets. Bundle it with esbuild
// (see test/e2e/browser.test.ts) and open index.html?ws=ws://host:port/.
import { connectWebSocket, Follower } from "deltaframe/adapters/websocket";
import { MarketSchema, Status } from "deltaframe/workload";

const url = new URLSearchParams(location.search).get("ws") ?? `ws://${location.hostname}:8080/`;

const follower = new Follower({
  schema: MarketSchema,
  stream: "odds",
  random: Math.random,
  connect: (session, handlers) => connectWebSocket(url, session, handlers),
});
follower.start();

// For tests and the console: the replica's state hash, as the server computes it.
Object.assign(globalThis, {
  deltaframe: {
    follower,
    stateHash: () => follower.replica.stateHash().toString(16),
    keys: () => follower.replica.size,
    metrics: () => ({ ...follower.metrics }),
  },
});

const status = document.getElementById("status")!;
const rows = document.getElementById("markets")!;
setInterval(() => {
  const m = follower.metrics;
  status.textContent = `${follower.replica.size} markets · ${m.updates} updates · ${m.events} events · ${m.conflated} conflated · ${m.resumes} resumes`;
  const markets = [...follower.replica].slice(0, 15);
  rows.innerHTML = "";
  for (const { key, value, version } of markets) {
    const best = Math.min(...value.selections.map((s) => s.priceTicks));
    const tr = document.createElement("tr");
    for (const text of [value.name || key, Status[value.status] ?? "", String(best), String(version)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    rows.append(tr);
  }
}, 250);
