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
}

public enum CancellationType
{
    Full,
    Partial,
}
