/**
 * Two endpoints over a simulated link with a simulated clock and a step cap.
 * The link delivers whole transport messages in order per direction after
 * `latencyMs`; it can drop the connection (in-flight messages lost) and
 * reconnect with resume. A `tap` may rewrite or drop messages in flight.
 */
import {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  type InMemoryRetainedLog,
  InMemoryTokenStore,
  type KeyedSource,
  type PublishItem,
  type ServerEvent,
  ServerSession,
  type ServerSessionOptions,
} from "deltaframe/session";
import { HmacTokenSigner, seededBytes, TestReplica, TestSource } from "./helpers.js";

/** Options of {@link SessionPair}. */
export interface PairOptions {
  server: Partial<ServerSessionOptions>;
  client: Partial<ClientSessionOptions>;
  /** Streams served: name → source. Default one stream "s" with a {@link TestSource}. */
  sources: Map<string, KeyedSource>;
  /** Accept every hello at once. Default true. */
  autoAccept: boolean;
  /** One-way delay in ms. Default 0. */
  latencyMs: number;
  /** Most steps one `run` may take. Default 100,000. */
  stepCap: number;
  /** Start time. Default 1,000,000. */
  now: number;
  /** Offer resume (HMAC signer + in-memory token store). Default true. */
  resume: boolean;
  /** Retained log the application appends every published item to (replay on resume). Default none. */
  log: InMemoryRetainedLog | undefined;
}

type Dir = "c2s" | "s2c";

/** A server and a client session joined by a simulated link. */
export class SessionPair {
  now: number;
  server!: ServerSession;
  client!: ClientSession;
  readonly replica = new TestReplica();
  readonly sources: Map<string, KeyedSource>;
  serverEvents: ServerEvent[] = [];
  clientEvents: ClientEvent[] = [];
  /** All client events across connections. */
  readonly allClientEvents: ClientEvent[] = [];
  /** Every message carried, per direction (this connection). */
  wire: Record<Dir, Uint8Array[]> = { c2s: [], s2c: [] };
  /** When true the client application stops polling events (a stalled consumer). */
  stalled = false;
  /** Rewrites (or drops: undefined) a message in flight. */
  tap: ((dir: Dir, bytes: Uint8Array) => Uint8Array | undefined) | undefined;
  readonly tokens = new InMemoryTokenStore();
  readonly signer = new HmacTokenSigner(1, new Map([[1, new Uint8Array(32).fill(7)]]));
  readonly opts: PairOptions;
  connections = 0;
  private link: Record<Dir, Array<{ at: number; bytes: Uint8Array }>> = { c2s: [], s2c: [] };
  private steps = 0;

  constructor(options: Partial<PairOptions> = {}) {
    this.opts = {
      server: options.server ?? {},
      client: options.client ?? {},
      sources: options.sources ?? new Map([["s", new TestSource()]]),
      autoAccept: options.autoAccept ?? true,
      latencyMs: options.latencyMs ?? 0,
      stepCap: options.stepCap ?? 100_000,
      now: options.now ?? 1_000_000,
      resume: options.resume ?? true,
      log: options.log,
    };
    this.now = this.opts.now;
    this.sources = this.opts.sources;
    this.open(undefined);
  }

  /** The default stream's source. */
  get source(): TestSource {
    return this.sources.get("s") as TestSource;
  }

