// The TypeScript library against the service as a process on a real PostgreSQL, which TypeScriptClientTests (the C#
// suite) starts and describes in the environment: ORDERCANCEL_URL and ORDERCANCEL_KEY (a partner of its own),
// ORDERCANCEL_LIMITED_URL (a second process on the same database, 3 requests a second per partner) and
// ORDERCANCEL_CONTROL_URL (POST /cut and /restore take the database away from the first process and give it back).
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage } from "node:http";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { test } from "node:test";
import {
  OrderCancelClient,
  ProblemError,
  safeFetch,
  verifyWebhook,
  WebhookVerificationError,
  type components,
} from "../src/index.js";

const url = required("ORDERCANCEL_URL");
const key = required("ORDERCANCEL_KEY");
const client = new OrderCancelClient({ apiKey: key, baseUrl: url });

function required(name: string): string {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run these tests through ./scripts/test.sh (TypeScriptClientTests).`);
  return value;
}

function newOrder(reference: string): components["schemas"]["CreateOrderRequest"] {
  return {
    kind: "one_time",
    currency: "EUR",
    reference,
    customer: { ref: "cus_ts", email: "ts@example.com", first_name: "Type", last_name: "Script" },
    lines: [
      { sku: "TEE-M", name: "T-shirt M", quantity: 3, unit_price: 19.9 },
      { sku: "MUG", name: "Mug", quantity: 2, unit_price: 9.5 },
    ],
    shipping_cost: 4.9,
  };
}

const unique = () => `${Date.now()}-${Math.random().toString(36).slice(2)}`;

interface Attempt { request: Request; key: string | null; sentAt: number; answeredAt: number; status?: number; retryAfter?: number }

/** A client whose every attempt on the wire is recorded (a fetch under the library's retries). */
function recorded(baseUrl: string, maxRetries = 4): { client: OrderCancelClient; attempts: Attempt[] } {
  const attempts: Attempt[] = [];
  const wire: typeof fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const attempt: Attempt = { request, key: request.headers.get("Idempotency-Key"), sentAt: performance.now(), answeredAt: 0 };
    attempts.push(attempt);
    try {
      const response = await fetch(request);
      attempt.status = response.status;
      const retryAfter = response.headers.get("Retry-After");
      attempt.retryAfter = retryAfter === null ? undefined : Number(retryAfter) * 1000;
      return response;
    } finally {
      attempt.answeredAt = performance.now();
    }
  };
  return { client: new OrderCancelClient({ apiKey: key, baseUrl, fetch: wire, maxRetries }), attempts };
}

test("the docs' walk runs through the library", async () => {
  const first = await client.createOrder(newOrder(`walk-1-${unique()}`));
  const paid = await client.payOrder(first.id, { method: "card", amount: first.amount_due, reference: "pi_walk" });
  assert.equal(paid.order!.status, "paid");
  assert.deepEqual((await client.listOrderEvents(first.id)).data.map((e) => e.type), ["order.created", "order.paid"]);

  const second = await client.createOrder(newOrder(`walk-2-${unique()}`));
  const id = second.id;
  const partial = await client.cancelOrder(id, { reason: "customer_request", items: [{ line_id: second.lines[0]!.id, quantity: 1, reason: "out_of_stock" }] });
  assert.equal(partial.order!.lines[0]!.cancelled_quantity, 1);
  const preview = await client.previewCancellation(id, { reason: "customer_request" });
  assert.equal(preview.allowed, true);
  assert.equal(preview.amount_released, partial.order!.amount_due);

  const week = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
  const scheduled = await client.cancelOrder(id, { reason: "customer_request", effective_date: week });
  assert.equal(scheduled.order!.scheduled_cancellation?.effective_date, week);
  const unscheduled = await client.unscheduleCancellation(id);
  assert.equal(unscheduled.order!.scheduled_cancellation, null);

  const stale = await client.cancelOrder(id, { reason: "other", note: "Customer phoned in" }, { ifMatch: partial.order!.version }).catch((e: unknown) => e);
  assert.ok(stale instanceof ProblemError);
  assert.equal(stale.code, "version_mismatch");
  const full = await client.cancelOrder(id, { reason: "other", note: "Customer phoned in" }, { ifMatch: unscheduled.order!.version });
  assert.equal(full.order!.status, "cancelled");
  const reactivated = await client.reactivateOrder(id);
  assert.equal(reactivated.order!.status, "pending");
  assert.equal(reactivated.order!.total, partial.order!.total);

  const job = await client.createCancellationJob({ order_ids: [id, first.id], reason: "out_of_stock", dry_run: true });
  let done = job;
  for (let i = 0; i < 150 && (done.status === "queued" || done.status === "running"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    done = await client.getCancellationJob(job.id);
  }
  assert.equal(done.status, "completed");
  assert.equal(done.counts.cancelled, 1);
  assert.equal(done.counts.refused, 1);
  const results = [];
  for await (const result of client.listCancellationJobResults(job.id)) {
    results.push(result.order_id);
  }
  assert.deepEqual(results.sort((a, b) => a - b), [first.id, id].sort((a, b) => a - b));

  const settings = await client.patchSettings({ cancellation_window: "P14D" });
  assert.equal(settings.cancellation_window, "P14D");
  assert.equal((await client.getSettings()).cancellation_window, "P14D");
  assert.equal((await client.testCancelOrder(first.id)).order!.status, "cancelled");

  const events = [];
  for await (const event of client.listEvents({ limit: 3 })) {
    events.push(event);
  }
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);
  assert.deepEqual(
    events.filter((e) => e.order_id === id).map((e) => e.type),
    ["order.created", "order.partially_cancelled", "order.cancellation_scheduled", "order.cancellation_unscheduled", "order.cancelled", "order.reactivated"],
  );
  assert.ok(events.some((e) => e.type === "partner.settings_changed"));
});

test("a create whose answer is lost after the service committed it is retried with its key and exists once", async () => {
  const target = new URL(url);
  let dropNext = false;
  let dropped = 0;
  const proxy = createServer((client: Socket) => {
    const service = connect(Number(target.port), target.hostname);
    client.pipe(service);
    service.on("data", (chunk: Buffer) => {
      if (dropNext) {
        dropNext = false;
        dropped++;
        client.destroy();
        service.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on("error", () => service.destroy());
    service.on("error", () => client.destroy());
    client.on("close", () => service.destroy());
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  try {
    const { client: viaProxy, attempts } = recorded(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
    const reference = `lost-${unique()}`;
    dropNext = true;
    const created = await viaProxy.createOrder(newOrder(reference));

    assert.equal(dropped, 1);
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0]!.status, undefined);
    assert.equal(attempts[1]!.status, 201);
    assert.ok(attempts[0]!.key);
    assert.match(attempts[0]!.request.headers.get("user-agent") ?? "", /^ordercancel-client-ts\/1\.0\.0$/);
    assert.equal(attempts[1]!.key, attempts[0]!.key);
    const found = [];
    for await (const order of client.listOrders({ reference })) {
      found.push(order.id);
    }
    assert.deepEqual(found, [created.id]);
  } finally {
    proxy.close();
  }
});

test("a 503 while the database is away is waited out as Retry-After says, then the call succeeds", async () => {
  const control = required("ORDERCANCEL_CONTROL_URL");
  const order = await client.createOrder(newOrder(`outage-${unique()}`));
  const { client: watched, attempts } = recorded(url);
  await fetch(`${control}/cut`, { method: "POST" });
  const reading = watched.getOrder(order.id);
  try {
    for (let i = 0; i < 100 && !attempts.some((a) => a.status === 503); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await fetch(`${control}/restore`, { method: "POST" });
  }
  const read = await reading;

  assert.equal(read.id, order.id);
  const refused = attempts.find((a) => a.status === 503);
  assert.ok(refused?.retryAfter, "no 503 with Retry-After while the database was away");
  const next = attempts[attempts.indexOf(refused) + 1]!;
  assert.ok(next.sentAt - refused.answeredAt >= refused.retryAfter - 50, `retried ${next.sentAt - refused.answeredAt} ms after a 503 with Retry-After ${refused.retryAfter} ms`);
  assert.equal(attempts.at(-1)!.status, 200);
});

test("a 429 is waited out as Retry-After says, and a 422 is not retried and surfaces its errors", async () => {
  // Up to four retries each for 12 callers at 3 a second, with room to spare on a slow machine.
  const { client: limited, attempts } = recorded(required("ORDERCANCEL_LIMITED_URL"), 8);
  await limited.getSettings();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  attempts.length = 0;
  // Twelve calls at once, four times the bucket: some are limited even if a busy machine spreads them over two
  // seconds. Each has a URL of its own, so that a retry can be told from another call.
  const answers = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
    const orders = [];
    for await (const order of limited.listOrders({ reference: `limited-${i}-${unique()}` })) {
      orders.push(order);
    }
    return orders;
  }));
  assert.ok(answers.every((orders) => orders.length === 0));
  const refused = attempts.filter((a) => a.status === 429);
  assert.ok(refused.length > 0, "no 429 from 12 calls at 3 a second");
  for (const one of refused) {
    const next = attempts.find((a) => a.request.url === one.request.url && a.sentAt > one.sentAt && a !== one);
    assert.ok(next && next.sentAt - one.answeredAt >= one.retryAfter! - 50, `retried too soon after a 429 with Retry-After ${one.retryAfter} ms`);
  }

  await new Promise((resolve) => setTimeout(resolve, 2000));
  attempts.length = 0;
  const order = newOrder(`invalid-${unique()}`);
  order.lines[0]!.quantity = 0;
  const invalid = await limited.createOrder(order).catch((e: unknown) => e);
  assert.ok(invalid instanceof ProblemError);
  assert.equal(invalid.status, 422);
  assert.equal(invalid.code, "validation_failed");
  assert.ok(invalid.errors["lines[0].quantity"]?.[0]);
  assert.ok(invalid.traceId);
  assert.equal(attempts.length, 1);
});

test("250 orders listed through the async iterable come each once", async () => {
  const customer = `cus_stream_${unique()}`;
  const created: number[] = [];
  for (let batch = 0; batch < 250; batch += 10) {
    created.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => {
      const order = newOrder(`stream-${customer}-${batch + i}`);
      order.customer.ref = customer;
      return client.createOrder(order).then((o) => o.id);
    }))));
  }
  const listed: number[] = [];
  for await (const order of client.listOrders({ customer_ref: customer, limit: 40 })) {
    listed.push(order.id);
  }
  assert.equal(listed.length, 250);
  assert.deepEqual([...listed].sort((a, b) => a - b), [...created].sort((a, b) => a - b));
});

test("a real delivery is verified, a tampered or old one is refused, and both secrets pass during a rotation", async () => {
  const deliveries: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const receiver = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  try {
    const webhook = await client.createWebhook({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ["order.created", "order.cancelled"] });
    const reference = `hooked-${unique()}`;
    const order = await client.createOrder(newOrder(reference));
    const delivery = await waitFor(() => deliveries[0]);
    const verified = await verifyWebhook({ secrets: [webhook.secret], headers: delivery.headers, body: delivery.body });
    assert.equal(verified.kind, "order");
    assert.equal(verified.type, "order.created");
    assert.equal(verified.kind === "order" ? verified.data.order.id : undefined, order.id);
    assert.equal(verified.webhookId, delivery.headers["webhook-id"]);

    const tampered = delivery.body.replace(reference, "hacked");
    assert.notEqual(tampered, delivery.body);
    await assert.rejects(verifyWebhook({ secrets: [webhook.secret], headers: delivery.headers, body: tampered }), WebhookVerificationError);
    const sentAt = Number(delivery.headers["webhook-timestamp"]) * 1000;
    await assert.rejects(verifyWebhook({ secrets: [webhook.secret], headers: delivery.headers, body: delivery.body, now: sentAt + 6 * 60_000 }), WebhookVerificationError);

    const rotated = await client.rotateWebhookSecret(webhook.id);
    await client.cancelOrder(order.id, { reason: "customer_request" });
    const afterRotation = await waitFor(() => deliveries[1]);
    assert.equal((await verifyWebhook({ secrets: [webhook.secret], headers: afterRotation.headers, body: afterRotation.body })).type, "order.cancelled");
    assert.equal((await verifyWebhook({ secrets: [rotated.secret], headers: afterRotation.headers, body: afterRotation.body })).type, "order.cancelled");
    await assert.rejects(verifyWebhook({ secrets: [rotated.secret], headers: delivery.headers, body: delivery.body }), WebhookVerificationError);
  } finally {
    receiver.close();
  }
});

test("every operation of the document is a method of the library", () => {
  const document = JSON.parse(readFileSync(new URL("../../../../openapi.json", import.meta.url), "utf8")) as { paths: Record<string, Record<string, { operationId?: string }>> };
  const operations = Object.values(document.paths).flatMap((path) => Object.values(path).flatMap((op) => (op.operationId ? [op.operationId] : [])));
  const methods = new Set(Object.getOwnPropertyNames(OrderCancelClient.prototype));
  assert.ok(operations.length > 30);
  assert.deepEqual(operations.filter((op) => !methods.has(op[0]!.toLowerCase() + op.slice(1))), []);
});

test("safeFetch never retries a refusal that would answer the same", async () => {
  let tries = 0;
  const refusing = safeFetch({}, async () => {
    tries++;
    return new Response('{"code":"order_already_paid"}', { status: 400 });
  });
  const answer = await refusing(new Request(`${url}/v1/orders/1/cancel`, { method: "POST", body: "{}" }));
  assert.equal(answer.status, 400);
  assert.equal(tries, 1);
});

test("safeFetch gives up at once on a Retry-After past its deadline, and reads a malformed one as none", async () => {
  let tries = 0;
  const farOff = safeFetch({ deadlineMs: 10_000 }, async () => {
    tries++;
    return new Response("", { status: 503, headers: { "Retry-After": "3600" } });
  });
  assert.equal((await farOff(new Request(`${url}/v1/settings`))).status, 503);
  assert.equal(tries, 1);

  tries = 0;
  const malformed = safeFetch({ maxRetries: 2, firstBackoffMs: 100 }, async () => {
    tries++;
    return new Response("", { status: tries < 3 ? 429 : 200, headers: { "Retry-After": "soon" } });
  });
  assert.equal((await malformed(new Request(`${url}/v1/settings`))).status, 200);
  assert.equal(tries, 3);
});

async function waitFor<T>(read: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = read();
    if (value !== undefined) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("It never came.");
}
