namespace OrderCancel.Api.Http;

public static class RouteGroups
{
    /// <summary>
    /// A versioned group as every resource declares it: its tag, who may call it, the shared validation
    /// filter, and the 401/403 answers that authorization can give on any route.
    /// </summary>
    public static RouteGroupBuilder MapApiGroup(this IEndpointRouteBuilder app, string prefix, string tag, string policy) =>
        app.MapGroup(prefix)
            .WithTags(tag)
            .RequireAuthorization(policy)
            .AddEndpointFilterFactory(ValidationFilter.Create)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);
}
