/**
 * A client's failed ZMTP handshake, told to the user. A server that refuses a client (CURVE keys it does not
 * authorize, a wrong server key, no CURVE where the server requires it, or the reverse) never answers it:
 * without this, every request would wait for its deadline and fail as if the peer were slow.
 */
import { HandshakeFailedError } from "./errors.js";

/** The zeromq.js socket events that report a failed handshake. */
export const HANDSHAKE_FAILURES = ["handshake:error:protocol", "handshake:error:auth", "handshake:error:other"] as const;

/** One of {@link HANDSHAKE_FAILURES}. */
export type HandshakeFailure = (typeof HANDSHAKE_FAILURES)[number];

/**
 * The error for requests to `endpoint` after a failed handshake.
 * @param failure the event type
 * @param detail the event's error message (zeromq's words), if any
 * @param curve whether this client uses CURVE
 */
export function handshakeError(endpoint: string, failure: HandshakeFailure, detail: string | undefined, curve: boolean): HandshakeFailedError {
  const said = detail ? ` (${detail})` : "";
  const keysFix = "give every process the same cluster keys: `moe keys --out DIR`, then `--keys DIR` (or `curve: true` in the cluster file) on both sides";
  if (failure === "handshake:error:auth")
    return new HandshakeFailedError(`the server at ${endpoint} refused this client's CURVE key${said}`, {
      peer: endpoint,
      fix: "use the cluster's client.key, or add this client's public key to the server's keys directory under authorized/",
    });
  if (failure === "handshake:error:protocol")
    return new HandshakeFailedError(
      curve
        ? `the handshake with ${endpoint} failed${said}: the server does not speak CURVE, or is not a moe process`
        : `the handshake with ${endpoint} failed${said}: the server requires CURVE (cluster keys), or is not a moe process`,
      { peer: endpoint, fix: keysFix },
    );
  return new HandshakeFailedError(
    curve
      ? `the handshake with ${endpoint} broke off${said}: the server's public key is not the one this client was given, or the server does not use CURVE`
      : `the handshake with ${endpoint} broke off${said}: the server may require CURVE (cluster keys), or not be a moe process`,
    { peer: endpoint, fix: keysFix },
  );
}
