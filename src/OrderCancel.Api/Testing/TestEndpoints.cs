using System.ComponentModel.DataAnnotations;
using System.Text.Json.Nodes;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using OrderCancel.Api.Http;
using OrderCancel.Api.Orders;
using OrderCancel.Api.Partners;
using OrderCancel.Api.Persistence;
using OrderCancel.Api.Scheduling;
using OrderCancel.Domain;

namespace OrderCancel.Api.Testing;

/// <summary>Fires <c>order.cancelled</c> for QA, whatever the status but cancelled.</summary>
public sealed class TestCancelRequest : IOptionalBody
{
    /// <summary>Default <c>other</c>.</summary>
    [SchemaRef(OpenApiSchemas.ClientReason)]
    public CancellationReason? Reason { get; init; }
}

public sealed class TestCancelValidator : AbstractValidator<TestCancelRequest>
{
    public TestCancelValidator() => RuleFor(r => r.Reason).MustBeAClientReason();
}

/// <summary>Applies every scheduled change of the caller's orders due by <c>as_of</c>: time travel for QA.</summary>
public sealed class RunScheduledChangesRequest
{
    /// <example>2030-06-30T23:00:00Z</example>
    [Required]
    public DateTimeOffset? AsOf { get; init; }
}

public sealed class RunScheduledChangesValidator : AbstractValidator<RunScheduledChangesRequest>
{
    public RunScheduledChangesValidator() => RuleFor(r => r.AsOf).Required();
}

/// <summary><c>/v1/test/*</c>: test cancels and scheduled-change runs; 403 in Production (see <see cref="ProductionGuard"/>).</summary>
public static class TestEndpoints
{
    public static RouteGroupBuilder MapTestEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapApiGroup("/v1/test", "Testing", Callers.PartnerPolicy)
            .Refuses("test_endpoints_disabled")
            .DescribesPath("id", "The order's id, as POST /v1/orders or GET /v1/orders answered it.");

        group.MapPost("/orders/{id:long}/cancel", Cancel)
            .WithName("TestCancelOrder")
            .WithSummary("Cancel the whole order now to fire order.cancelled (test environments only)")
            .WithDescription("Works on any status but cancelled, paid orders included; the cancellation is marked test: true.")
            .ChangesOrder("order_already_cancelled")
            .WithRequestExamples(new RequestExample("qa", "Fire order.cancelled", JsonNode.Parse("""{ "reason": "other" }""")!));
        group.MapPost("/scheduled-changes/run", Run)
            .WithName("RunScheduledChanges")
            .WithSummary("Apply your orders' scheduled changes due by as_of (test environments only)")
            .WithDescription("Time travel for QA: applies now what the scheduler would apply by as_of, and answers the counts.")
            .WithRequestExamples(new RequestExample(
                "after_scheduled",
                "Apply what the scheduled examples scheduled",
                JsonNode.Parse($$"""{ "as_of": "{{OrderExamples.ScheduledDate}}T23:00:00Z" }""")!));
        return group;
    }

    public static Task<OrderChangeResults> Cancel(
        long id, JsonBody<TestCancelRequest> body, HttpContext http, OrdersDbContext db, TimeProvider clock, CancellationToken cancellation) =>
        OrderMutation.Run(http, db, clock, id, (order, now) => order.TestCancel(body.Value.Reason, now, http.User.Actor()), cancellation);

    public static async Task<Ok<SweepResult>> Run(
        JsonBody<RunScheduledChangesRequest> body, HttpContext http, ScheduledChangeRunner runner, CancellationToken cancellation) =>
        TypedResults.Ok(await runner.ApplyDueAsync(body.Value.AsOf!.Value, http.User.PartnerId(), cancellation));
}

/// <summary>In Production every <c>/v1/test/*</c> route answers 403 <c>test_endpoints_disabled</c> before it reads anything.</summary>
public static class ProductionGuard
{
    public static IApplicationBuilder UseTestEndpointGuard(this WebApplication app)
    {
        if (!app.Environment.IsProduction())
        {
            return app;
        }

        return app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/v1/test", StringComparison.OrdinalIgnoreCase))
            {
                var problem = Problems.Create("test_endpoints_disabled", "Test endpoints are disabled in the Production environment.");
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await TypedResults.Problem(problem).ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }
}
