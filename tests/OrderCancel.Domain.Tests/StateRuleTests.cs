using static OrderCancel.Domain.Tests.Orders;

namespace OrderCancel.Domain.Tests;

/// <summary>SPEC §3: every status × every operation, then the rules around lines, schedules and reactivation.</summary>
public sealed class StateRuleTests
{
    public enum Operation
    {
        Cancel,
        CancelPartly,
        CancelSku,
        ScheduleCancel,
        TestCancel,
        Reactivate,
        ScheduleReactivate,
        Pay,
        UnscheduleCancellation,
        UnscheduleReactivation,
    }

    public static TheoryData<OrderStatus, Operation, string?, OrderStatus, string?> Table => new()
    {
        // status, operation, refusal code (null = allowed), status after, event written
        { OrderStatus.Pending, Operation.Cancel, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Active, Operation.Cancel, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Paid, Operation.Cancel, "order_already_paid", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.Cancel, "order_already_cancelled", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.CancelPartly, null, OrderStatus.Pending, "order.partially_cancelled" },
        { OrderStatus.Active, Operation.CancelPartly, null, OrderStatus.Active, "order.partially_cancelled" },
        { OrderStatus.Paid, Operation.CancelPartly, "order_already_paid", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.CancelPartly, "order_already_cancelled", OrderStatus.Cancelled, null },

        // A bulk job's matching_lines: every line of these orders has the SKU, so it takes all that remains.
        { OrderStatus.Pending, Operation.CancelSku, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Active, Operation.CancelSku, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Paid, Operation.CancelSku, "order_already_paid", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.CancelSku, "order_already_cancelled", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.ScheduleCancel, null, OrderStatus.Pending, "order.cancellation_scheduled" },
        { OrderStatus.Active, Operation.ScheduleCancel, null, OrderStatus.Active, "order.cancellation_scheduled" },
        { OrderStatus.Paid, Operation.ScheduleCancel, "order_already_paid", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.ScheduleCancel, "order_already_cancelled", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.TestCancel, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Active, Operation.TestCancel, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Paid, Operation.TestCancel, null, OrderStatus.Cancelled, "order.cancelled" },
        { OrderStatus.Cancelled, Operation.TestCancel, "order_already_cancelled", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.Reactivate, "order_not_cancelled", OrderStatus.Pending, null },
        { OrderStatus.Active, Operation.Reactivate, "order_not_cancelled", OrderStatus.Active, null },
        { OrderStatus.Paid, Operation.Reactivate, "order_not_cancelled", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.Reactivate, null, OrderStatus.Pending, "order.reactivated" },

        { OrderStatus.Pending, Operation.ScheduleReactivate, "order_not_cancelled", OrderStatus.Pending, null },
        { OrderStatus.Active, Operation.ScheduleReactivate, "order_not_cancelled", OrderStatus.Active, null },
        { OrderStatus.Paid, Operation.ScheduleReactivate, "order_not_cancelled", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.ScheduleReactivate, null, OrderStatus.Cancelled, "order.reactivation_scheduled" },

        { OrderStatus.Pending, Operation.Pay, null, OrderStatus.Paid, "order.paid" },
        { OrderStatus.Active, Operation.Pay, "order_not_payable", OrderStatus.Active, null },
        { OrderStatus.Paid, Operation.Pay, "order_not_payable", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.Pay, "order_not_payable", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.UnscheduleCancellation, "no_scheduled_cancellation", OrderStatus.Pending, null },
        { OrderStatus.Active, Operation.UnscheduleCancellation, "no_scheduled_cancellation", OrderStatus.Active, null },
        { OrderStatus.Paid, Operation.UnscheduleCancellation, "no_scheduled_cancellation", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.UnscheduleCancellation, "no_scheduled_cancellation", OrderStatus.Cancelled, null },

        { OrderStatus.Pending, Operation.UnscheduleReactivation, "no_scheduled_reactivation", OrderStatus.Pending, null },
        { OrderStatus.Active, Operation.UnscheduleReactivation, "no_scheduled_reactivation", OrderStatus.Active, null },
        { OrderStatus.Paid, Operation.UnscheduleReactivation, "no_scheduled_reactivation", OrderStatus.Paid, null },
        { OrderStatus.Cancelled, Operation.UnscheduleReactivation, "no_scheduled_reactivation", OrderStatus.Cancelled, null },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Each_status_allows_or_refuses_each_operation(
        OrderStatus status, Operation operation, string? refusal, OrderStatus after, string? eventType)
    {
        var order = InStatus(status);
        var version = order.Version;

        var result = Apply(order, operation);

        Assert.Equal(refusal, result.Error?.Code);
        Assert.Equal(after, order.Status);
        if (refusal is null)
        {
            Assert.Equal(version + 1, order.Version);
            var recorded = Assert.Single(order.PendingEvents);
            Assert.Equal(eventType, recorded.Name);
            Assert.Equal(recorded, result.Value.Event);
        }
        else
        {
            Assert.Equal(version, order.Version);
            Assert.Empty(order.PendingEvents);
        }
    }

    [Fact]
    public void A_cancellation_for_more_than_remains_is_refused_and_changes_nothing()
    {
        var order = Create(lines: [Line(2, 10m)]);
        order.ClearPendingEvents();

        var result = order.Cancel(Partial(1, 3), Now, Actor, Defaults);

        Assert.Equal("quantity_exceeds_remaining", result.Error?.Code);
        Assert.Equal(0, order.Lines[0].CancelledQuantity);
        Assert.Empty(order.PendingEvents);
    }

    [Fact]
    public void Cancelling_a_sku_takes_only_what_remains_of_its_lines()
    {
        var order = Create(lines: [Line(3, 10m) with { Sku = "RECALLED" }, Line(2, 5m), Line(4, 1m) with { Sku = "RECALLED" }]);
        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);
        order.ClearPendingEvents();

        var result = order.CancelSku("RECALLED", Full(), Now, Actor, Defaults);

        Assert.Equal(OrderEventType.OrderPartiallyCancelled, result.Value.Event.Type);
        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.Equal([3, 0, 4], order.Lines.Select(line => line.CancelledQuantity));
        Assert.Equal([(1L, 2), (3L, 4)], order.Cancellations[^1].Items.Select(item => (item.LineId, item.Quantity)));
        Assert.Equal(24m, result.Value.AmountReleased);
        Assert.False(order.ShippingWaived);
    }

