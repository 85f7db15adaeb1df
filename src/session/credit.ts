/**
 * The credit window of docs/protocol.md §8, as two small pure objects that
 * the sessions use and that can be measured alone (after h2's window manager).
 *
 * Credit is cumulative: the receiver has consumed `messages` messages and
 * `bytes` payload bytes since the session started and lets the sender reach
 * `consumed + window` in total. Invariants:
 *
 * - the sender never sends past the newest grant it has heard of, except one
 *   item larger than the whole byte window when nothing is outstanding (bytes
 *   sent = bytes acknowledged), so a big value cannot deadlock;
 * - the receiver checks the same rule against the largest grant it ever made
 *   (acks in flight only ever make the sender's view smaller);
 * - acks are cumulative: stale or duplicate ones change nothing, one above what
 *   was sent is a violation.
 *
 * Counts are numbers (exact to 2^53); the wire carries them as uint64.
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";

/** The sender's side of the window: what it sent and what the receiver granted. */
export class SendWindow {
  /** Messages sent, cumulative. */
  sentMessages = 0;
  /** Payload bytes sent, cumulative. */
  sentBytes = 0;
  /** Messages the receiver acknowledged as consumed, cumulative. */
  ackedMessages = 0;
  /** Payload bytes the receiver acknowledged as consumed, cumulative. */
  ackedBytes = 0;

  /**
   * Creates a window of `windowMessages` messages and `windowBytes` bytes;
   * acks may change it up to the maxima (default unlimited).
   */
  constructor(
    public windowMessages: number,
    public windowBytes: number,
    private readonly maxWindowMessages = Number.POSITIVE_INFINITY,
    private readonly maxWindowBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Whether one more item of `bytes` payload bytes may go now (`messages` 0: bytes only, e.g. a snapshot entry). */
  canSend(bytes: number, messages = 1): boolean {
    if (messages > 0 && this.sentMessages + messages > this.ackedMessages + this.windowMessages) return false;
    if (this.sentBytes + bytes <= this.ackedBytes + this.windowBytes) return true;
    return this.sentBytes === this.ackedBytes;
  }

  /**
   * Whether `messages` items of `bytes` payload bytes in total may all go
   * now, one after the other: as {@link canSend} for one item; for more, they
   * must fit the window together, since the exception for one oversized item
   * can only ever let the first of them through.
   */
  canSendAll(bytes: number, messages: number): boolean {
    if (messages <= 1) return this.canSend(bytes, messages);
    return (
      this.sentMessages + messages <= this.ackedMessages + this.windowMessages &&
      this.sentBytes + bytes <= this.ackedBytes + this.windowBytes
    );
  }

  /** Records an item sent (call after {@link canSend} said yes). */
  charge(bytes: number, messages = 1): void {
    this.sentMessages += messages;
    this.sentBytes += bytes;
  }

  /**
   * Applies an ack. Throws DF_ERR_ACK_UNSENT (remote) when it acknowledges
   * more than was sent; a stale or duplicate ack changes nothing; a non-zero
   * window replaces the current one, clamped to the maximum.
   */
  ack(messages: bigint, bytes: bigint, windowMessages = 0, windowBytes = 0): void {
    if (messages > BigInt(this.sentMessages) || bytes > BigInt(this.sentBytes)) {
      throw new DeltaframeError("DF_ERR_ACK_UNSENT", "cannot handle ack: acknowledges data never sent", {
        messages,
        bytes,
        sentMessages: this.sentMessages,
        sentBytes: this.sentBytes,
      });
    }
    const m = Number(messages);
    const b = Number(bytes);
    if (m > this.ackedMessages) this.ackedMessages = m;
    if (b > this.ackedBytes) this.ackedBytes = b;
    if (windowMessages !== 0) this.windowMessages = Math.min(windowMessages, this.maxWindowMessages);
    if (windowBytes !== 0) this.windowBytes = Math.min(windowBytes, this.maxWindowBytes);
  }
}

/** The receiver's side: what arrived, what the application consumed, what was granted. */
export class ReceiveWindow {
  /** Messages received, cumulative. */
  recvMessages = 0;
  /** Payload bytes received, cumulative. */
  recvBytes = 0;
  /** Messages consumed by the application, cumulative. */
  consumedMessages = 0;
  /** Payload bytes consumed, cumulative. */
  consumedBytes = 0;
  /** Values of the last ack sent. */
  ackedMessages = 0;
  ackedBytes = 0;
  /** The largest totals ever granted. */
  limitMessages: number;
  limitBytes: number;

  /** Creates a window granting `windowMessages` messages and `windowBytes` bytes. */
  constructor(
    public windowMessages: number,
    public windowBytes: number,
  ) {
    this.limitMessages = windowMessages;
    this.limitBytes = windowBytes;
  }

  /** Counts one received item; throws DF_ERR_CREDIT_EXCEEDED (remote) when it is beyond the grant. */
  receive(bytes: number, messages = 1): void {
    if (this.recvMessages + messages > this.limitMessages) {
      throw new DeltaframeError("DF_ERR_CREDIT_EXCEEDED", "cannot accept data: more messages than granted", {
        received: this.recvMessages + messages,
        granted: this.limitMessages,
      });
    }
    if (this.recvBytes + bytes > this.limitBytes && this.recvBytes !== this.ackedBytes) {
      throw new DeltaframeError("DF_ERR_CREDIT_EXCEEDED", "cannot accept data: more bytes than granted", {
        received: this.recvBytes + bytes,
        granted: this.limitBytes,
      });
    }
    this.recvMessages += messages;
    this.recvBytes += bytes;
  }

  /** Records consumption by the application. */
  consume(bytes: number, messages: number): void {
    this.consumedMessages += messages;
    this.consumedBytes += bytes;
  }

  /** Whether consumption is not yet acknowledged. */
  get unacked(): boolean {
    return this.consumedMessages !== this.ackedMessages || this.consumedBytes !== this.ackedBytes;
  }

  /** Whether an ack should go now: half a window (messages or bytes) consumed since the last one. */
  get ackDue(): boolean {
    return (
      (this.consumedMessages - this.ackedMessages) * 2 >= this.windowMessages ||
      (this.consumedBytes - this.ackedBytes) * 2 >= this.windowBytes
    );
  }

  /** Marks the current consumption acknowledged and returns the ack's values; the grant grows accordingly. */
  ack(): { messages: number; bytes: number } {
    this.ackedMessages = this.consumedMessages;
    this.ackedBytes = this.consumedBytes;
    this.limitMessages = Math.max(this.limitMessages, this.consumedMessages + this.windowMessages);
    this.limitBytes = Math.max(this.limitBytes, this.consumedBytes + this.windowBytes);
    return { messages: this.consumedMessages, bytes: this.consumedBytes };
  }
}
