using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace OrderCancel.Api.Http;

/// <summary>
/// Behind a load balancer, the client is the address it forwards in <c>X-Forwarded-For</c> (and the scheme in
/// <c>X-Forwarded-Proto</c>), but only from the proxies named in <c>ForwardedHeaders:KnownProxies</c> (addresses) or
/// <c>ForwardedHeaders:KnownNetworks</c> (CIDR ranges); from anyone else the headers are ignored, so a client cannot
/// choose the address its rate limit is counted by. Nothing is trusted when neither is set, not even loopback
/// (ASP.NET Core's default), and only the last hop is read: what a client wrote before the proxy's entry is ignored.
/// </summary>
public static class ForwardedClients
{
    public static IServiceCollection AddForwardedClients(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            options.ForwardLimit = 1;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var proxy in Entries(configuration, "KnownProxies"))
            {
                options.KnownProxies.Add(IPAddress.TryParse(proxy, out var address)
                    ? address
                    : throw new InvalidOperationException($"ForwardedHeaders:KnownProxies: '{proxy}' is not an IP address."));
            }

            foreach (var network in Entries(configuration, "KnownNetworks"))
            {
                options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var range)
                    ? range
                    : throw new InvalidOperationException($"ForwardedHeaders:KnownNetworks: '{network}' is not a CIDR range such as 10.0.0.0/8."));
            }
        });
        return services;
    }

    /// <summary>Reads forwarded headers when a proxy is configured; otherwise the connection's own address is the client.</summary>
    public static void UseForwardedClients(this WebApplication app)
    {
        if (Entries(app.Configuration, "KnownProxies").Length + Entries(app.Configuration, "KnownNetworks").Length > 0)
        {
            app.UseForwardedHeaders();
        }
    }

    /// <summary>A list in configuration (<c>ForwardedHeaders__KnownProxies__0=…</c>), or one value separated by commas.</summary>
    private static string[] Entries(IConfiguration configuration, string name)
    {
        var section = configuration.GetSection($"ForwardedHeaders:{name}");
        IEnumerable<string?> values = section.Value is { } single ? [single] : section.GetChildren().Select(child => child.Value);
        return [.. values.SelectMany(value => (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
    }
}
