namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>The most of something seen at once, kept from several threads (requests answered, batches running).</summary>
public static class Peak
{
    /// <summary>Raises <paramref name="most"/> to <paramref name="seen"/> when it is higher, whoever else is raising it.</summary>
    public static void Raise(ref int most, int seen)
    {
        var was = Volatile.Read(ref most);
        while (seen > was)
        {
            var actual = Interlocked.CompareExchange(ref most, seen, was);
            if (actual == was)
            {
                return;
            }

            was = actual;
        }
    }
}
