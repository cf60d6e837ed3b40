import createClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";
import { IDEMPOTENCY_KEY_HEADER, safeFetch, type RetryOptions } from "./retry.js";

export type { components, operations, paths } from "./schema.js";
export { safeFetch, USER_AGENT, VERSION, IDEMPOTENCY_KEY_HEADER, type RetryOptions } from "./retry.js";
export { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions, type WebhookEvent } from "./webhooks.js";

type Schemas = components["schemas"];
export type ProblemCode = Schemas["ProblemCode"];
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

/** What one call may carry besides its body. */
export interface RequestOptions {
  /**
   * The call's `Idempotency-Key` (POST and DELETE). Unset, the client makes one per call and every retry of that call
   * reuses it; set one of your own to make a call safe to repeat across restarts of your process.
   */
  idempotencyKey?: string;
  /** The version the change expects (`If-Match`): refused with 412 `version_mismatch` if the resource moved on. */
  ifMatch?: number;
  signal?: AbortSignal;
}

/**
 * The service refused a call: an RFC 9457 problem. Branch on `code` (stable); quote `traceId` when reporting one. A
 * 422's `errors` maps each request field to what is wrong with it.
 */
export class ProblemError extends Error {
  override name = "ProblemError";
  readonly status: number;
  /** The problem's code; undefined when the answer was not a problem (a gateway's page, say). */
  readonly code: ProblemCode | undefined;
  readonly traceId: string | undefined;
  readonly errors: Record<string, string[]>;

  constructor(readonly problem: Partial<Schemas["Problem"]>, status: number) {
    super(`${status} ${problem.code ?? "problem"}: ${problem.detail ?? problem.title ?? ""}`);
    this.status = problem.status ?? status;
    this.code = problem.code;
    this.traceId = problem.trace_id ?? undefined;
    this.errors = (problem.errors ?? {}) as Record<string, string[]>;
  }
}

export interface OrderCancelClientOptions extends RetryOptions {
  apiKey: string;
  /** The API's address, e.g. `https://api.ordercancel.dev`. */
  baseUrl: string;
  /** The `fetch` underneath the retries (default the platform's). */
  fetch?: typeof fetch;
}

/**
 * The OrderCancel API, one method per operation (the operation's id, lower camel case), typed by openapi-typescript
 * from the API's OpenAPI document and sent with openapi-fetch. Every call is retried where that is safe, with one
 * `Idempotency-Key` across its retries (`safeFetch`); a refusal is a `ProblemError`; lists are async iterables that
 * follow `next_cursor`.
 */
export class OrderCancelClient {
  readonly #api: Client<paths>;

