// Compiled by OpenApiLintTests against the types openapi-typescript generates from the served document
// (generated/ordercancel.d.ts): docs/api.md's TypeScript client command works, and its types are the contract's.
import type { components, paths } from "./generated/ordercancel";

type Order = components["schemas"]["OrderResponse"];
type Problem = components["schemas"]["Problem"];
type Created = paths["/v1/orders"]["post"]["responses"][201]["content"]["application/json"];

export const code: Problem["code"] = "order_already_paid";
// @ts-expect-error a code the service does not have is not a ProblemCode
export const unknown: Problem["code"] = "no_such_code";
export const payment = (order: Order): string | null => order.payment?.method ?? null;
export const total = (order: Created): number => order.total;
export const status: Order["status"] = "cancelled";
