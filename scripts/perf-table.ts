/**
 * Regenerates the measured part of docs/performance.md (between
 * `<!-- bench:begin -->` and `<!-- bench:end -->`) from the result files in
 * bench/results/: the vitest bench report, memory.json, sizes.json and
 * e2e.json. Every timing is shown as a ratio against the baseline case of its
 * group, measured in the same run; each DESIGN §7 target gets a verdict.
 * Everything outside the markers is left as it is.
 *
 * Usage: tsx scripts/perf-table.ts [--report bench/results/latest.json] [--check]
 *   --check  print the region instead of writing the document
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { GROUPS, type GroupInfo } from "../bench/support/groups.js";
import {
  type BenchMeta,
  type E2eResult,
  type MemoryResult,
  resultPath,
  type SizesResult,
  type VitestBenchCase,
  type VitestBenchReport,
} from "../bench/support/results.js";

const BEGIN = "<!-- bench:begin -->";
const END = "<!-- bench:end -->";
const DOC = "docs/performance.md";
const ANALYSIS = "bench/analysis.md";

const args = process.argv.slice(2);
const reportPath = argValue("--report") ?? resultPath("latest");
const check = args.includes("--check");

function argValue(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as T) : undefined;
}

const report = readJson<VitestBenchReport>(reportPath);
const memory = readJson<MemoryResult>(resultPath("memory"));
const sizes = readJson<SizesResult>(resultPath("sizes"));
const e2e = readJson<E2eResult>(resultPath("e2e"));
/** The same run with more clients, for context (not the verdict). */
const e2eMore = [readJson<E2eResult>(resultPath("e2e-16")), readJson<E2eResult>(resultPath("e2e-64"))].filter(
  (r): r is E2eResult => r !== undefined,
);

/** Every case of the report by full name, with its group name. */
const cases = new Map<string, VitestBenchCase & { group: string }>();
for (const file of report?.files ?? []) {
  for (const group of file.groups) {
    const groupName = group.fullName.split(" > ").slice(1).join(" > ");
    for (const b of group.benchmarks) cases.set(b.name, { ...b, group: groupName });
  }
}

// ---------- formatting ----------

