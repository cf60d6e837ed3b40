using System.Collections.Concurrent;

namespace OrderCancel.Api.Telemetry;

/// <summary>
/// One logger per category, made once. Serilog's factory builds a new logger (with caches of its own) on every
/// <see cref="CreateLogger"/>, and ASP.NET Core asks on every request: for each authentication handler it creates and
/// each typed result it writes. Microsoft's own factory caches the same way.
/// </summary>
public sealed class CachedLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registered last: Serilog's, which is made by a factory delegate.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.Last(service => service.ServiceType == typeof(ILoggerFactory));
        var make = registered.ImplementationFactory
            ?? throw new InvalidOperationException("The last ILoggerFactory registered is not made by a factory delegate.");
        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(provider => new CachedLoggerFactory((ILoggerFactory)make(provider)));
    }

    public ILogger CreateLogger(string categoryName) =>
        _loggers.GetOrAdd(categoryName, static (name, factory) => factory.CreateLogger(name), inner);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();
}
