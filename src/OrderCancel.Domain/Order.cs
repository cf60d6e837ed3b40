namespace OrderCancel.Domain;

/// <summary>
/// The order aggregate: its lines, amounts and the state rules of SPEC §3.
/// Every change goes through a method here, bumps <see cref="Version"/> and records exactly one event.
/// </summary>
public sealed class Order
{
    /// <summary>How far ahead a change may be scheduled (SPEC §3).</summary>
    public const int MaxYearsAhead = 5;

    private readonly List<OrderLine> _lines = [];
    private readonly List<Cancellation> _cancellations = [];
    private readonly List<OrderEvent> _pendingEvents = [];

    private Order()
    {
        Channel = TimeZone = CurrencyCode = Metadata = null!;
        Customer = null!;
    }

    private enum Operation
    {
        Cancel,
        TestCancel,
        Reactivate,
        Pay,
    }

    public long Id { get; private set; }

    public Guid PartnerId { get; private set; }

    public OrderKind Kind { get; private set; }

    public OrderStatus Status { get; private set; }

    public string? Reference { get; private set; }

    public string Channel { get; private set; }

    public string CurrencyCode { get; private set; }

    public string TimeZone { get; private set; }

    public BillingPeriod? BillingPeriod { get; private set; }

    public Customer Customer { get; private set; }

    public IReadOnlyList<OrderLine> Lines => _lines;

    public decimal ShippingCost { get; private set; }

    public bool ShippingWaived { get; private set; }

    public decimal AmountPaid { get; private set; }

    public Payment? Payment { get; private set; }

    /// <summary>Free-form JSON text, kept as the partner sent it.</summary>
    public string Metadata { get; private set; }

    public ScheduledCancellation? ScheduledCancellation { get; private set; }

    public ScheduledReactivation? ScheduledReactivation { get; private set; }

    /// <summary>
    /// When the scheduler cancels the order if it is still unpaid (reason <c>expired</c>, SPEC §11); null when it never
    /// does. Set at creation, cleared for good once the order is paid or cancelled.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; private set; }

    /// <summary>When the earliest scheduled change (or the expiry) falls due; what the scheduler looks for.</summary>
    public DateTimeOffset? NextChangeDueAt { get; private set; }

    public IReadOnlyList<Cancellation> Cancellations => _cancellations;

    public DateTimeOffset? CancelledAt { get; private set; }

    public DateTimeOffset? ReactivatedAt { get; private set; }

    public DateTimeOffset CreatedAt { get; private set; }

    public DateTimeOffset UpdatedAt { get; private set; }

    /// <summary>Increases on every change; the ETag and the optimistic concurrency token.</summary>
    public int Version { get; private set; }

    /// <summary>Events recorded since the order was loaded, for persistence to write with the change.</summary>
    public IReadOnlyList<OrderEvent> PendingEvents => _pendingEvents;

    public Currency Currency => Currency.Of(CurrencyCode);

    public TimeZoneInfo Zone => TimeZones.Find(TimeZone);

    public OrderAmounts Amounts => AmountsWith(Status, ShippingWaived, line => line.ActiveQuantity);

    /// <param name="lineIds">One id per line of <paramref name="spec"/>, unique across all orders (persistence hands them out).</param>
    /// <param name="policy">The partner's settings now: a one-time order expires after its <c>unpaid_order_ttl</c> unless the spec says otherwise.</param>
    public static Order Create(Guid partnerId, NewOrder spec, IReadOnlyList<long> lineIds, DateTimeOffset now, string actor, PartnerPolicy policy)
    {
        if (spec.Lines.Count == 0)
        {
            throw new ArgumentException("An order needs at least one line.", nameof(spec));
        }

        if (lineIds.Count != spec.Lines.Count || lineIds.Distinct().Count() != lineIds.Count)
        {
            throw new ArgumentException("Each line needs an id of its own.", nameof(lineIds));
        }

        var order = new Order
        {
            PartnerId = partnerId,
            Kind = spec.Kind,
            Status = spec.Kind == OrderKind.OneTime ? OrderStatus.Pending : OrderStatus.Active,
            Reference = spec.Reference,
            Channel = spec.Channel,
            CurrencyCode = spec.Currency.Code,
            TimeZone = spec.TimeZone,
            BillingPeriod = spec.Kind == OrderKind.Recurring ? spec.BillingPeriod : null,
            Customer = spec.Customer,
            ShippingCost = spec.ShippingCost,
            Metadata = spec.Metadata,
            ExpiresAt = spec.Kind == OrderKind.OneTime ? (spec.Expiry is { } given ? given.At : now + policy.UnpaidOrderTtl) : null,
            CreatedAt = now,
        };
        order._lines.AddRange(spec.Lines.Select((line, index) => new OrderLine(lineIds[index], line)));
        order.Record(OrderEventType.OrderCreated, NewEventId(now), now, actor);
        return order;
    }

