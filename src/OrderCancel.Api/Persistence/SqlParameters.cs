using Npgsql;

namespace OrderCancel.Api.Persistence;

/// <summary>Parameters for the hand-written statements (positional, typed by their CLR value).</summary>
internal static class SqlParameters
{
    public static NpgsqlParameter<T> Value<T>(T value) => new() { TypedValue = value };

    /// <summary>A value that may be absent: null is sent as SQL NULL, typed by the statement's cast (<c>$5::timestamptz IS NULL</c>).</summary>
    public static NpgsqlParameter OrNull<T>(T value) => value is null ? new NpgsqlParameter { Value = DBNull.Value } : Value(value);
}
