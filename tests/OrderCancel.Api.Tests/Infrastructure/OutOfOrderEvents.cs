using Npgsql;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>
/// Writers that insert a partner's event straight into the table and hold their transaction open a random while before
/// committing, so that events commit in another order than their sequence: what the events feed's snapshot bound is for.
/// </summary>
public static class OutOfOrderEvents
{
    /// <summary><paramref name="writers"/> such writers on connections of their own, each until <paramref name="stop"/>.</summary>
    public static IEnumerable<Task> WriteUntil(string connectionString, Guid partnerId, int writers, CancellationToken stop) =>
        Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
        {
            var random = new Random(writer);
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                await using var transaction = await connection.BeginTransactionAsync();
                await using (var insert = new NpgsqlCommand(
                    """
                    INSERT INTO order_events (id, partner_id, order_id, type, occurred_at, actor, data)
                    VALUES (gen_random_uuid(), $1, NULL, 'partner.settings_changed', now(), 'test', '{}');
                    """,
                    connection,
                    transaction)
                { Parameters = { new() { Value = partnerId } } })
                {
                    await insert.ExecuteNonQueryAsync();
                }

                await Task.Delay(random.Next(0, 60));
                await transaction.CommitAsync();
            }
        }));
}