    public void ClearPendingEvents() => _pendingEvents.Clear();

    /// <summary>
    /// The order persistence stored, as it was: no rule is checked and no event recorded, so only the code that
    /// loads orders calls it.
    /// </summary>
    public static Order FromSnapshot(OrderSnapshot stored)
    {
        var order = new Order
        {
            Id = stored.Id,
            PartnerId = stored.PartnerId,
            Kind = stored.Kind,
            Status = stored.Status,
            Reference = stored.Reference,
            Channel = stored.Channel,
            CurrencyCode = stored.CurrencyCode,
            TimeZone = stored.TimeZone,
            BillingPeriod = stored.BillingPeriod,
            Customer = stored.Customer,
            ShippingCost = stored.ShippingCost,
            ShippingWaived = stored.ShippingWaived,
            AmountPaid = stored.AmountPaid,
            Payment = stored.Payment,
            Metadata = stored.Metadata,
            ScheduledCancellation = stored.ScheduledCancellation,
            ScheduledReactivation = stored.ScheduledReactivation,
            ExpiresAt = stored.ExpiresAt,
            CancelledAt = stored.CancelledAt,
            ReactivatedAt = stored.ReactivatedAt,
            CreatedAt = stored.CreatedAt,
            UpdatedAt = stored.UpdatedAt,
            Version = stored.Version,
        };
        order._lines.AddRange(stored.Lines.Select(line => new OrderLine(line)));
        order._cancellations.AddRange(stored.Cancellations);
        order.NextChangeDueAt = order.EarliestDue();
        return order;
    }

    public DateOnly TodayAt(DateTimeOffset now) => TimeZones.Today(now, Zone);

    public Result<OrderChange> Pay(PaymentRequest request, DateTimeOffset now, string actor)
    {
        if (Refusal(Operation.Pay) is { } refused)
        {
            return refused;
        }

        var due = Amounts.AmountDue.Amount;
        if (request.Amount != due)
        {
            return DomainError.Invalid("amount", $"Must equal the amount due, {due}.");
        }

        AmountPaid = request.Amount;
        Payment = new Payment(request.Method, now, request.Reference);
        Status = OrderStatus.Paid;
        ExpiresAt = null;
        return new OrderChange(Record(OrderEventType.OrderPaid, NewEventId(now), now, actor));
    }

    /// <summary>
    /// A partner's cancel: now, or scheduled when its effective date is still ahead. The partner's
    /// <paramref name="policy"/> closes it after the cancellation window and decides what a partial one does to shipping.
    /// </summary>
    public Result<OrderChange> Cancel(CancelRequest request, DateTimeOffset now, string actor, PartnerPolicy policy)
    {
        var today = TodayAt(now);
        if (CheckEffectiveDate(request.EffectiveDate, today) is { } invalidDate)
        {
            return invalidDate;
        }

        if ((Refusal(Operation.Cancel) ?? WindowRefusal(policy, now)) is { } refused)
        {
            return refused;
        }

        if (request.EffectiveDate > today && ScheduledCancellation is not null)
        {
            return OrderErrors.CancellationAlreadyScheduled;
        }

        var waiveShipping = policy.ReleasesShippingOnPartial(request.WaiveShipping);
        var plan = Plan(request.Items, request.Reason, waiveShipping);
        if (!plan.IsSuccess)
        {
            return plan.Error!;
        }

        if (request.EffectiveDate is { } date && date > today)
        {
            var eventId = NewEventId(now);
            ScheduledCancellation = new ScheduledCancellation
            {
                EventId = eventId,
                EffectiveDate = date,
                Reason = request.Reason,
                Note = request.Note,
                Items = [.. request.Items],
                WaiveShipping = waiveShipping,
                DueAt = TimeZones.StartOfDay(date, Zone),
            };
            var scheduled = Record(OrderEventType.OrderCancellationScheduled, eventId, now, actor);
            return new OrderChange(scheduled, Scheduled: true, plan.Value.AmountReleased);
        }

        return Apply(plan.Value, request, today, now, actor, test: false);
    }