function fmtTime(ms: number): string {
  const ns = ms * 1e6;
  if (ns < 1000) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${(ns / 1e6).toPrecision(3)} ms`;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function fmtRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** A factor by which a target is missed: two decimals when close, so that 1.02 does not read as 1.0. */
function factor(f: number): string {
  return f < 1.1 ? f.toFixed(2) : f.toFixed(1);
}

function fmtBytes(n: number): string {
  if (n >= 10_240) return `${(n / 1024).toFixed(1)} KB`;
  return `${fmtInt(n)} B`;
}

// ---------- verdicts ----------

interface Verdict {
  measured: string;
  verdict: string;
}

/** A ratio that must be at least `target` (e.g. a speed-up). */
function atLeast(value: number, target: number, what: string): Verdict {
  return {
    measured: `${fmtRatio(value)} ${what}`,
    verdict:
      value >= target
        ? "met"
        : `not yet (${fmtRatio(value)} of ${fmtRatio(target)}: ${factor(target / value)}× short)`,
  };
}

/** A quantity that must be at most `target`. */
function atMost(value: number, target: number, shown: string, unit = ""): Verdict {
  return {
    measured: shown,
    verdict:
      value <= target
        ? "met"
        : `not yet (${factor(value / target)}× over the ${unit === "" ? fmtRatio(target) : `${target} ${unit}`} target)`,
  };
}

function notMeasured(why: string): Verdict {
  return { measured: "—", verdict: `not measured: ${why}` };
}

/** The time a ratio is computed from: the median, robust to the pauses of a shared machine. */
function medianOf(name: string): number | undefined {
  return cases.get(name)?.median;
}

/** medianOf(a) / medianOf(b), or undefined when either is missing. */
function costRatio(a: string, b: string): number | undefined {
  const x = medianOf(a);
  const y = medianOf(b);
  return x === undefined || y === undefined ? undefined : x / y;
}

function speedTarget(group: string): Verdict {
  const r = costRatio(`${group}/protobufjs`, `${group}/deltaframe`);
  return r === undefined ? notMeasured("no codec bench result") : atLeast(r, 2, "the speed of protobufjs");
}

function targets(): { what: string; target: string; v: Verdict }[] {
  const rows: { what: string; target: string; v: Verdict }[] = [];
  const plain = sizes?.rows.find((r) => r.name === "deltaframe plain");
  const jsonDeflate = sizes?.rows.find((r) => r.name === "JSON per tick, context takeover");
  if (plain === undefined || jsonDeflate === undefined) {
    rows.push({
      what: "wire bytes per tick, reference workload, batched per 100 ms",
      target: "≤ 10 B; 4× smaller than JSON + per-connection deflate",
      v: notMeasured("no size result; see the bandwidth table"),
    });
  } else {
    const smaller = jsonDeflate.bytesPerTick / plain.bytesPerTick;
    const met = plain.bytesPerTick <= 10 && smaller >= 4;
    rows.push({
      what: "wire bytes per tick, reference workload, batched per 100 ms",
      target: "≤ 10 B; 4× smaller than JSON + per-connection deflate",
      v: {
        measured: `${plain.bytesPerTick.toFixed(2)} B/tick, ${fmtRatio(smaller)} smaller than JSON + deflate (${jsonDeflate.bytesPerTick.toFixed(1)} B) — server session output, uncompressed; asserted figures: bandwidth table`,
        verdict: met
          ? "met"
          : `not yet (${[
              plain.bytesPerTick > 10 ? `${factor(plain.bytesPerTick / 10)}× over 10 B` : "",
              smaller < 4 ? `needs ≤ ${(jsonDeflate.bytesPerTick / 4).toFixed(1)} B for 4×` : "",
            ]
              .filter((x) => x !== "")
              .join("; ")})`,
      },
    });
  }
  rows.push({
    what: "encode a small update frame",
    target: "≥ 2× protobufjs",
    v: speedTarget("update-encode"),
  });
  rows.push({
    what: "decode a small update frame",
    target: "≥ 2× protobufjs",
    v: speedTarget("update-decode"),
  });
  rows.push({
    what: "update frame bytes",
    target: "identical to protobuf-es",
    v: { measured: "identical (test/bench/codec-bytes.test.ts)", verdict: "met" },
  });
  const diff = costRatio("tick-diff/deltaframe", "tick-diff/protobuf-es-full");
  rows.push({
    what: "diff + encode of one market tick",
    target: "≤ 0.5× protobuf-es encode of the whole market",
    v:
      diff === undefined
        ? notMeasured("no delta bench result")
        : atMost(diff, 0.5, `${fmtRatio(diff)} the cost`),
  });
  if (e2e === undefined) {
    rows.push({
      what: "server CPU per delivered update, real ws on loopback",
      target: "≥ 15× better than ws.send(JSON.stringify(update))",
      v: notMeasured("no e2e result"),
    });
  } else {
    const ratio = (x: E2eResult) => x.baseline.cpuNanosPerDelivered / x.deltaframe.cpuNanosPerDelivered;
    const more = e2eMore.map((x) => `${fmtRatio(ratio(x))} with ${x.clients}`).join(", ");
    rows.push({
      what: "server CPU per delivered update, real ws on loopback",
      target: "≥ 15× better than ws.send(JSON.stringify(update))",
      v: atLeast(
        ratio(e2e),
        15,
        `(whole stack ${fmtInt(e2e.deltaframe.cpuNanosPerDelivered)} ns vs JSON ${fmtInt(e2e.baseline.cpuNanosPerDelivered)} ns per delivered update, ${e2e.clients} clients — the verdict's count${more === "" ? "" : `; ${more} clients`})`,
      ),
    });
  }
  // One more subscriber: (65 subscribers − 1 subscriber) / 64, each sharing the batch the first one encoded.
  const fan1 = medianOf("fanout/deltaframe-1");
  const fan65 = medianOf("fanout/deltaframe-65");
  const slice = medianOf("fanout/slice");
  const own = costRatio("fanout/own-framing", "fanout/slice");
  const perSubscriber = fan1 === undefined || fan65 === undefined ? undefined : (fan65 - fan1) / 64;
  rows.push({
    what: "fan-out: one more subscriber to an encoded batch",
    target: "≤ 2× a copy of its bytes",
    v:
      perSubscriber === undefined || slice === undefined
        ? notMeasured("no fan-out bench result")
        : atMost(
            perSubscriber / slice,
            2,
            `${fmtRatio(perSubscriber / slice)} a copy (${fmtTime(perSubscriber)} per subscriber in lockstep, from (fanout/deltaframe-65 − fanout/deltaframe-1) / 64; a session framing for itself: ${own === undefined ? "not measured" : fmtRatio(own)})`,
          ),
  });
  if (memory === undefined || memory.idleSessionBytes === null) {
    rows.push({
      what: "memory per idle session",
      target: "≤ 4 KB",
      v: notMeasured(memory?.sessionNote ?? "no memory result"),
    });
  } else {
    rows.push({
      what: "memory per idle session",
      target: "≤ 4 KB",
      v: atMost(
        memory.idleSessionBytes,
        4096,
        `${fmtBytes(memory.idleSessionBytes)} after the handshake${memory.idleSubscribedBytes === null ? "" : `; ${fmtBytes(memory.idleSubscribedBytes)} subscribed to 200 keys`}`,
        "B",
      ),
    });
  }
  const slow = memory?.slowConsumer ?? [];
  const few = slow.filter((s) => s.keys === Math.min(...slow.map((x) => x.keys)));
  const many = slow.find((s) => s.keys === Math.max(...slow.map((x) => x.keys)));
  if (few.length >= 2 && many !== undefined && many.keys > few[0]!.keys) {
    const a = few[0]!;
    const a2 = few[few.length - 1]!;
    const byUpdates = a2.bytesPerSession / a.bytesPerSession;
    const byKeys = many.bytesPerSession / a.bytesPerSession;
    const keyFactor = many.keys / a.keys;
    const ok = byUpdates <= 1.2 && byKeys <= 2 * keyFactor;
    rows.push({
      what: "slow consumer memory",
      target: "O(keys)",
      v: {
        measured: `${fmtRatio(byUpdates)} for ${fmtRatio(a2.updates / a.updates)} the updates; ${fmtRatio(byKeys)} for ${fmtRatio(keyFactor)} the keys (${fmtBytes(a.bytesPerSession)} at ${a.keys} keys)`,
        verdict: ok ? "met" : "not yet (grows with updates or faster than keys)",
      },
    });
  } else {
    rows.push({
      what: "slow consumer memory",
      target: "O(keys)",
      v: notMeasured(memory?.sessionNote ?? "no memory result"),
    });
  }
  const perMessage = (name: string): number | undefined => {
    const m = medianOf(name);
    return m === undefined ? undefined : (m * 1e6) / (GROUPS.window?.perIteration ?? 1);
  };
  const send = perMessage("window/send-window");
  const receive = perMessage("window/receive-window");
  if (send === undefined || receive === undefined) {
    rows.push({
      what: "sans-IO window bookkeeping",
      target: "≤ 50 ns per message",
      v: notMeasured("no session bench result"),
    });
  } else {
    const context = [
      ["empty loop", perMessage("window/empty-loop")],
      ["whole ServerSession publish path", perMessage("window/server")],
    ]
      .filter((x): x is [string, number] => x[1] !== undefined)
      .map(([label, ns]) => `${label} ${ns.toFixed(1)} ns`)
      .join("; ");
    rows.push({
      what: "sans-IO window bookkeeping",
      target: "≤ 50 ns per message",
      v: atMost(
        Math.max(send, receive),
        50,
        `SendWindow ${send.toFixed(1)} ns, ReceiveWindow ${receive.toFixed(1)} ns per message (${context})`,
        "ns",
      ),
    });
  }
  return rows;
}

