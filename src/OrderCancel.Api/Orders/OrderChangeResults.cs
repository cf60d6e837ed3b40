// The full answers come last: where two share a status, the OpenAPI document shows the last one.
global using OrderChangeResults = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Ok<OrderCancel.Api.Orders.MinimalChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Accepted<OrderCancel.Api.Orders.MinimalChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Ok<OrderCancel.Api.Orders.OrderChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Accepted<OrderCancel.Api.Orders.OrderChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;
