using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace OrderCancel.Api.Persistence;

/// <summary>
/// A transaction for one unit of work that either begins its own or joins the one already open on the context:
/// a request sent with an <c>Idempotency-Key</c> runs inside the transaction that will also keep its answer
/// (<see cref="Http.Idempotency"/>), so the change and the answer commit together. Only the owner commits.
/// </summary>
public sealed class RequestTransaction : IAsyncDisposable
{
    private readonly IDbContextTransaction? _owned;

    private RequestTransaction(IDbContextTransaction? owned) => _owned = owned;

    public static async Task<RequestTransaction> BeginOrJoinAsync(DatabaseFacade database, CancellationToken cancellation) =>
        new(database.CurrentTransaction is null ? await database.BeginTransactionAsync(cancellation) : null);

    /// <summary>Commits a transaction this unit began; a joined one commits with its owner.</summary>
    public Task CommitAsync(CancellationToken cancellation) => _owned?.CommitAsync(cancellation) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => _owned?.DisposeAsync() ?? ValueTask.CompletedTask;
}
