using System.Reflection;
using System.Text.Json;
using FluentValidation;

namespace OrderCancel.Api.Http;

/// <summary>
/// The one endpoint filter that answers a refused body with its problem, then runs FluentValidation over a
/// route's body and query arguments, answering 422 <c>validation_failed</c> with the failures listed by property path.
/// </summary>
public static class ValidationFilter
{
    /// <summary>Global FluentValidation settings; call once at start-up, before any validator is built.</summary>
    public static void UseRequestPropertyNames()
    {
        // One message per property: the first rule that fails says what to fix.
        ValidatorOptions.Global.DefaultRuleLevelCascadeMode = CascadeMode.Stop;

        // Failures name properties as the request does: lines[0].quantity, customer.email.
        ValidatorOptions.Global.PropertyNameResolver = (_, member, _) =>
            member is null ? null : JsonNamingPolicy.SnakeCaseLower.ConvertName(member.Name);
        ValidatorOptions.Global.DisplayNameResolver = (_, member, _) =>
            member is null ? null : JsonNamingPolicy.SnakeCaseLower.ConvertName(member.Name);
    }

    public static EndpointFilterDelegate Create(EndpointFilterFactoryContext context, EndpointFilterDelegate next)
    {
        var services = context.ApplicationServices;
        var isService = services.GetRequiredService<IServiceProviderIsService>();
        var checks = context.MethodInfo.GetParameters()
            .Select((parameter, index) => (Index: index, IsBody: IsJsonBody(parameter), Validator: typeof(IValidator<>).MakeGenericType(TargetType(parameter))))
            .Select(p => (p.Index, p.IsBody, Validator: isService.IsService(p.Validator) ? p.Validator : null))
            .Where(p => p.IsBody || p.Validator is not null)
            .ToArray();

        if (checks.Length == 0)
        {
            return next;
        }

        return async invocation =>
        {
            foreach (var (index, _, validatorType) in checks)
            {
                var argument = invocation.Arguments[index];
                if (argument is IJsonBody { Refusal: { } refusal })
                {
                    return TypedResults.Problem(refusal);
                }

                var value = argument is IJsonBody body ? body.Value : argument;
                if (value is null || validatorType is null)
                {
                    continue;
                }

                var validator = (IValidator)invocation.HttpContext.RequestServices.GetRequiredService(validatorType);
                var context = new ValidationContext<object>(value);
                context.RootContextData[Cursors.RequestKey] = invocation.HttpContext;
                var result = await validator.ValidateAsync(context, invocation.HttpContext.RequestAborted);
                if (!result.IsValid)
                {
                    var errors = result.Errors
                        .GroupBy(failure => failure.PropertyName, StringComparer.Ordinal)
                        .ToDictionary(group => group.Key, group => group.Select(f => f.ErrorMessage).Distinct().ToArray());
                    return Problems.Validation(errors);
                }
            }

            return await next(invocation);
        };
    }

    private static bool IsJsonBody(ParameterInfo parameter) =>
        parameter.ParameterType.IsGenericType && parameter.ParameterType.GetGenericTypeDefinition() == typeof(JsonBody<>);

    private static Type TargetType(ParameterInfo parameter) =>
        IsJsonBody(parameter)
            ? parameter.ParameterType.GetGenericArguments()[0]
            : parameter.ParameterType;
}