// ---------- tables ----------

function groupTable(name: string, info: GroupInfo): string[] {
  const members = [...cases.values()].filter((c) => c.group === name);
  if (members.length === 0) return [];
  const base = cases.get(info.baseline);
  const per = info.perIteration ?? 1;
  const unit = info.unit ?? "op";
  const out = [`#### \`${name}\`: ${info.title}`, ""];
  const perCol = per > 1 ? ` median per ${unit} |` : "";
  out.push(`| case | ops/s | mean | median |${perCol} × baseline (median time) | ± rme | samples |`);
  out.push(`|---|---:|---:|---:|${per > 1 ? "---:|" : ""}---:|---:|---:|`);
  for (const c of members) {
    const ratio =
      base === undefined ? "—" : c.name === base.name ? "1× (baseline)" : fmtRatio(c.mean / base.mean);
    const perCell = per > 1 ? ` ${fmtTime(c.median / per)} |` : "";
    out.push(
      `| ${c.name} | ${fmtInt(c.hz)} | ${fmtTime(c.mean)} | ${fmtTime(c.median)} |${perCell} ${ratio} | ${c.rme.toFixed(1)} % | ${fmtInt(c.sampleCount)} |`,
    );
  }
  out.push("");
  return out;
}

function sectionTables(section: string): string[] {
  const out: string[] = [];
  for (const [name, info] of Object.entries(GROUPS))
    if (info.section === section) out.push(...groupTable(name, info));
  return out;
}