    /// <summary>
    /// Cancels what remains of one SKU's lines (a bulk job's <c>matching_lines</c> scope): a partial cancel of those
    /// lines, which becomes full when nothing else remains (SPEC §3). The request's own items are ignored.
    /// </summary>
    public Result<OrderChange> CancelSku(string sku, CancelRequest request, DateTimeOffset now, string actor, PartnerPolicy policy)
    {
        List<CancelItem> items = [.. _lines
            .Where(line => line.Sku == sku && line.ActiveQuantity > 0)
            .Select(line => new CancelItem(line.Id, line.ActiveQuantity, null))];
        if (items.Count == 0)
        {
            return Refusal(Operation.Cancel) ?? WindowRefusal(policy, now) ?? OrderErrors.NothingToCancel(sku);
        }

        return Cancel(request with { Items = items }, now, actor, policy);
    }

    /// <summary>QA's cancel (SPEC §3 "Test cancel"): the whole order, now, whatever its status but cancelled.</summary>
    public Result<OrderChange> TestCancel(CancellationReason? reason, DateTimeOffset now, string actor)
    {
        if (Refusal(Operation.TestCancel) is { } refused)
        {
            return refused;
        }

        var request = new CancelRequest(reason ?? CancellationReason.Other, null, null, [], WaiveShipping: null);
        var plan = Plan(request.Items, request.Reason, waiveShipping: false);
        return Apply(plan.Value, request, TodayAt(now), now, actor, test: true);
    }

    public Result<OrderChange> UnscheduleCancellation(DateTimeOffset now, string actor)
    {
        if (ScheduledCancellation is null)
        {
            return OrderErrors.NoScheduledCancellation;
        }

        ScheduledCancellation = null;
        return new OrderChange(Record(OrderEventType.OrderCancellationUnscheduled, NewEventId(now), now, actor));
    }

    /// <summary>Reactivates now, or schedules the reactivation when its effective date is still ahead.</summary>
    public Result<OrderChange> Reactivate(ReactivateRequest request, DateTimeOffset now, string actor)
    {
        var today = TodayAt(now);
        if (CheckEffectiveDate(request.EffectiveDate, today) is { } invalidDate)
        {
            return invalidDate;
        }

        if (Refusal(Operation.Reactivate) is { } refused)
        {
            return refused;
        }

        if (request.EffectiveDate is { } date && date > today)
        {
            if (ScheduledReactivation is not null)
            {
                return OrderErrors.ReactivationAlreadyScheduled;
            }

            var eventId = NewEventId(now);
            ScheduledReactivation = new ScheduledReactivation(eventId, date, request.Note, TimeZones.StartOfDay(date, Zone));
            return new OrderChange(Record(OrderEventType.OrderReactivationScheduled, eventId, now, actor), Scheduled: true);
        }

        return Restore(now, actor);
    }

    public Result<OrderChange> UnscheduleReactivation(DateTimeOffset now, string actor)
    {
        if (ScheduledReactivation is null)
        {
            return OrderErrors.NoScheduledReactivation;
        }

        ScheduledReactivation = null;
        return new OrderChange(Record(OrderEventType.OrderReactivationUnscheduled, NewEventId(now), now, actor));
    }

    /// <summary>
    /// Applies the scheduled change (or the expiry) that is due by <paramref name="asOf"/>, the earliest first,
    /// checking the state rules again. A scheduled cancellation they refuse is dropped with
    /// <c>order.scheduled_cancellation_failed</c>. Returns null when nothing is due.
    /// </summary>
    public OrderChange? ApplyDueChange(DateTimeOffset asOf, DateTimeOffset now)
    {
        if (ExpiryDue(asOf) is { } expiresAt && !(ScheduledCancellation?.DueAt < expiresAt))
        {
            return Expire(now);
        }

        if (ScheduledCancellation is { } cancellation && cancellation.DueAt <= asOf)
        {
            ScheduledCancellation = null;
            var request = new CancelRequest(
                cancellation.Reason,
                cancellation.Note,
                cancellation.EffectiveDate,
                cancellation.Items,
                cancellation.WaiveShipping);
            var refusal = Refusal(Operation.Cancel);
            var plan = Plan(request.Items, request.Reason, cancellation.WaiveShipping);
            if ((refusal ?? plan.Error) is { } error)
            {
                return new OrderChange(Record(
                    OrderEventType.OrderScheduledCancellationFailed, NewEventId(now), now, Actors.Scheduler, error.Code));
            }

            return Apply(plan.Value, request, cancellation.EffectiveDate, now, Actors.Scheduler, test: false);
        }

        if (ScheduledReactivation is { } reactivation && reactivation.DueAt <= asOf)
        {
            if (Status == OrderStatus.Cancelled)
            {
                return Restore(now, Actors.Scheduler);
            }

            // Nothing can make a cancelled order otherwise today; should a rule change allow it, the
            // reactivation is taken back with its own event rather than left due for ever.
            ScheduledReactivation = null;
            return new OrderChange(Record(OrderEventType.OrderReactivationUnscheduled, NewEventId(now), now, Actors.Scheduler));
        }

        return null;
    }

