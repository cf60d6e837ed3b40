import type { components } from "./schema.js";

type Schemas = components["schemas"];

/** A verified delivery, typed by its kind. */
export type WebhookEvent = { webhookId: string } & (
  | ({ kind: "order" } & Schemas["WebhookMessage"])
  | ({ kind: "cancellation_job" } & Schemas["JobWebhookMessage"])
  | ({ kind: "partner_settings" } & Schemas["SettingsWebhookMessage"])
);

/** A delivery refused by `verifyWebhook`: answer it 4xx and do not act on it. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

export interface VerifyWebhookOptions {
  /** The endpoint's secrets (`whsec_…`): during a rotation's overlap give both, and a delivery signed with either passes. */
  secrets: string[];
  /** The delivery's headers: a `Headers`, or an object of them (Node's `req.headers`). */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The body as it arrived, before any parsing. */
  body: string | Uint8Array;
  /** How far `webhook-timestamp` may be from now, either way (default 300 s). */
  toleranceSeconds?: number;
  /** Now, in ms since the epoch (default `Date.now()`). */
  now?: number;
}

/**
 * Checks a delivery as Standard Webhooks says, then reads it: `webhook-signature` must hold a `v1,` HMAC-SHA256 of
 * `webhook-id.webhook-timestamp.body` under one of the secrets, and `webhook-timestamp` must be within the tolerance of
 * now, so a captured delivery cannot be replayed later. Dedupe on `webhookId`: delivery is at least once. Uses Web
 * Crypto: Node ≥ 20 and browsers.
 */
export async function verifyWebhook(options: VerifyWebhookOptions): Promise<WebhookEvent> {
  const header = (name: string): string | undefined => {
    if (options.headers instanceof Headers) {
      return options.headers.get(name) ?? undefined;
    }
    const entry = Object.entries(options.headers).find(([key]) => key.toLowerCase() === name)?.[1];
    return Array.isArray(entry) ? entry.join(" ") : entry;
  };
  const id = header("webhook-id");
  const timestamp = header("webhook-timestamp");
  const signatures = header("webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("The delivery lacks webhook-id, webhook-timestamp or webhook-signature.");
  }
  if (!/^\d+$/.test(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not a number of seconds.");
  }
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs((options.now ?? Date.now()) / 1000 - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is outside the tolerance of ${tolerance} s from now.`);
  }

  const body = typeof options.body === "string" ? new TextEncoder().encode(options.body) : options.body;
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const given = signatures.split(" ").filter((s) => s.startsWith("v1,")).map((s) => s.slice(3));
  for (const secret of options.secrets) {
    const key = await globalThis.crypto.subtle.importKey("raw", fromBase64(secret.replace(/^whsec_/, "")), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    for (const signature of given) {
      // crypto.subtle.verify compares in constant time.
      if (await globalThis.crypto.subtle.verify("HMAC", key, fromBase64(signature), signed)) {
        return read(id, new TextDecoder().decode(body));
      }
    }
  }
  throw new WebhookVerificationError("No webhook-signature matches a secret: the body or a header was changed, or the secret is not this endpoint's.");
}

function read(webhookId: string, body: string): WebhookEvent {
  let message: { type?: unknown };
  try {
    message = JSON.parse(body) as { type?: unknown };
  } catch {
    throw new WebhookVerificationError("The signed body is not a webhook message.");
  }
  const type = String(message.type);
  const kind = type.startsWith("cancellation_job.") ? "cancellation_job" : type.startsWith("partner.") ? "partner_settings" : "order";
  return { webhookId, kind, ...message } as WebhookEvent;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}