function sizesTable(): string[] {
  if (sizes === undefined) return ["_No compression size result (scripts/bench-sizes.ts)._", ""];
  const ref = sizes.rows.find((r) => r.name === sizes.reference);
  const out = [
    `#### Compressed size: ${fmtInt(sizes.ticks)} ticks in ${fmtInt(sizes.batches)} batches of 100 ms (deterministic)`,
    "",
    "| way | B/tick | B/message | × reference | note |",
    "|---|---:|---:|---:|---|",
  ];
  for (const r of sizes.rows) {
    const ratio =
      ref === undefined ? "—" : r === ref ? "1× (reference)" : fmtRatio(r.bytesPerTick / ref.bytesPerTick);
    out.push(
      `| ${r.name} | ${r.bytesPerTick.toFixed(2)} | ${r.bytesPerMessage.toFixed(1)} | ${ratio} | ${r.note} |`,
    );
  }
  out.push("");
  return out;
}

function memoryTables(): string[] {
  if (memory === undefined) return ["_No memory result (scripts/bench-memory.ts)._", ""];
  const out = [
    `#### Memory (\`node --expose-gc\`, ${fmtInt(memory.sessions)} sessions, ${fmtInt(memory.contexts)} deflate contexts)`,
    "",
    "| what | per item | note |",
    "|---|---:|---|",
    `| per-connection deflate context (context takeover, the reference) | ${fmtBytes(memory.deflateContextBytes.rss)} RSS (${fmtBytes(memory.deflateContextBytes.heapAndExternal)} heap + external) | zlib deflateRaw stream, default windowBits 15 / memLevel 8, after one message; zlib's own buffers show in RSS only |`,
  ];
  if (memory.idleSessionBytes !== null) {
    out.push(
      `| idle session, handshake done, no subscription | ${fmtBytes(memory.idleSessionBytes)} | retained heap per ServerSession |`,
    );
    if (memory.idleSubscribedBytes !== null) {
      out.push(
        `| idle session subscribed to the 200-key stream, synced | ${fmtBytes(memory.idleSubscribedBytes)} | key ids and held versions per key |`,
      );
    }
  } else {
    out.push(`| idle session | — | ${memory.sessionNote} |`);
  }
  for (const s of memory.slowConsumer) {
    out.push(
      `| slow consumer, ${s.keys} keys, ${fmtInt(s.updates)} updates without acks | ${fmtBytes(s.bytesPerSession)} | retained heap per session |`,
    );
  }
  out.push("", `_${memory.sessionNote}._`, "");
  return out;
}