  constructor(options: OrderCancelClientOptions) {
    this.#api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/$/, ""),
      headers: { Authorization: `Bearer ${options.apiKey}` },
      fetch: safeFetch(options, options.fetch),
    });
  }

  /** The openapi-fetch client underneath, for what this surface does not say (its calls get the same retries). */
  get raw(): Client<paths> {
    return this.#api;
  }

  // Orders

  createOrder(order: Schemas["CreateOrderRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/orders", { body: order, ...init(options) }));
  }

  getOrder(id: number, options?: RequestOptions) {
    return call(this.#api.GET("/v1/orders/{id}", { params: { path: { id } }, ...init(options) }));
  }

  /** Your orders, newest first, every page of them; `query` filters them (status, kind, customer_ref, …, a cursor to start from). */
  listOrders(query: Query<"ListOrders"> = {}, options?: RequestOptions) {
    return pages((cursor) => this.#api.GET("/v1/orders", { params: { query: { ...query, cursor: cursor ?? query.cursor } }, ...init(options) }));
  }

  payOrder(id: number, payment: Schemas["PayOrderRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/orders/{id}/payments", { params: { path: { id } }, body: payment, ...init(options) }));
  }

  listOrderEvents(id: number, options?: RequestOptions) {
    return call(this.#api.GET("/v1/orders/{id}/events", { params: { path: { id } }, ...init(options) }));
  }

  /** Cancels in full (no items), in part (items), now or on a date (`effective_date`). */
  cancelOrder(id: number, cancellation: Schemas["CancelOrderRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/orders/{id}/cancel", { params: { path: { id } }, body: cancellation, ...init(options) }));
  }

  previewCancellation(id: number, cancellation: Schemas["CancelOrderRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/orders/{id}/cancel/preview", { params: { path: { id } }, body: cancellation, ...init(options) }));
  }

  unscheduleCancellation(id: number, options?: RequestOptions) {
    return call(this.#api.DELETE("/v1/orders/{id}/scheduled-cancellation", { params: { path: { id } }, ...init(options) }));
  }

  reactivateOrder(id: number, reactivation: Schemas["ReactivateOrderRequest"] = {}, options?: RequestOptions) {
    return call(this.#api.POST("/v1/orders/{id}/reactivate", { params: { path: { id } }, body: reactivation, ...init(options) }));
  }

  unscheduleReactivation(id: number, options?: RequestOptions) {
    return call(this.#api.DELETE("/v1/orders/{id}/scheduled-reactivation", { params: { path: { id } }, ...init(options) }));
  }

  // Bulk cancellation jobs

  createCancellationJob(job: Schemas["CreateCancellationJobRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/cancellation-jobs", { body: job, ...init(options) }));
  }

  getCancellationJob(id: string, options?: RequestOptions) {
    return call(this.#api.GET("/v1/cancellation-jobs/{id}", { params: { path: { id } }, ...init(options) }));
  }

  listCancellationJobs(query: Query<"ListCancellationJobs"> = {}, options?: RequestOptions) {
    return pages((cursor) => this.#api.GET("/v1/cancellation-jobs", { params: { query: { ...query, cursor: cursor ?? query.cursor } }, ...init(options) }));
  }

  listCancellationJobResults(id: string, query: Query<"ListCancellationJobResults"> = {}, options?: RequestOptions) {
    return pages((cursor) =>
      this.#api.GET("/v1/cancellation-jobs/{id}/results", { params: { path: { id }, query: { ...query, cursor: cursor ?? query.cursor } }, ...init(options) }),
    );
  }

  stopCancellationJob(id: string, options?: RequestOptions) {
    return call(this.#api.POST("/v1/cancellation-jobs/{id}/stop", { params: { path: { id } }, ...init(options) }));
  }

  // Events

  /** The events feed from `query.cursor` (or the oldest kept) until caught up; to follow it, poll `listEventsPage` from each page's `resume_cursor`. */
  listEvents(query: Query<"ListEvents"> = {}, options?: RequestOptions) {
    return pages((cursor) => this.#api.GET("/v1/events", { params: { query: { ...query, cursor: cursor ?? query.cursor } }, ...init(options) }));
  }

  listEventsPage(query: Query<"ListEvents"> = {}, options?: RequestOptions) {
    return call(this.#api.GET("/v1/events", { params: { query }, ...init(options) }));
  }

  getEvent(id: string, options?: RequestOptions) {
    return call(this.#api.GET("/v1/events/{id}", { params: { path: { id } }, ...init(options) }));
  }

  // Settings

  getSettings(options?: RequestOptions) {
    return call(this.#api.GET("/v1/settings", { ...init(options) }));
  }

  patchSettings(patch: Schemas["SettingsPatch"], options?: RequestOptions) {
    return call(this.#api.PATCH("/v1/settings", { body: patch, ...init(options) }));
  }

  // Webhooks

  /** Registers an endpoint; the answer's `secret` is shown once: give it to `verifyWebhook`. */
  createWebhook(webhook: Schemas["CreateWebhookRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/webhooks", { body: webhook, ...init(options) }));
  }

  listWebhooks(options?: RequestOptions) {
    return call(this.#api.GET("/v1/webhooks", { ...init(options) }));
  }

  deleteWebhook(id: string, options?: RequestOptions) {
    return call(this.#api.DELETE("/v1/webhooks/{id}", { params: { path: { id } }, ...init(options) }));
  }

  listDeliveries(id: string, options?: RequestOptions) {
    return call(this.#api.GET("/v1/webhooks/{id}/deliveries", { params: { path: { id } }, ...init(options) }));
  }

  rotateWebhookSecret(id: string, options?: RequestOptions) {
    return call(this.#api.POST("/v1/webhooks/{id}/rotate-secret", { params: { path: { id } }, ...init(options) }));
  }

  retryDelivery(id: string, deliveryId: string, options?: RequestOptions) {
    return call(this.#api.POST("/v1/webhooks/{id}/deliveries/{deliveryId}/retry", { params: { path: { id, deliveryId } }, ...init(options) }));
  }

  recoverWebhook(id: string, recovery: Schemas["RecoverWebhookRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/webhooks/{id}/recover", { params: { path: { id } }, body: recovery, ...init(options) }));
  }

  enableWebhook(id: string, options?: RequestOptions) {
    return call(this.#api.POST("/v1/webhooks/{id}/enable", { params: { path: { id } }, ...init(options) }));
  }

  // Test endpoints (not in Production)

  testCancelOrder(id: number, cancellation: Schemas["TestCancelRequest"] = {}, options?: RequestOptions) {
    return call(this.#api.POST("/v1/test/orders/{id}/cancel", { params: { path: { id } }, body: cancellation, ...init(options) }));
  }

  runScheduledChanges(run: Schemas["RunScheduledChangesRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/test/scheduled-changes/run", { body: run, ...init(options) }));
  }

  // Admin (the admin key)

  createPartner(partner: Schemas["CreatePartnerRequest"], options?: RequestOptions) {
    return call(this.#api.POST("/v1/admin/partners", { body: partner, ...init(options) }));
  }

  issueKey(id: string, key: Schemas["IssueKeyRequest"] = {}, options?: RequestOptions) {
    return call(this.#api.POST("/v1/admin/partners/{id}/keys", { params: { path: { id } }, body: key, ...init(options) }));
  }

  revokeKey(keyId: string, options?: RequestOptions) {
    return call(this.#api.DELETE("/v1/admin/keys/{keyId}", { params: { path: { keyId } }, ...init(options) }));
  }

  getPartnerSettings(id: string, options?: RequestOptions) {
    return call(this.#api.GET("/v1/admin/partners/{id}/settings", { params: { path: { id } }, ...init(options) }));
  }

  patchPartnerSettings(id: string, patch: Schemas["SettingsPatch"], options?: RequestOptions) {
    return call(this.#api.PATCH("/v1/admin/partners/{id}/settings", { params: { path: { id } }, body: patch, ...init(options) }));
  }
}

function init(options: RequestOptions | undefined): { headers: Record<string, string>; signal?: AbortSignal } {
  const headers: Record<string, string> = {};
  if (options?.idempotencyKey !== undefined) {
    headers[IDEMPOTENCY_KEY_HEADER] = options.idempotencyKey;
  }
  if (options?.ifMatch !== undefined) {
    headers["If-Match"] = `"${options.ifMatch}"`;
  }
  return options?.signal === undefined ? { headers } : { headers, signal: options.signal };
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

async function call<T>(answer: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await answer;
  if (!response.ok) {
    const problem = typeof error === "object" && error !== null ? (error as Partial<Schemas["Problem"]>) : { title: String(error ?? response.statusText) };
    throw new ProblemError(problem, response.status);
  }
  return data as T;
}

async function* pages<T>(page: (cursor: string | undefined) => Promise<Answer<{ data: T[]; next_cursor?: string | null }>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const { data, next_cursor } = await call(page(cursor));
    yield* data;
    cursor = next_cursor ?? undefined;
  } while (cursor !== undefined);
}
