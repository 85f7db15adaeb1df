/**
 * The hub layer: fan-out of one keyed source to many server sessions, with
 * change bodies encoded once and shared (DESIGN §3).
 *
 * @module
 */

export { createHmacSigner, MIN_HMAC_KEY_BYTES } from "./hmac-signer.js";
export { Hub, type HubMetrics, type HubOptions, type HubSubscriber } from "./hub.js";