    /// <summary>The expiry, when it is due by <paramref name="asOf"/>: only a pending order expires.</summary>
    private DateTimeOffset? ExpiryDue(DateTimeOffset asOf) =>
        Status == OrderStatus.Pending && ExpiresAt is { } expiresAt && expiresAt <= asOf ? expiresAt : null;

    /// <summary>The scheduler's full cancel of an order left unpaid (SPEC §11): reason <c>expired</c>, no window applies.</summary>
    private OrderChange Expire(DateTimeOffset now)
    {
        var request = new CancelRequest(CancellationReason.Expired, null, null, [], WaiveShipping: null);
        var plan = Plan(request.Items, request.Reason, waiveShipping: false);
        return Apply(plan.Value, request, TodayAt(now), now, Actors.Scheduler, test: false);
    }

    /// <summary>SPEC §11: a partner cancel after the partner's window closed is refused.</summary>
    private DomainError? WindowRefusal(PartnerPolicy policy, DateTimeOffset now) =>
        policy.CancellationClosesAt(CreatedAt) is { } closesAt && now > closesAt ? OrderErrors.CancellationWindowClosed(closesAt) : null;

    /// <summary>SPEC §3 in one place: which status allows which operation, and the code when it does not.</summary>
    private DomainError? Refusal(Operation operation) => (operation, Status) switch
    {
        (Operation.Cancel, OrderStatus.Pending or OrderStatus.Active) => null,
        (Operation.Cancel, OrderStatus.Paid) => OrderErrors.AlreadyPaid,
        (Operation.Cancel or Operation.TestCancel, OrderStatus.Cancelled) => OrderErrors.AlreadyCancelled,
        (Operation.TestCancel, _) => null,
        (Operation.Reactivate, OrderStatus.Cancelled) => null,
        (Operation.Reactivate, _) => OrderErrors.NotCancelled,
        (Operation.Pay, OrderStatus.Pending) when Kind == OrderKind.OneTime => null,
        (Operation.Pay, _) => OrderErrors.NotPayable,
        _ => throw new InvalidOperationException($"No rule for {operation} on a {Status} order."),
    };

    private static DomainError? CheckEffectiveDate(DateOnly? date, DateOnly today) => date switch
    {
        null => null,
        { } day when day < today => DomainError.Invalid("effective_date", $"Must not be before today ({today:yyyy-MM-dd}) in the order's time zone."),
        { } day when day > today.AddYears(MaxYearsAhead) => DomainError.Invalid("effective_date", $"Must be within {MaxYearsAhead} years of today."),
        _ => null,
    };

    /// <summary>Works out what a cancellation would take, without changing anything.</summary>
    private Result<CancellationPlan> Plan(IReadOnlyList<CancelItem> items, CancellationReason reason, bool waiveShipping)
    {
        List<CancelledItem> taken = [];
        if (items.Count == 0)
        {
            taken.AddRange(_lines.Where(line => line.ActiveQuantity > 0)
                .Select(line => new CancelledItem(line.Id, line.ActiveQuantity, reason)));
        }
        else
        {
            foreach (var item in items)
            {
                var line = _lines.Find(candidate => candidate.Id == item.LineId);
                if (line is null)
                {
                    return OrderErrors.LineNotFound(item.LineId);
                }

                if (item.Quantity > line.ActiveQuantity)
                {
                    return OrderErrors.QuantityExceedsRemaining(line.Id, item.Quantity, line.ActiveQuantity);
                }

                taken.Add(new CancelledItem(line.Id, item.Quantity, item.Reason ?? reason));
            }
        }

        var cancelsOrder = _lines.All(line => line.ActiveQuantity == taken.Where(t => t.LineId == line.Id).Sum(t => t.Quantity));
        var releasesShipping = !ShippingWaived && (cancelsOrder || waiveShipping);
        var after = AmountsWith(
            cancelsOrder ? OrderStatus.Cancelled : Status,
            ShippingWaived || releasesShipping,
            line => line.ActiveQuantity - taken.Where(t => t.LineId == line.Id).Sum(t => t.Quantity));
        var released = Amounts.Total.Amount - after.Total.Amount;
        return new CancellationPlan(taken, cancelsOrder, releasesShipping, released);
    }

