/** How a client retries; the defaults suit a partner's back end. */
export interface RetryOptions {
  /** Tries after the first (default 4); 0 turns retrying off. */
  maxRetries?: number;
  /** How long one call may take with its retries, in ms (default 60 000): no retry starts that would wait past it. */
  deadlineMs?: number;
  /** The first backoff in ms (default 500); each later one doubles, at most `maxBackoffMs` (default 8 000), with jitter. */
  firstBackoffMs?: number;
  maxBackoffMs?: number;
}

export const VERSION = "1.0.0";
export const USER_AGENT = `ordercancel-client-ts/${VERSION}`;
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/**
 * A `fetch` with the client's HTTP behaviour:
 * - every POST and DELETE gets an `Idempotency-Key` (unless it has one), made once per call: each retry of the call
 *   sends the same key, so a call retried after its answer was lost applies once;
 * - a call is retried only where that is safe: a lost connection, 408, 429 and 503 (after `Retry-After`), 502 and 504
 *   (a gateway that lost the answer), and 409 `idempotency_key_in_use`. Never a 400, 401, 403, 404, 412 or 422;
 * - backoff doubles with jitter, bounded by `maxRetries` and `deadlineMs`; past either, the last answer (or the lost
 *   connection's error) is the call's;
 * - a `User-Agent` naming the library and its version (where the platform lets a script set it).
 */
export function safeFetch(options: RetryOptions = {}, inner: typeof fetch = globalThis.fetch): (input: Request) => Promise<Response> {
  const maxRetries = options.maxRetries ?? 4;
  const deadlineMs = options.deadlineMs ?? 60_000;
  const first = options.firstBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 8_000;
  const backoff = (retry: number) => {
    const cap = Math.min(first * 2 ** Math.min(retry, 20), max);
    return cap / 2 + (Math.random() * cap) / 2;
  };

  return async (input: Request) => {
    const headers = new Headers(input.headers);
    headers.set("User-Agent", USER_AGENT);
    if ((input.method === "POST" || input.method === "DELETE") && !headers.has(IDEMPOTENCY_KEY_HEADER)) {
      headers.set(IDEMPOTENCY_KEY_HEADER, globalThis.crypto.randomUUID());
    }
    // Sent again on a retry: the same bytes.
    const body = input.body === null ? undefined : await input.arrayBuffer();
    const started = Date.now();
    for (let retry = 0; ; retry++) {
      let response: Response | undefined;
      let lost: unknown;
      try {
        response = await inner(new Request(input.url, { method: input.method, headers, body, signal: input.signal }));
      } catch (error) {
        if (input.signal?.aborted || !(error instanceof TypeError)) {
          throw error;
        }
        lost = error;
      }

      const wait = response === undefined ? backoff(retry) : await retryAfter(response, retry, backoff);
      if (wait === undefined || retry >= maxRetries || Date.now() - started + wait > deadlineMs) {
        if (response === undefined) {
          throw lost;
        }
        return response;
      }
      await response?.body?.cancel();
      await sleep(wait, input.signal);
    }
  };
}

async function retryAfter(response: Response, retry: number, backoff: (retry: number) => number): Promise<number | undefined> {
  switch (response.status) {
    case 408:
    case 502:
    case 504:
      return backoff(retry);
    case 429:
    case 503: {
      const header = response.headers.get("Retry-After");
      if (header === null) {
        return backoff(retry);
      }
      // Seconds, or an HTTP date; anything else is read as no header at all.
      const seconds = Number(header);
      const date = Date.parse(header);
      return Number.isFinite(seconds) ? Math.max(seconds, 0) * 1000 : Number.isFinite(date) ? Math.max(date - Date.now(), 0) : backoff(retry);
    }
    case 409: {
      const text = await response.clone().text();
      return text.includes('"idempotency_key_in_use"') ? backoff(retry) : undefined;
    }
    default:
      return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
