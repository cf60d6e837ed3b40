using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// A database a test reads what the service wrote from: an in-memory service's (<see cref="ApiFactory"/>), or one that
/// only service processes run on (a failover formation's).
/// </summary>
public interface IOrdersDatabase
{
    Task<T> WithDbAsync<T>(Func<OrdersDbContext, Task<T>> query);
}
