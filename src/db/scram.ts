/**
 * Owns the client side of password authentication: SCRAM-SHA-256 (RFC 5802
 * and 7677, without channel binding, as PostgreSQL's default
 * `password_encryption`) and PostgreSQL's MD5 password hash.
 *
 * Pure but for the random client nonce.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

const encoder = new TextEncoder();

/** One SCRAM exchange: the messages to send and the check of the server. */
export interface ScramClient {
  /** client-first-message. */
  readonly first: string;
  /**
   * client-final-message for the server-first-message.
   * @throws Error when the server's nonce or parameters are invalid
   */
  final(serverFirst: string): string;
  /**
   * Checks the server-final-message's signature.
   * @throws Error when it does not prove the server knows the password
   */
  verify(serverFinal: string): void;
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

function hmac(key: Uint8Array, text: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(text).digest());
}

/** Starts a SCRAM-SHA-256 exchange for `password`. */
export function scramClient(
  password: string,
  options: { nonce?: string; user?: string } = {},
): ScramClient {
  // PostgreSQL takes the user from the startup message and ignores this one
  const nonce = options.nonce ?? randomBytes(18).toString("base64");
  const firstBare = `n=${options.user ?? "*"},r=${nonce}`;
  let expectedServerSignature: string | null = null;
  return {
    first: `n,,${firstBare}`,
    final(serverFirst: string): string {
      const a = attributes(serverFirst);
      const serverNonce = a.get("r");
      const salt = a.get("s");
      const iterations = Number(a.get("i"));
      if (
        serverNonce === undefined || !serverNonce.startsWith(nonce) ||
        salt === undefined || !Number.isInteger(iterations) || iterations < 1
      ) {
        throw new Error("SCRAM: invalid server-first-message");
      }
      const salted = new Uint8Array(
        pbkdf2Sync(
          encoder.encode(password),
          Buffer.from(salt, "base64"),
          iterations,
          32,
          "sha256",
        ),
      );
      const clientKey = hmac(salted, "Client Key");
      const storedKey = new Uint8Array(
        createHash("sha256").update(clientKey).digest(),
      );
      const finalBare = `c=biws,r=${serverNonce}`;
      const authMessage = `${firstBare},${serverFirst},${finalBare}`;
      const signature = hmac(storedKey, authMessage);
      const proof = clientKey.map((b, i) => b ^ signature[i]!);
      const serverKey = hmac(salted, "Server Key");
      expectedServerSignature = Buffer.from(hmac(serverKey, authMessage))
        .toString("base64");
      return `${finalBare},p=${Buffer.from(proof).toString("base64")}`;
    },
    verify(serverFinal: string): void {
      const v = attributes(serverFinal).get("v");
      if (v === undefined || v !== expectedServerSignature) {
        throw new Error("SCRAM: the server's signature does not match");
      }
    },
  };
}

/** PostgreSQL's MD5 password answer: `md5` + md5(md5(password + user) + salt). */
export function md5Password(
  user: string,
  password: string,
  salt: Uint8Array,
): string {
  const inner = createHash("md5").update(password + user).digest("hex");
  const outer = createHash("md5").update(inner).update(salt).digest("hex");
  return `md5${outer}`;
}
