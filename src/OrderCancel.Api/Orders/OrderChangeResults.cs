global using OrderChangeResults = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Ok<OrderCancel.Api.Orders.OrderChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Accepted<OrderCancel.Api.Orders.OrderChangeResponse>,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;
