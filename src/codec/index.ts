/**
 * The codec layer (see docs/protocol.md and DESIGN §3).
 *
 * @module
 */
export {};
