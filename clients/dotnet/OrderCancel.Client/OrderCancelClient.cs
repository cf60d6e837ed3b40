using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using OrderCancel.Client.Models;
using OrderCancel.Client.V1.CancellationJobs;
using OrderCancel.Client.V1.CancellationJobs.Item.Results;
using OrderCancel.Client.V1.Events;
using OrderCancel.Client.V1.Orders;

namespace OrderCancel.Client;

/// <summary>
/// The OrderCancel API, one method per operation (the operation's id + <c>Async</c>), over the client Kiota generates
/// from the API's OpenAPI document. Every call is retried where that is safe, with one <c>Idempotency-Key</c> across its
/// retries (<see cref="SafeRetryHandler"/>); a refusal is a <see cref="ProblemException"/>; lists are async streams that
/// follow <c>next_cursor</c>. Thread-safe: keep one per API key.
/// </summary>
public sealed class OrderCancelClient : IDisposable
{
    private readonly GeneratedApi _api;
    private readonly HttpClient? _owned;

    /// <summary>A client of its own HTTP connections, for <paramref name="apiKey"/> at <paramref name="baseUri"/> (e.g. <c>https://api.ordercancel.dev</c>).</summary>
    public OrderCancelClient(string apiKey, Uri baseUri, OrderCancelClientOptions? options = null)
        : this(Owned(apiKey, baseUri, options), owned: true)
    {
    }

    /// <summary>
    /// A client over <paramref name="httpClient"/>, whose <see cref="HttpClient.BaseAddress"/> is the API's and whose
    /// pipeline has a <see cref="SafeRetryHandler"/>, as <c>services.AddOrderCancelClient(...)</c> makes it.
    /// </summary>
    public OrderCancelClient(HttpClient httpClient)
        : this(httpClient, owned: false)
    {
    }