    private OrderChange Apply(
        CancellationPlan plan,
        CancelRequest request,
        DateOnly effectiveDate,
        DateTimeOffset now,
        string actor,
        bool test)
    {
        foreach (var item in plan.Items)
        {
            _lines.Find(line => line.Id == item.LineId)!.Cancel(item.Quantity);
        }

        var eventId = NewEventId(now);
        _cancellations.Add(new Cancellation
        {
            EventId = eventId,
            Type = request.Items.Count == 0 ? CancellationType.Full : CancellationType.Partial,
            Items = plan.Items,
            Reason = request.Reason,
            Note = request.Note,
            EffectiveDate = effectiveDate,
            AppliedAt = now,
            AmountReleased = plan.AmountReleased,
            ShippingWaived = plan.ReleasesShipping,
            Test = test,
            Actor = actor,
            PreviousStatus = Status,
        });

        ShippingWaived |= plan.ReleasesShipping;
        if (plan.CancelsOrder)
        {
            Status = OrderStatus.Cancelled;
            CancelledAt = now;
            ScheduledCancellation = null;
            ExpiresAt = null;
        }

        var type = plan.CancelsOrder ? OrderEventType.OrderCancelled : OrderEventType.OrderPartiallyCancelled;
        return new OrderChange(Record(type, eventId, now, actor), AmountReleased: plan.AmountReleased);
    }

    /// <summary>Undoes what the cancellation that made the order cancelled took away.</summary>
    private OrderChange Restore(DateTimeOffset now, string actor)
    {
        var cancellation = _cancellations[^1];
        foreach (var item in cancellation.Items)
        {
            _lines.Find(line => line.Id == item.LineId)!.Restore(item.Quantity);
        }

        if (cancellation.ShippingWaived)
        {
            ShippingWaived = false;
        }

        Status = cancellation.PreviousStatus;
        ReactivatedAt = now;
        ScheduledReactivation = null;
        return new OrderChange(Record(OrderEventType.OrderReactivated, NewEventId(now), now, actor));
    }

    private OrderAmounts AmountsWith(OrderStatus status, bool shippingWaived, Func<OrderLine, int> activeQuantity)
    {
        var currency = Currency;
        var zero = Money.Zero(currency);
        Money subtotal = zero, discount = zero, tax = zero, lineTotals = zero;
        foreach (var line in _lines)
        {
            var amounts = LineAmounts.For(line, activeQuantity(line), currency);
            subtotal += amounts.Subtotal;
            discount += amounts.DiscountApplied;
            tax += amounts.Tax;
            lineTotals += amounts.Total;
        }

        var shipping = shippingWaived || status == OrderStatus.Cancelled ? zero : Money.Of(ShippingCost, currency);
        var total = lineTotals + shipping;
        var paid = Money.Of(AmountPaid, currency);
        return new OrderAmounts(subtotal, discount, tax, shipping, total, paid, (total - paid).AtLeastZero());
    }

    private OrderEvent Record(OrderEventType type, Guid eventId, DateTimeOffset now, string actor, string? failureCode = null)
    {
        Version++;
        UpdatedAt = now;
        NextChangeDueAt = EarliestDue();
        var recorded = new OrderEvent(eventId, type, now, actor, failureCode);
        _pendingEvents.Add(recorded);
        return recorded;
    }

    private DateTimeOffset? EarliestDue()
    {
        DateTimeOffset?[] due = [ScheduledCancellation?.DueAt, ScheduledReactivation?.DueAt, Status == OrderStatus.Pending ? ExpiresAt : null];
        return due.Min();
    }

    private static Guid NewEventId(DateTimeOffset now) => Guid.CreateVersion7(now);

    private sealed record CancellationPlan(
        List<CancelledItem> Items,
        bool CancelsOrder,
        bool ReleasesShipping,
        decimal AmountReleased);
}
