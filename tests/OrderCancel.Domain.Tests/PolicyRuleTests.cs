using static OrderCancel.Domain.Tests.Orders;

namespace OrderCancel.Domain.Tests;

/// <summary>SPEC §11: what each partner setting does to the rows of the state table; the defaults change nothing.</summary>
public sealed class PolicyRuleTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static PartnerPolicy Ttl(TimeSpan ttl) => Defaults with { UnpaidOrderTtl = ttl };

    private static PartnerPolicy Window(TimeSpan window) => Defaults with { CancellationWindow = window };

    private static PartnerPolicy Shipping(ShippingOnPartialCancel rule) => Defaults with { ShippingOnPartialCancel = rule };

    [Fact]
    public void A_one_time_order_expires_after_the_partners_ttl_and_a_recurring_one_never()
    {
        var oneTime = Create(policy: Ttl(TimeSpan.FromMinutes(15)));
        var recurring = Create(OrderKind.Recurring, policy: Ttl(TimeSpan.FromMinutes(15)));
        var untimed = Create();

        Assert.Equal(Now.AddMinutes(15), oneTime.ExpiresAt);
        Assert.Equal(Now.AddMinutes(15), oneTime.NextChangeDueAt);
        Assert.Null(recurring.ExpiresAt);
        Assert.Null(untimed.ExpiresAt);
        Assert.Null(untimed.NextChangeDueAt);
    }

    [Fact]
    public void An_expiry_given_at_creation_overrides_the_ttl_either_way()
    {
        var sooner = Create(policy: Ttl(Hour), expiry: new ExpiryOverride(Now.AddMinutes(5)));
        var never = Create(policy: Ttl(Hour), expiry: new ExpiryOverride(null));
        var withoutTtl = Create(expiry: new ExpiryOverride(Now.AddDays(2)));

        Assert.Equal(Now.AddMinutes(5), sooner.ExpiresAt);
        Assert.Null(never.ExpiresAt);
        Assert.Equal(Now.AddDays(2), withoutTtl.ExpiresAt);
    }

    [Fact]
    public void A_pending_order_at_its_expiry_is_cancelled_in_full_by_the_scheduler_with_reason_expired()
    {
        var order = Create(shipping: 5m, policy: Ttl(Hour));
        order.ClearPendingEvents();

        Assert.Null(order.ApplyDueChange(Now.AddMinutes(59), Now.AddMinutes(59)));
        var change = order.ApplyDueChange(Now.AddHours(1), Now.AddHours(1).AddSeconds(3));

        Assert.NotNull(change);
        Assert.Equal(OrderEventType.OrderCancelled, change.Event.Type);
        Assert.Equal(Actors.Scheduler, change.Event.Actor);
        Assert.Equal(OrderStatus.Cancelled, order.Status);
        var cancellation = Assert.Single(order.Cancellations);
        Assert.Equal(CancellationReason.Expired, cancellation.Reason);
        Assert.Equal(CancellationType.Full, cancellation.Type);
        Assert.Equal(40m, cancellation.AmountReleased);
        Assert.Null(order.ExpiresAt);
        Assert.Null(order.NextChangeDueAt);
        Assert.Null(order.ApplyDueChange(Now.AddDays(1), Now.AddDays(1)));
    }

    [Fact]
    public void A_paid_order_never_expires()
    {
        var order = Create(policy: Ttl(Hour));
        Assert.True(order.Pay(new PaymentRequest("card", order.Amounts.AmountDue.Amount, null), Now.AddMinutes(59), Actor).IsSuccess);

        Assert.Null(order.ExpiresAt);
        Assert.Null(order.NextChangeDueAt);
        Assert.Null(order.ApplyDueChange(Now.AddHours(2), Now.AddHours(2)));
        Assert.Equal(OrderStatus.Paid, order.Status);
    }

    [Fact]
    public void A_cancelled_order_never_expires_not_even_once_reactivated()
    {
        var order = Create(policy: Ttl(Hour));
        Assert.True(order.Cancel(Full(), Now, Actor, Defaults).IsSuccess);
        Assert.True(order.Reactivate(new ReactivateRequest(null, null), Now.AddMinutes(1), Actor).IsSuccess);

        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.Null(order.ExpiresAt);
        Assert.Null(order.ApplyDueChange(Now.AddHours(2), Now.AddHours(2)));
    }

    [Fact]
    public void A_partly_cancelled_order_still_expires()
    {
        var order = Create(policy: Ttl(Hour));
        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);

        Assert.Equal(Now.AddHours(1), order.ExpiresAt);
        Assert.Equal(OrderEventType.OrderCancelled, order.ApplyDueChange(Now.AddHours(1), Now.AddHours(1))?.Event.Type);
    }

    [Fact]
    public void An_expired_order_reactivates_like_any_other_and_keeps_no_expiry()
    {
        var order = Create(policy: Ttl(Hour));
        Assert.NotNull(order.ApplyDueChange(Now.AddHours(1), Now.AddHours(1)));

        var result = order.Reactivate(new ReactivateRequest(null, null), Now.AddHours(2), Actor);

        Assert.Equal(OrderEventType.OrderReactivated, result.Value.Event.Type);
        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.All(order.Lines, line => Assert.Equal(0, line.CancelledQuantity));
        Assert.Null(order.ExpiresAt);
        Assert.Null(order.NextChangeDueAt);
    }

    [Fact]
    public void An_expiry_due_before_a_scheduled_cancellation_supersedes_it_with_one_event()
    {
        var order = Create(policy: Ttl(Hour));
        Assert.True(order.Cancel(Partial(1, 1, Today.AddDays(3)), Now, Actor, Defaults).IsSuccess);
        order.ClearPendingEvents();

        var change = order.ApplyDueChange(Now.AddDays(5), Now.AddDays(5));

        Assert.Equal(OrderEventType.OrderCancelled, change?.Event.Type);
        Assert.Equal(CancellationReason.Expired, order.Cancellations[^1].Reason);
        Assert.Null(order.ScheduledCancellation);
        Assert.Single(order.PendingEvents);
    }

    [Fact]
    public void A_scheduled_cancellation_due_before_the_expiry_applies_first()
    {
        var order = Create(policy: Ttl(TimeSpan.FromDays(10)));
        Assert.True(order.Cancel(Partial(1, 1, Today.AddDays(3)), Now, Actor, Defaults).IsSuccess);

        var first = order.ApplyDueChange(Now.AddDays(20), Now.AddDays(20));
        var second = order.ApplyDueChange(Now.AddDays(20), Now.AddDays(20));

        Assert.Equal(OrderEventType.OrderPartiallyCancelled, first?.Event.Type);
        Assert.Equal(OrderEventType.OrderCancelled, second?.Event.Type);
        Assert.Equal(CancellationReason.Expired, order.Cancellations[^1].Reason);
    }

    public static TheoryData<string, bool> WindowCases => new()
    {
        // operation, refused once the one-hour window has passed
        { "cancel", true },
        { "cancel_partly", true },
        { "schedule_cancel", true },
        { "cancel_sku", true },
        { "test_cancel", false },
        { "unschedule", false },
    };

    [Theory]
    [MemberData(nameof(WindowCases))]
    public void After_the_cancellation_window_a_partner_cancel_is_refused_and_changes_nothing(string operation, bool refused)
    {
        var order = Create();
        Assert.True(order.Cancel(Partial(2, 1, Today.AddDays(2)), Now, Actor, Defaults).IsSuccess);
        order.ClearPendingEvents();
        var version = order.Version;
        var later = Now.AddHours(1).AddTicks(1);
        var policy = Window(Hour);

        var result = operation switch
        {
            "cancel" => order.Cancel(Full(), later, Actor, policy),
            "cancel_partly" => order.Cancel(Partial(1, 1), later, Actor, policy),
            "schedule_cancel" => order.Cancel(Full(Today.AddDays(9)), later, Actor, policy),
            "cancel_sku" => order.CancelSku("SKU", Full(), later, Actor, policy),
            "test_cancel" => order.TestCancel(null, later, Actor),
            "unschedule" => order.UnscheduleCancellation(later, Actor),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };

        if (refused)
        {
            Assert.Equal("cancellation_window_closed", result.Error?.Code);
            Assert.Equal(version, order.Version);
            Assert.Empty(order.PendingEvents);
            Assert.All(order.Lines, line => Assert.Equal(0, line.CancelledQuantity));
        }
        else
        {
            Assert.True(result.IsSuccess);
        }
    }

    [Fact]
    public void The_window_is_open_up_to_and_including_its_last_instant()
    {
        var order = Create();

        Assert.True(order.Cancel(Full(), Now.AddHours(1), Actor, Window(Hour)).IsSuccess);
    }

    [Fact]
    public void The_status_rule_answers_before_the_window()
    {
        var paid = InStatus(OrderStatus.Paid);
        var cancelled = InStatus(OrderStatus.Cancelled);

        Assert.Equal("order_already_paid", paid.Cancel(Full(), Now.AddDays(1), Actor, Window(Hour)).Error?.Code);
        Assert.Equal("order_already_cancelled", cancelled.Cancel(Full(), Now.AddDays(1), Actor, Window(Hour)).Error?.Code);
    }

    [Fact]
    public void A_scheduled_cancellation_applies_after_the_window_closed()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(2)), Now, Actor, Window(Hour)).IsSuccess);

        Assert.Equal(OrderEventType.OrderCancelled, order.ApplyDueChange(Now.AddDays(3), Now.AddDays(3))?.Event.Type);
    }

    [Fact]
    public void Expiry_is_not_bound_by_the_window()
    {
        var order = Create(policy: new PartnerPolicy(TimeSpan.FromDays(2), Hour, ShippingOnPartialCancel.Keep));

        Assert.Equal(OrderEventType.OrderCancelled, order.ApplyDueChange(Now.AddDays(2), Now.AddDays(2))?.Event.Type);
    }

    public static TheoryData<ShippingOnPartialCancel, bool?, bool> ShippingCases => new()
    {
        // rule, the request's waive_shipping (null: not sent), shipping released by a partial cancel
        { ShippingOnPartialCancel.Keep, null, false },
        { ShippingOnPartialCancel.Keep, false, false },
        { ShippingOnPartialCancel.Keep, true, true },
        { ShippingOnPartialCancel.Release, null, true },
        { ShippingOnPartialCancel.Release, false, false },
        { ShippingOnPartialCancel.Release, true, true },
        { ShippingOnPartialCancel.ReleaseWhenEmpty, null, false },
        { ShippingOnPartialCancel.ReleaseWhenEmpty, false, false },
        { ShippingOnPartialCancel.ReleaseWhenEmpty, true, false },
    };

    /// <summary>Lines 2 × 10 and 3 × 5, shipping 5 (SPEC §4): one unit of line 1 is 10, the shipping 5 more.</summary>
    [Theory]
    [MemberData(nameof(ShippingCases))]
    public void A_partial_cancel_releases_shipping_as_the_rule_and_the_request_say(ShippingOnPartialCancel rule, bool? waive, bool released)
    {
        var order = Create(shipping: 5m);

        var result = order.Cancel(Partial(1, 1, waiveShipping: waive), Now, Actor, Shipping(rule));

        Assert.Equal(released ? 15m : 10m, result.Value.AmountReleased);
        Assert.Equal(released, order.ShippingWaived);
        Assert.Equal(released, order.Cancellations[0].ShippingWaived);
        Assert.Equal(released ? 25m : 30m, order.Amounts.Total.Amount);
    }

    [Theory]
    [InlineData(ShippingOnPartialCancel.Keep)]
    [InlineData(ShippingOnPartialCancel.Release)]
    [InlineData(ShippingOnPartialCancel.ReleaseWhenEmpty)]
    public void A_full_cancel_always_releases_shipping_and_reactivation_restores_it(ShippingOnPartialCancel rule)
    {
        var order = Create(shipping: 5m);

        var result = order.Cancel(Full(waiveShipping: false), Now, Actor, Shipping(rule));
        Assert.Equal(40m, result.Value.AmountReleased);
        Assert.True(order.ShippingWaived);

        Assert.True(order.Reactivate(new ReactivateRequest(null, null), Now, Actor).IsSuccess);
        Assert.False(order.ShippingWaived);
        Assert.Equal(40m, order.Amounts.Total.Amount);
    }

    [Fact]
    public void Under_release_when_empty_the_partial_cancel_that_empties_the_order_releases_shipping()
    {
        var order = Create(shipping: 5m);
        var policy = Shipping(ShippingOnPartialCancel.ReleaseWhenEmpty);

        Assert.True(order.Cancel(Partial(1, 2), Now, Actor, policy).IsSuccess);
        Assert.False(order.ShippingWaived);
        var last = order.Cancel(Partial(2, 3), Now, Actor, policy);

        Assert.Equal(OrderEventType.OrderCancelled, last.Value.Event.Type);
        Assert.True(order.ShippingWaived);
        Assert.Equal(20m, last.Value.AmountReleased);
    }

    [Fact]
    public void A_scheduled_partial_cancel_keeps_the_shipping_rule_in_force_when_it_was_scheduled()
    {
        var order = Create(shipping: 5m);
        Assert.True(order.Cancel(Partial(1, 1, Today.AddDays(2)), Now, Actor, Shipping(ShippingOnPartialCancel.Release)).IsSuccess);

        Assert.True(order.ScheduledCancellation!.WaiveShipping);
        Assert.NotNull(order.ApplyDueChange(Now.AddDays(3), Now.AddDays(3)));
        Assert.True(order.ShippingWaived);
    }
}
