using OrderCancel.Api.CancellationJobs;
using OrderCancel.Domain;

namespace OrderCancel.Api.Webhooks;

/// <summary>Every event type an endpoint can subscribe to: the orders' (SPEC §2) and the cancellation jobs' (SPEC §10).</summary>
public static class EventTypes
{
    public static readonly IReadOnlyList<string> All = [.. OrderEvent.AllNames, .. CancellationJobEvents.All, .. Settings.SettingsEndpoints.Events];
}