    private OrderCancelClient(HttpClient httpClient, bool owned)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        var baseUrl = httpClient.BaseAddress?.ToString().TrimEnd('/')
            ?? throw new ArgumentException("The HttpClient needs the API's BaseAddress.", nameof(httpClient));
        _owned = owned ? httpClient : null;
        _api = new GeneratedApi(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: httpClient) { BaseUrl = baseUrl });
    }

    /// <summary>The generated client underneath, for what this surface does not say (its calls get the same retries).</summary>
    public GeneratedApi Generated => _api;

    public void Dispose() => _owned?.Dispose();

    /// <summary>The key rides on the HttpClient: Kiota's key provider refuses plain http, which a local service speaks.</summary>
    internal static void Authorize(HttpClient client, string apiKey, Uri baseUri)
    {
        client.BaseAddress = baseUri;
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    private static HttpClient Owned(string apiKey, Uri baseUri, OrderCancelClientOptions? options)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        ArgumentNullException.ThrowIfNull(baseUri);
        var client = new HttpClient(new SafeRetryHandler(options ?? new OrderCancelClientOptions())
        {
            InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) },
        });
        Authorize(client, apiKey, baseUri);
        return client;
    }

    // Orders

    public Task<OrderResponse> CreateOrderAsync(CreateOrderRequest order, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders.PostAsync(order, With(options), cancellationToken));

    public Task<OrderResponse> GetOrderAsync(long orderId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].GetAsync(cancellationToken: cancellationToken));

    /// <summary>
    /// Your orders, newest first, every page of them; <paramref name="filter"/> sets the query (status, kind, customer_ref,
    /// reference, created_from/to, limit, and a cursor to start from). Each list below streams its pages the same way.
    /// </summary>
    public IAsyncEnumerable<OrderResponse> ListOrdersAsync(Action<OrdersRequestBuilder.OrdersRequestBuilderGetQueryParameters>? filter = null, CancellationToken cancellationToken = default) =>
        PagesAsync(
            cursor => _api.V1.Orders.GetAsync(c => { filter?.Invoke(c.QueryParameters); c.QueryParameters.Cursor = cursor ?? c.QueryParameters.Cursor; }, cancellationToken),
            page => (page.Data, page.NextCursor),
            cancellationToken);

    public Task<OrderChangeResponse> PayOrderAsync(long orderId, PayOrderRequest payment, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].Payments.PostAsync(payment, With(options), cancellationToken));

    public Task<EventList> ListOrderEventsAsync(long orderId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].Events.GetAsync(cancellationToken: cancellationToken));

    /// <summary>Cancels in full (no items), in part (items), now or on a date (<c>effective_at</c>).</summary>
    public Task<OrderChangeResponse> CancelOrderAsync(long orderId, CancelOrderRequest cancellation, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].Cancel.PostAsync(cancellation, With(options), cancellationToken));

    /// <summary>What <see cref="CancelOrderAsync"/> would do, changing nothing; its <c>version</c> is the order's, for <see cref="RequestOptions.IfMatch"/> on the real cancel.</summary>
    public Task<CancelPreviewResponse> PreviewCancellationAsync(long orderId, CancelOrderRequest cancellation, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].Cancel.Preview.PostAsync(cancellation, cancellationToken: cancellationToken));

    public Task<OrderChangeResponse> UnscheduleCancellationAsync(long orderId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].ScheduledCancellation.DeleteAsync(With(options), cancellationToken));

    public Task<OrderChangeResponse> ReactivateOrderAsync(long orderId, ReactivateOrderRequest reactivation, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].Reactivate.PostAsync(reactivation, With(options), cancellationToken));

    public Task<OrderChangeResponse> UnscheduleReactivationAsync(long orderId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Orders[orderId].ScheduledReactivation.DeleteAsync(With(options), cancellationToken));

    // Bulk cancellation jobs

    public Task<CancellationJobResponse> CreateCancellationJobAsync(CreateCancellationJobRequest job, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.CancellationJobs.PostAsync(job, With(options), cancellationToken));

    public Task<CancellationJobResponse> GetCancellationJobAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.CancellationJobs[jobId].GetAsync(cancellationToken: cancellationToken));

    public IAsyncEnumerable<CancellationJobResponse> ListCancellationJobsAsync(Action<CancellationJobsRequestBuilder.CancellationJobsRequestBuilderGetQueryParameters>? filter = null, CancellationToken cancellationToken = default) =>
        PagesAsync(
            cursor => _api.V1.CancellationJobs.GetAsync(c => { filter?.Invoke(c.QueryParameters); c.QueryParameters.Cursor = cursor ?? c.QueryParameters.Cursor; }, cancellationToken),
            page => (page.Data, page.NextCursor),
            cancellationToken);

    public IAsyncEnumerable<JobResultResponse> ListCancellationJobResultsAsync(Guid jobId, Action<ResultsRequestBuilder.ResultsRequestBuilderGetQueryParameters>? filter = null, CancellationToken cancellationToken = default) =>
        PagesAsync(
            cursor => _api.V1.CancellationJobs[jobId].Results.GetAsync(c => { filter?.Invoke(c.QueryParameters); c.QueryParameters.Cursor = cursor ?? c.QueryParameters.Cursor; }, cancellationToken),
            page => (page.Data, page.NextCursor),
            cancellationToken);

    public Task<CancellationJobResponse> StopCancellationJobAsync(Guid jobId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.CancellationJobs[jobId].Stop.PostAsync(With(options), cancellationToken));

    // Events

    /// <summary>
    /// The events feed from <paramref name="filter"/>'s cursor (or the oldest kept) until you are caught up. To follow it,
    /// poll <see cref="ListEventsPageAsync"/> with each page's <c>resume_cursor</c>.
    /// </summary>
    public IAsyncEnumerable<FeedEventResponse> ListEventsAsync(Action<EventsRequestBuilder.EventsRequestBuilderGetQueryParameters>? filter = null, CancellationToken cancellationToken = default) =>
        PagesAsync(
            cursor => _api.V1.Events.GetAsync(c => { filter?.Invoke(c.QueryParameters); c.QueryParameters.Cursor = cursor ?? c.QueryParameters.Cursor; }, cancellationToken),
            page => (page.Data, page.NextCursor),
            cancellationToken);

    /// <summary>One page of the events feed, with its <c>next_cursor</c> and <c>resume_cursor</c>.</summary>
    public Task<EventFeedPage> ListEventsPageAsync(Action<EventsRequestBuilder.EventsRequestBuilderGetQueryParameters>? filter = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Events.GetAsync(c => filter?.Invoke(c.QueryParameters), cancellationToken));

    public Task<FeedEventResponse> GetEventAsync(Guid eventId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Events[eventId].GetAsync(cancellationToken: cancellationToken));

    // Settings

    public Task<SettingsResponse> GetSettingsAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Settings.GetAsync(cancellationToken: cancellationToken));

    /// <summary>A merge patch of your settings; <see cref="RequestOptions.IfMatch"/> takes the settings' <c>version</c>.</summary>
    public Task<SettingsResponse> PatchSettingsAsync(SettingsPatch patch, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Settings.PatchAsync(patch, With(options), cancellationToken));

    // Webhooks

    /// <summary>Registers an endpoint; the answer's <c>secret</c> is shown once: give it to <see cref="WebhookVerifier"/>.</summary>
    public Task<CreatedWebhookResponse> CreateWebhookAsync(CreateWebhookRequest webhook, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks.PostAsync(webhook, With(options), cancellationToken));

    public Task<WebhookList> ListWebhooksAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks.GetAsync(cancellationToken: cancellationToken));

    public Task DeleteWebhookAsync(Guid webhookId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync(() => _api.V1.Webhooks[webhookId].DeleteAsync(With(options), cancellationToken));

    public Task<DeliveryList> ListDeliveriesAsync(Guid webhookId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks[webhookId].Deliveries.GetAsync(cancellationToken: cancellationToken));

    /// <summary>A new secret; the old one keeps signing beside it for the overlap the answer gives.</summary>
    public Task<RotatedSecretResponse> RotateWebhookSecretAsync(Guid webhookId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks[webhookId].RotateSecret.PostAsync(With(options), cancellationToken));

    public Task RetryDeliveryAsync(Guid webhookId, Guid deliveryId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync(() => _api.V1.Webhooks[webhookId].Deliveries[deliveryId].Retry.PostAsync(With(options), cancellationToken));

    public Task<RecoveryResponse> RecoverWebhookAsync(Guid webhookId, RecoverWebhookRequest recovery, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks[webhookId].Recover.PostAsync(recovery, With(options), cancellationToken));

    public Task<WebhookResponse> EnableWebhookAsync(Guid webhookId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Webhooks[webhookId].Enable.PostAsync(With(options), cancellationToken));

    // Test endpoints (not in Production)

    public Task<OrderChangeResponse> TestCancelOrderAsync(long orderId, TestCancelRequest cancellation, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Test.Orders[orderId].Cancel.PostAsync(cancellation, With(options), cancellationToken));

    public Task<SweepResult> RunScheduledChangesAsync(RunScheduledChangesRequest run, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Test.ScheduledChanges.Run.PostAsync(run, With(options), cancellationToken));

    // Admin (the admin key)

    public Task<PartnerResponse> CreatePartnerAsync(CreatePartnerRequest partner, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Admin.Partners.PostAsync(partner, With(options), cancellationToken));

    public Task<IssuedKeyResponse> IssueKeyAsync(Guid partnerId, IssueKeyRequest key, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Admin.Partners[partnerId].Keys.PostAsync(key, With(options), cancellationToken));

    public Task RevokeKeyAsync(Guid keyId, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        SendAsync(() => _api.V1.Admin.Keys[keyId].DeleteAsync(With(options), cancellationToken));

    public Task<SettingsResponse> GetPartnerSettingsAsync(Guid partnerId, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Admin.Partners[partnerId].Settings.GetAsync(cancellationToken: cancellationToken));

    public Task<SettingsResponse> PatchPartnerSettingsAsync(Guid partnerId, SettingsPatch patch, RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => _api.V1.Admin.Partners[partnerId].Settings.PatchAsync(patch, With(options), cancellationToken));

    private static Action<RequestConfiguration<DefaultQueryParameters>> With(RequestOptions? options) => configuration =>
    {
        if (options?.IdempotencyKey is { } key)
        {
            configuration.Headers.Add(SafeRetryHandler.IdempotencyKeyHeader, key);
        }

        if (options?.IfMatch is { } version)
        {
            configuration.Headers.Add("If-Match", $"\"{version}\"");
        }
    };

    private static async Task<T> CallAsync<T>(Func<Task<T?>> call)
        where T : class
    {
        T? answer = null;
        await SendAsync(async () => { answer = await call().ConfigureAwait(false); }).ConfigureAwait(false);
        return answer ?? throw new ProblemException("The service answered without a body.");
    }

    /// <summary>A call without an answer's body, its refusal as a <see cref="ProblemException"/>.</summary>
    private static async Task SendAsync(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (Problem problem)
        {
            throw new ProblemException(problem, problem.ResponseStatusCode);
        }
        catch (ApiException exception) when (exception is not Problem)
        {
            // An answer without a problem body: a gateway's page, say.
            throw new ProblemException(new Problem { Status = exception.ResponseStatusCode, Title = exception.Message }, exception.ResponseStatusCode);
        }
    }

    private static async IAsyncEnumerable<TItem> PagesAsync<TPage, TItem>(
        Func<string?, Task<TPage?>> page, Func<TPage, (List<TItem>? Items, string? Next)> parts, [EnumeratorCancellation] CancellationToken cancellationToken)
        where TPage : class
    {
        string? cursor = null;
        do
        {
            var (items, next) = parts(await CallAsync(() => page(cursor)).ConfigureAwait(false));
            foreach (var item in items ?? [])
            {
                yield return item;
            }

            cursor = next;
        }
        while (cursor is not null && !cancellationToken.IsCancellationRequested);
    }
}
