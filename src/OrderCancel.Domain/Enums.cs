namespace OrderCancel.Domain;

public enum OrderKind
{
    OneTime,
    Recurring,
}

public enum OrderStatus
{
    Pending,
    Paid,
    Active,
    Cancelled,
}

public enum BillingPeriod
{
    Monthly,
    Quarterly,
    Annually,
}

public enum CancellationReason
{
    CustomerRequest,
    OutOfStock,
    FraudSuspected,
    PaymentDeclined,
    DuplicateOrder,
    Other,

    /// <summary>An unpaid order reached its <c>expires_at</c> (SPEC §11); only the service sets it.</summary>
    Expired,
}

/// <summary>Whether a partial cancel releases shipping (SPEC §11); a full cancel always does (SPEC §3).</summary>
public enum ShippingOnPartialCancel
{
    /// <summary>Only when the request says <c>waive_shipping: true</c> (SPEC §3).</summary>
    Keep,

    /// <summary>Unless the request says <c>waive_shipping: false</c>.</summary>
    Release,

    /// <summary>Never on a partial cancel: shipping goes when the last active quantity does.</summary>
    ReleaseWhenEmpty,
}

public enum CancellationType
{
    Full,
    Partial,
}
