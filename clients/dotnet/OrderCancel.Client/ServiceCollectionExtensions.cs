using Microsoft.Extensions.DependencyInjection;

namespace OrderCancel.Client;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="OrderCancelClient"/> as a typed client of <c>IHttpClientFactory</c>: its HttpClient has the
    /// API's address and key, and a <see cref="SafeRetryHandler"/> with <paramref name="configure"/>'s options in its
    /// pipeline; the factory pools and renews the connections. Add your own handlers to the returned builder.
    /// </summary>
    public static IHttpClientBuilder AddOrderCancelClient(this IServiceCollection services, string apiKey, Uri baseUri, Action<OrderCancelClientOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        ArgumentNullException.ThrowIfNull(baseUri);
        var options = new OrderCancelClientOptions();
        configure?.Invoke(options);
        return services
            .AddHttpClient<OrderCancelClient>(client => OrderCancelClient.Authorize(client, apiKey, baseUri))
            .AddHttpMessageHandler(() => new SafeRetryHandler(options));
    }
}
