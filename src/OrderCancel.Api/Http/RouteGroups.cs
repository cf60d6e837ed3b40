namespace OrderCancel.Api.Http;

public static class RouteGroups
{
    /// <summary>
    /// A versioned group as every resource declares it: its tag, who may call it, the shared validation
    /// filter, and the refusals any authenticated route can give: 401/403 from authorization, 429 from the rate
    /// limit, 500 for a fault, 503 while the database cannot be reached.
    /// </summary>
    public static RouteGroupBuilder MapApiGroup(this IEndpointRouteBuilder app, string prefix, string tag, string policy) =>
        app.MapGroup(prefix)
            .WithTags(tag)
            .RequireAuthorization(policy)
            .AddEndpointFilterFactory(ValidationFilter.Create)
            .Refuses("unauthenticated", "forbidden", "rate_limited", "internal_error", "unavailable");
}
