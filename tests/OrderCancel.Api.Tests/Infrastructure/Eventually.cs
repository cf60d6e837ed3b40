namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>Waits for something another thread or process makes true: a condition, not a sleep and a hope.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string> failure, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure());
            await Task.Delay(10);
        }
    }

    public static Task TrueAsync(Func<bool> condition, Func<string> failure, int seconds = 30) =>
        TrueAsync(() => Task.FromResult(condition()), failure, seconds);
}