    [Fact]
    public void Cancelling_a_sku_the_order_no_longer_has_is_refused_with_nothing_to_cancel()
    {
        var order = Create(lines: [Line(1, 10m) with { Sku = "RECALLED" }, Line(2, 5m)]);
        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);
        order.ClearPendingEvents();
        var version = order.Version;

        Assert.Equal("nothing_to_cancel", order.CancelSku("RECALLED", Full(), Now, Actor, Defaults).Error?.Code);
        Assert.Equal("nothing_to_cancel", order.CancelSku("OTHER", Full(), Now, Actor, Defaults).Error?.Code);
        Assert.Equal(version, order.Version);
        Assert.Empty(order.PendingEvents);
    }

    [Fact]
    public void A_job_actor_names_its_job()
    {
        var job = Guid.NewGuid();

        Assert.Equal(job, Actors.JobOf(Actors.Job(job)));
        Assert.Null(Actors.JobOf(Actors.Scheduler));
        Assert.Null(Actors.JobOf("job:not-a-guid"));
    }

    [Fact]
    public void A_cancellation_of_an_unknown_line_is_refused()
    {
        var order = Create();

        Assert.Equal("line_not_found", order.Cancel(Partial(99, 1), Now, Actor, Defaults).Error?.Code);
    }

    [Fact]
    public void A_partial_cancellation_that_leaves_nothing_cancels_the_order()
    {
        var order = Create(lines: [Line(2, 10m)]);
        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);

        var result = order.Cancel(Partial(1, 1), Now, Actor, Defaults);

        Assert.Equal(OrderEventType.OrderCancelled, result.Value.Event.Type);
        Assert.Equal(OrderStatus.Cancelled, order.Status);
        Assert.True(order.ShippingWaived);
        Assert.Equal(CancellationType.Partial, order.Cancellations[^1].Type);
    }

    [Fact]
    public void Shipping_is_released_by_a_partial_cancellation_only_when_asked()
    {
        var kept = Create(shipping: 5m);
        var waived = Create(shipping: 5m);

        var keptResult = kept.Cancel(Partial(1, 1), Now, Actor, Defaults);
        var waivedResult = waived.Cancel(Partial(1, 1, waiveShipping: true), Now, Actor, Defaults);

        Assert.False(kept.ShippingWaived);
        Assert.Equal(10m, keptResult.Value.AmountReleased);
        Assert.True(waived.ShippingWaived);
        Assert.Equal(15m, waivedResult.Value.AmountReleased);
        Assert.True(waived.Cancellations[0].ShippingWaived);
    }

    [Fact]
    public void A_full_cancellation_records_what_it_took_and_what_it_released()
    {
        var order = Create(shipping: 5m);
        Assert.True(order.Cancel(Partial(2, 1), Now, Actor, Defaults).IsSuccess);

        var result = order.Cancel(Full(), Now, Actor, Defaults);

        var cancellation = order.Cancellations[^1];
        Assert.Equal(CancellationType.Full, cancellation.Type);
        Assert.Equal([(1, 2), (2, 2)], cancellation.Items.Select(i => (i.LineId, i.Quantity)));
        Assert.Equal(35m, cancellation.AmountReleased); // 2×10 + 2×5 + 5 shipping
        Assert.Equal(35m, result.Value.AmountReleased);
        Assert.Equal(OrderStatus.Pending, cancellation.PreviousStatus);
        Assert.Equal(Now, order.CancelledAt);
    }

    [Fact]
    public void Reactivation_restores_what_the_last_cancellation_took_and_keeps_earlier_partials()
    {
        var order = Create(shipping: 5m);
        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);
        Assert.True(order.Cancel(Full(), Now, Actor, Defaults).IsSuccess);

        var result = order.Reactivate(new ReactivateRequest(null, null), Now.AddHours(1), Actor);

        Assert.True(result.IsSuccess);
        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.Equal([1, 0], order.Lines.Select(l => l.CancelledQuantity));
        Assert.False(order.ShippingWaived);
        Assert.Equal(30m, order.Amounts.Total.Amount); // 1×10 + 3×5 + 5
        Assert.Equal(Now.AddHours(1), order.ReactivatedAt);
    }

    [Fact]
    public void Reactivation_keeps_shipping_waived_when_an_earlier_partial_released_it()
    {
        var order = Create(shipping: 5m);
        Assert.True(order.Cancel(Partial(1, 1, waiveShipping: true), Now, Actor, Defaults).IsSuccess);
        Assert.True(order.Cancel(Full(), Now, Actor, Defaults).IsSuccess);

        Assert.True(order.Reactivate(new ReactivateRequest(null, null), Now, Actor).IsSuccess);

        Assert.True(order.ShippingWaived);
    }

    [Fact]
    public void Reactivating_a_test_cancelled_paid_order_returns_it_to_paid()
    {
        var order = InStatus(OrderStatus.Paid);
        Assert.True(order.TestCancel(null, Now, Actor).IsSuccess);
        Assert.True(order.Cancellations[^1].Test);
        Assert.Equal(CancellationReason.Other, order.Cancellations[^1].Reason);

        Assert.True(order.Reactivate(new ReactivateRequest(null, null), Now, Actor).IsSuccess);

        Assert.Equal(OrderStatus.Paid, order.Status);
        Assert.Equal(0m, order.Amounts.AmountDue.Amount);
    }

    [Fact]
    public void A_second_scheduled_cancellation_is_refused()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(3)), Now, Actor, Defaults).IsSuccess);

        Assert.Equal("cancellation_already_scheduled", order.Cancel(Full(Today.AddDays(4)), Now, Actor, Defaults).Error?.Code);
    }

    [Fact]
    public void A_second_scheduled_reactivation_is_refused()
    {
        var order = InStatus(OrderStatus.Cancelled);
        Assert.True(order.Reactivate(new ReactivateRequest(Today.AddDays(3), null), Now, Actor).IsSuccess);

        Assert.Equal("reactivation_already_scheduled", order.Reactivate(new ReactivateRequest(Today.AddDays(5), null), Now, Actor).Error?.Code);
    }

    [Fact]
    public void Scheduling_keeps_the_status_and_answers_scheduled()
    {
        var order = Create();

        var result = order.Cancel(Full(Today.AddDays(2)), Now, Actor, Defaults);

        Assert.True(result.Value.Scheduled);
        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.Equal(result.Value.Event.Id, order.ScheduledCancellation!.EventId);
        Assert.Equal(new DateTimeOffset(2026, 3, 12, 0, 0, 0, TimeSpan.Zero), order.ScheduledCancellation.DueAt);
        Assert.Equal(order.ScheduledCancellation.DueAt, order.NextChangeDueAt);
        Assert.Equal(40m, result.Value.AmountReleased);
    }

    [Fact]
    public void An_immediate_full_cancellation_supersedes_a_scheduled_one_with_one_event()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(2)), Now, Actor, Defaults).IsSuccess);
        order.ClearPendingEvents();

        Assert.True(order.Cancel(Full(), Now, Actor, Defaults).IsSuccess);

        Assert.Null(order.ScheduledCancellation);
        Assert.Null(order.NextChangeDueAt);
        Assert.Equal(OrderEventType.OrderCancelled, Assert.Single(order.PendingEvents).Type);
    }

    [Fact]
    public void An_immediate_partial_cancellation_leaves_a_scheduled_one_in_place()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(2)), Now, Actor, Defaults).IsSuccess);

        Assert.True(order.Cancel(Partial(1, 1), Now, Actor, Defaults).IsSuccess);

        Assert.NotNull(order.ScheduledCancellation);
    }

    [Fact]
    public void An_immediate_reactivation_supersedes_a_scheduled_one()
    {
        var order = InStatus(OrderStatus.Cancelled);
        Assert.True(order.Reactivate(new ReactivateRequest(Today.AddDays(2), null), Now, Actor).IsSuccess);

        Assert.True(order.Reactivate(new ReactivateRequest(Today, null), Now, Actor).IsSuccess);

        Assert.Null(order.ScheduledReactivation);
        Assert.Equal(OrderStatus.Pending, order.Status);
    }

    [Fact]
    public void Unscheduling_takes_the_scheduled_cancellation_back()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(2)), Now, Actor, Defaults).IsSuccess);

        var result = order.UnscheduleCancellation(Now, Actor);

        Assert.Equal(OrderEventType.OrderCancellationUnscheduled, result.Value.Event.Type);
        Assert.Null(order.ScheduledCancellation);
        Assert.Null(order.NextChangeDueAt);
    }

    [Fact]
    public void Paying_a_pending_order_with_a_scheduled_cancellation_makes_the_cancellation_fail_when_due()
    {
        var order = Create();
        Assert.True(order.Cancel(Full(Today.AddDays(1)), Now, Actor, Defaults).IsSuccess);
        Assert.True(order.Pay(new PaymentRequest("card", order.Amounts.AmountDue.Amount, null), Now, Actor).IsSuccess);
        order.ClearPendingEvents();

        var applied = order.ApplyDueChange(asOf: Now.AddDays(1), now: Now.AddDays(1));

        Assert.Equal(OrderEventType.OrderScheduledCancellationFailed, applied!.Event.Type);
        Assert.Equal("order_already_paid", applied.Event.FailureCode);
        Assert.Equal(Actors.Scheduler, applied.Event.Actor);
        Assert.Equal(OrderStatus.Paid, order.Status);
        Assert.Null(order.ScheduledCancellation);
        Assert.Empty(order.Cancellations);
    }

    [Fact]
    public void A_due_scheduled_cancellation_applies_once_with_its_effective_date()
    {
        var order = Create();
        Assert.True(order.Cancel(Partial(2, 3, Today.AddDays(1)), Now, Actor, Defaults).IsSuccess);

        Assert.Null(order.ApplyDueChange(asOf: Now, now: Now));
        var applied = order.ApplyDueChange(asOf: Now.AddDays(1), now: Now.AddDays(1));
        var again = order.ApplyDueChange(asOf: Now.AddDays(1), now: Now.AddDays(1));

        Assert.Equal(OrderEventType.OrderPartiallyCancelled, applied!.Event.Type);
        Assert.Null(again);
        Assert.Equal(Today.AddDays(1), order.Cancellations.Single().EffectiveDate);
        Assert.Equal(Actors.Scheduler, order.Cancellations.Single().Actor);
        Assert.Equal(3, order.Lines[1].CancelledQuantity);
    }

    [Fact]
    public void A_due_scheduled_reactivation_restores_the_order()
    {
        var order = InStatus(OrderStatus.Cancelled);
        Assert.True(order.Reactivate(new ReactivateRequest(Today.AddDays(1), null), Now, Actor).IsSuccess);

        var applied = order.ApplyDueChange(asOf: Now.AddDays(1), now: Now.AddDays(1));

        Assert.Equal(OrderEventType.OrderReactivated, applied!.Event.Type);
        Assert.Equal(OrderStatus.Pending, order.Status);
        Assert.Null(order.ScheduledReactivation);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5 * 366)]
    public void An_effective_date_in_the_past_or_beyond_five_years_is_a_validation_error(int days)
    {
        var order = Create();

        var result = order.Cancel(Full(Today.AddDays(days)), Now, Actor, Defaults);

        Assert.Equal("effective_date", result.Error?.Field);
        Assert.Empty(order.PendingEvents.Skip(1));
    }

    [Fact]
    public void Effective_dates_are_days_in_the_orders_time_zone()
    {
        var date = new DateOnly(2026, 12, 1);
        var auckland = Create(timeZone: "Pacific/Auckland");
        var losAngeles = Create(timeZone: "America/Los_Angeles");

        Assert.True(auckland.Cancel(Full(date), Now, Actor, Defaults).IsSuccess);
        Assert.True(losAngeles.Cancel(Full(date), Now, Actor, Defaults).IsSuccess);

        Assert.Equal(new DateTimeOffset(2026, 11, 30, 11, 0, 0, TimeSpan.Zero), auckland.NextChangeDueAt); // NZDT, UTC+13
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero), losAngeles.NextChangeDueAt); // PST, UTC−8
    }

    [Fact]
    public void Today_in_the_orders_time_zone_is_immediate()
    {
        // 2026-03-10 12:00 UTC is already 2026-03-11 in Auckland.
        var order = Create(timeZone: "Pacific/Auckland");

        var result = order.Cancel(Full(new DateOnly(2026, 3, 11)), Now, Actor, Defaults);

        Assert.False(result.Value.Scheduled);
        Assert.Equal(OrderStatus.Cancelled, order.Status);
        Assert.Equal(new DateOnly(2026, 3, 11), order.Cancellations[0].EffectiveDate);
    }

    private static Result<OrderChange> Apply(Order order, Operation operation) => operation switch
    {
        Operation.Cancel => order.Cancel(Full(), Now, Actor, Defaults),
        Operation.CancelPartly => order.Cancel(Partial(1, 1), Now, Actor, Defaults),
        Operation.CancelSku => order.CancelSku("SKU", Full(), Now, Actor, Defaults),
        Operation.ScheduleCancel => order.Cancel(Full(Today.AddDays(7)), Now, Actor, Defaults),
        Operation.TestCancel => order.TestCancel(null, Now, Actor),
        Operation.Reactivate => order.Reactivate(new ReactivateRequest(null, null), Now, Actor),
        Operation.ScheduleReactivate => order.Reactivate(new ReactivateRequest(Today.AddDays(7), null), Now, Actor),
        Operation.Pay => order.Pay(new PaymentRequest("card", order.Amounts.AmountDue.Amount, null), Now, Actor),
        Operation.UnscheduleCancellation => order.UnscheduleCancellation(Now, Actor),
        Operation.UnscheduleReactivation => order.UnscheduleReactivation(Now, Actor),
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };
}