function e2eTable(): string[] {
  if (e2e === undefined) return ["_No end-to-end result (scripts/bench-e2e.ts)._", ""];
  const out = [...e2eRunTable(e2e)];
  if (e2eMore.length > 0) {
    out.push(
      "The same with more clients, for context (DESIGN §7 fixes no client count; the verdict uses 4): the work done once per update is shared by more deliveries.",
      "",
    );
    for (const more of e2eMore)
      out.push(...e2eRunTable(more).filter((line) => !line.startsWith("Server CPU is")));
  }
  return out;
}

function e2eRunTable(e2e: E2eResult): string[] {
  const out = [
    `#### Server CPU per delivered update over \`ws\` on loopback: ${e2e.clients} clients, ${fmtInt(e2e.updates)} updates`,
    "",
    "| side | what it does | server CPU | delivered | CPU per delivered update | × baseline | payload B/update | messages |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of [e2e.baseline, ...(e2e.others ?? []), e2e.deltaframe]) {
    const ratio =
      s === e2e.baseline
        ? "1× (baseline)"
        : fmtRatio(s.cpuNanosPerDelivered / e2e.baseline.cpuNanosPerDelivered);
    out.push(
      `| ${s.name} | ${s.description} | ${(s.cpuMicros / 1000).toFixed(0)} ms | ${fmtInt(s.delivered)} | ${fmtInt(s.cpuNanosPerDelivered)} ns | ${ratio} | ${(s.payloadBytes / s.delivered).toFixed(1)} | ${fmtInt(s.messages)} |`,
    );
  }
  out.push("", e2e.note, "");
  return out;
}

function environment(): string {
  const meta = readJson<BenchMeta>("bench/results/meta.json");
  if (meta === undefined) {
    return "Measured on an unrecorded machine (no bench/results/meta.json): run `npm run bench`.";
  }
  return `Measured ${meta.time.slice(0, 16).replace("T", " ")} UTC at commit ${meta.commit}, Node ${meta.node}, ${meta.cpu}, with \`npm run bench\`. Timings move between runs (see ± rme; the machine may be shared); compare the ratios, which come from one run and use median times (robust to pauses of a shared machine).`;
}

function region(): string {
  const lines: string[] = [
    BEGIN,
    "<!-- Generated by scripts/perf-table.ts from bench/results/*.json: do not edit by hand, run `npm run bench`. -->",
    "",
    environment(),
    "",
    "### Targets (DESIGN §7)",
    "",
    "| what | target | measured | verdict |",
    "|---|---|---|---|",
  ];
  for (const t of targets()) lines.push(`| ${t.what} | ${t.target} | ${t.v.measured} | ${t.v.verdict} |`);
  lines.push("");
  const sections: [string, () => string[]][] = [
    ["Codec", () => sectionTables("Codec")],
    ["Delta", () => sectionTables("Delta")],
    ["Compression", () => [...sectionTables("Compression"), ...sizesTable()]],
    ["Session", () => [...sectionTables("Session"), ...memoryTables()]],
    ["Fan-out", () => sectionTables("Fan-out")],
    ["End to end", () => e2eTable()],
  ];
  for (const [title, body] of sections) {
    const content = body();
    lines.push(`### ${title}`, "");
    lines.push(...(content.length > 0 ? content : ["_Not measured in this run._", ""]));
  }
  if (existsSync(ANALYSIS)) lines.push(readFileSync(ANALYSIS, "utf8").trim(), "");
  lines.push(END);
  return lines.join("\n");
}

const generated = region();
if (check) {
  console.log(generated);
} else {
  const doc = existsSync(DOC)
    ? readFileSync(DOC, "utf8")
    : "# Performance\n\nHow fast deltaframe is, measured against baselines in the same run (DESIGN §7).\n\n## Benchmarks\n\n";
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + generated + doc.slice(end + END.length)
      : `${doc.trimEnd()}\n\n${generated}\n`;
  writeFileSync(DOC, next);
  console.log(`wrote ${DOC} (${cases.size} bench cases)`);
}
