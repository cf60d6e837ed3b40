using Microsoft.Net.Http.Headers;

namespace OrderCancel.Api.Http;

/// <summary>ETag, If-Match and Prefer handling shared by every route that carries an order.</summary>
public static class Preconditions
{
    public static string ETagOf(int version) => $"\"{version}\"";

    public static void SetETag(this HttpResponse response, int version) =>
        response.Headers.ETag = ETagOf(version);

    /// <summary>True when there is no <c>If-Match</c>, or it names the current version (or <c>*</c>).</summary>
    public static bool IfMatchAllows(this HttpRequest request, int version)
    {
        var header = request.Headers.IfMatch;
        if (header.Count == 0)
        {
            return true;
        }

        if (!EntityTagHeaderValue.TryParseList(header, out var tags))
        {
            return false;
        }

        var current = new EntityTagHeaderValue(ETagOf(version));
        return tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(current, useStrongComparison: false));
    }

    /// <summary>True when the client asked for <c>Prefer: return=minimal</c>; says so in <c>Preference-Applied</c>.</summary>
    public static bool PrefersMinimal(this HttpContext context)
    {
        var minimal = context.Request.Headers["Prefer"]
            .SelectMany(value => (value ?? "").Split(','))
            .Any(preference => preference.Trim().Equals("return=minimal", StringComparison.OrdinalIgnoreCase));
        if (minimal)
        {
            context.Response.Headers["Preference-Applied"] = "return=minimal";
        }

        return minimal;
    }
}
