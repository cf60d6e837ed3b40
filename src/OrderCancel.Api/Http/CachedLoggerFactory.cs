using System.Collections.Concurrent;

namespace OrderCancel.Api.Http;

/// <summary>
/// One logger per category, made once. Serilog's factory builds a new logger (with caches of its own) on every
/// <see cref="CreateLogger"/>, and ASP.NET Core asks on every request: for each authentication handler it creates and
/// each typed result it writes. Microsoft's own factory caches the same way.
/// </summary>
public sealed class CachedLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registered last (Serilog's).</summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.Last(service => service.ServiceType == typeof(ILoggerFactory));
        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(provider => new CachedLoggerFactory(registered.ImplementationFactory is { } make
            ? (ILoggerFactory)make(provider)
            : (ILoggerFactory)ActivatorUtilities.CreateInstance(provider, registered.ImplementationType!)));
    }

    public ILogger CreateLogger(string categoryName) =>
        _loggers.TryGetValue(categoryName, out var logger) ? logger : _loggers.GetOrAdd(categoryName, inner.CreateLogger);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();
}