  /** Creates a fresh server and client (the client resuming `resume`) and connects. */
  open(resume: ClientSessionOptions["resume"], clientOverrides: Partial<ClientSessionOptions> = {}): void {
    if (this.connections > 0) {
      // The application processes what the old connection already delivered before it lets it go.
      for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) {
        this.clientEvents.push(e);
        this.allClientEvents.push(e);
        this.replica.apply(e);
      }
    }
    this.connections++;
    this.dropped = false;
    this.server = new ServerSession(
      {
        streams: (name) => this.sources.get(name),
        randomBytes: seededBytes(this.connections),
        ...(this.opts.resume ? { signer: this.signer, tokens: this.tokens } : {}),
        ...(this.opts.log ? { log: this.opts.log } : {}),
        ...this.opts.server,
      },
      this.now,
    );
    this.client = new ClientSession({ ...this.opts.client, ...clientOverrides, resume });
    this.serverEvents = [];
    this.clientEvents = [];
    this.link = { c2s: [], s2c: [] };
    this.wire = { c2s: [], s2c: [] };
    this.client.connect(this.now);
  }

  /** Drops the connection (in-flight messages lost) and reconnects, resuming. */
  reconnect(clientOverrides: Partial<ClientSessionOptions> = {}): void {
    const resume = this.client.resumeState();
    this.dropped = false;
    this.open(resume, clientOverrides);
  }

  /** Drops the connection: in-flight messages are lost and nothing more is carried until `reconnect`. */
  drop(): void {
    this.dropped = true;
    this.link = { c2s: [], s2c: [] };
  }

  /** True between `drop` and `reconnect`. */
  dropped = false;

  /** Publishes items the source already applied, then runs the link. */
  publish(items: PublishItem[], stream = "s"): void {
    for (const item of items) this.opts.log?.append(stream, item);
    if (!this.dropped) this.server.publish(stream, items, this.now);
    this.run();
  }

  /** Moves the clock forward by `ms`, firing due timeouts, running the link in between. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      this.run();
      const next = this.nextTime();
      if (next === undefined || next > end) break;
      this.now = Math.max(this.now, next);
      this.fireTimeouts();
      this.run();
    }
    this.now = end;
    this.fireTimeouts();
    this.run();
  }

  private nextTime(): number | undefined {
    let t: number | undefined;
    for (const d of [
      this.server.pollTimeout(),
      this.client.pollTimeout(),
      this.link.c2s[0]?.at,
      this.link.s2c[0]?.at,
    ]) {
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  private fireTimeouts(): void {
    const st = this.server.pollTimeout();
    if (st !== undefined && st <= this.now) this.server.handleTimeout(this.now);
    const ct = this.client.pollTimeout();
    if (ct !== undefined && ct <= this.now) this.client.handleTimeout(this.now);
  }

  /** Runs until nothing moves at the current time. Throws after the step cap. */
  run(): void {
    for (;;) {
      if (++this.steps > this.opts.stepCap) throw new Error(`step cap ${this.opts.stepCap} reached`);
      if (!this.step()) return;
    }
  }

  /** One round; returns whether anything happened. */
  step(): boolean {
    let moved = false;
    for (let m = this.client.pollTransmit(); m !== undefined; m = this.client.pollTransmit()) {
      this.send("c2s", m);
      moved = true;
    }
    for (let m = this.server.pollTransmit(); m !== undefined; m = this.server.pollTransmit()) {
      this.send("s2c", m);
      moved = true;
    }
    for (const dir of ["c2s", "s2c"] as const) {
      if (this.dropped) break;
      const q = this.link[dir];
      while (q.length > 0 && q[0]!.at <= this.now) {
        const { bytes } = q.shift()!;
        if (dir === "c2s") this.server.handleMessage(bytes, this.now);
        else this.client.handleMessage(bytes, this.now);
        moved = true;
      }
    }
    for (let e = this.server.pollEvent(); e !== undefined; e = this.server.pollEvent()) {
      this.serverEvents.push(e);
      if (e.type === "authenticate" && this.opts.autoAccept) this.server.accept({}, this.now);
      moved = true;
    }
    if (!this.stalled) {
      for (let e = this.client.pollEvent(); e !== undefined; e = this.client.pollEvent()) {
        this.clientEvents.push(e);
        this.allClientEvents.push(e);
        this.replica.apply(e);
        moved = true;
      }
    }
    return moved;
  }

  private send(dir: Dir, bytes: Uint8Array): void {
    if (this.dropped) return;
    const b = this.tap ? this.tap(dir, bytes) : bytes;
    if (b === undefined) return;
    this.wire[dir].push(b);
    this.link[dir].push({ at: this.now + this.opts.latencyMs, bytes: b });
  }

  /** Injects raw bytes as if the peer had sent them. */
  inject(dir: Dir, bytes: Uint8Array): void {
    if (dir === "c2s") this.server.handleMessage(bytes, this.now);
    else this.client.handleMessage(bytes, this.now);
    this.run();
  }

  /** Client events of one type, this connection. */
  clientOf<T extends ClientEvent["type"]>(type: T): Array<Extract<ClientEvent, { type: T }>> {
    return this.clientEvents.filter((e): e is Extract<ClientEvent, { type: T }> => e.type === type);
  }

  /** Server events of one type, this connection. */
  serverOf<T extends ServerEvent["type"]>(type: T): Array<Extract<ServerEvent, { type: T }>> {
    return this.serverEvents.filter((e): e is Extract<ServerEvent, { type: T }> => e.type === type);
  }
}
