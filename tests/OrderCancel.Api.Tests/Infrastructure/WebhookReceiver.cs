using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrderCancel.Api.Tests.Infrastructure;

/// <summary>A real HTTP receiver on loopback that records every delivery and answers as the test says.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private int _answering;
    private int _mostAnsweringAtOnce;

    private WebhookReceiver(Func<ReceivedWebhook, int, Answer> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapPost("/hook", async context =>
        {
            var answering = Interlocked.Increment(ref _answering);
            Peak.Raise(ref _mostAnsweringAtOnce, answering);
            try
            {
                await AnswerAsync(context, answer);
            }
            finally
            {
                Interlocked.Decrement(ref _answering);
            }
        });
    }

    /// <summary>The most deliveries this receiver was answering at one moment.</summary>
    public int MostAtOnce => Volatile.Read(ref _mostAnsweringAtOnce);

    private async Task AnswerAsync(HttpContext context, Func<ReceivedWebhook, int, Answer> answer)
    {
        using var reader = new StreamReader(context.Request.Body);
        var received = new ReceivedWebhook(
            context.Request.Headers["webhook-id"].ToString(),
            context.Request.Headers["webhook-timestamp"].ToString(),
            context.Request.Headers["webhook-signature"].ToString(),
            await reader.ReadToEndAsync(),
            context.Request.Headers.UserAgent.ToString(),
            DateTimeOffset.UtcNow);
        _received.Enqueue(received);
        var attempt = _attempts.AddOrUpdate(received.Id, 1, (_, n) => n + 1);
        var reply = answer(received, attempt);
        if (reply.Hang is { } hang)
        {
            await hang.Task;
        }

        if (reply.Delay is { } delay)
        {
            await Task.Delay(delay);
        }

        if (reply.RetryAfter is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = (int)reply.Status;
    }

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    public string Url { get; private set; } = "";

    /// <param name="answer">What to answer to a delivery, given how many times this webhook-id has arrived.</param>
    public static async Task<WebhookReceiver> StartAsync(Func<ReceivedWebhook, int, Answer>? answer = null)
    {
        var receiver = new WebhookReceiver(answer ?? ((_, _) => new Answer(HttpStatusCode.OK)));
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = $"{address}/hook";
        return receiver;
    }

    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> condition)
    {
        await Eventually.TrueAsync(() => condition(Received), () => $"The receiver got {Received.Count} deliveries, not what was expected.");
        return Received;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <param name="Delay">How long to take before answering, as a slow receiver does.</param>
    public sealed record Answer(HttpStatusCode Status, int? RetryAfter = null, TaskCompletionSource? Hang = null, TimeSpan? Delay = null);
}

/// <param name="ArrivedAt">When the request's body had arrived.</param>
public sealed record ReceivedWebhook(string Id, string Timestamp, string Signature, string Body, string UserAgent, DateTimeOffset ArrivedAt);
