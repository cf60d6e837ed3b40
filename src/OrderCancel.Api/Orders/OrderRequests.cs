using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

/// <summary>Creates (or imports) an order. One-time orders start <c>pending</c>, recurring ones <c>active</c>.</summary>
public sealed class CreateOrderRequest
{
    /// <example>one_time</example>
    [Required]
    public OrderKind? Kind { get; init; }

    /// <summary>ISO 4217 code; amounts may not have more decimals than it allows.</summary>
    /// <example>EUR</example>
    [Required]
    public string? Currency { get; init; }

    /// <summary>IANA time zone; effective dates are days in it. Default <c>UTC</c>.</summary>
    /// <example>Europe/Paris</example>
    public string? TimeZone { get; init; }

    /// <summary>Required for recurring orders, absent or null for one-time ones.</summary>
    public BillingPeriod? BillingPeriod { get; init; }

    /// <summary>The partner's own id for the order; unique per partner when set.</summary>
    /// <example>cart-20391</example>
    public string? Reference { get; init; }

    /// <summary>Default <c>api</c>.</summary>
    /// <example>web</example>
    public string? Channel { get; init; }

    [Required]
    public CustomerRequest? Customer { get; init; }

    /// <summary>1 to 500 lines.</summary>
    [Required]
    public List<LineRequest>? Lines { get; init; }

    /// <example>4.90</example>
    public decimal? ShippingCost { get; init; }

    /// <summary>Any JSON object, kept as given.</summary>
    public JsonElement? Metadata { get; init; }

    /// <summary>
    /// One-time orders only: when the order is cancelled (reason <c>expired</c>) if still unpaid, instead of the
    /// partner's <c>unpaid_order_ttl</c>; null: never. Leave it out to follow the partner's setting.
    /// </summary>
    /// <example>2030-06-30T12:00:00Z</example>
    [AcceptsNull]
    public DateTimeOffset? ExpiresAt
    {
        get => _expiresAt;
        init
        {
            _expiresAt = value;
            ExpiresAtGiven = true;
        }
    }

    /// <summary>True when the body named <c>expires_at</c>, null included (merge-patch style: null means never).</summary>
    [JsonIgnore]
    public bool ExpiresAtGiven { get; private set; }

    private readonly DateTimeOffset? _expiresAt;
}

public sealed class CustomerRequest
{
    /// <example>cus_8842</example>
    [Required]
    public string? Ref { get; init; }

    /// <example>ada@example.com</example>
    [Required]
    public string? Email { get; init; }

    /// <example>Ada</example>
    [Required]
    public string? FirstName { get; init; }

    /// <example>Lovelace</example>
    [Required]
    public string? LastName { get; init; }

    /// <example>+33 6 12 34 56 78</example>
    public string? Phone { get; init; }
}

public sealed class LineRequest
{
    /// <example>SKU-RED-M</example>
    [Required]
    public string? Sku { get; init; }

    /// <example>Red T-shirt, M</example>
    [Required]
    public string? Name { get; init; }

    /// <example>3</example>
    [Required]
    public int? Quantity { get; init; }

    /// <example>19.90</example>
    [Required]
    public decimal? UnitPrice { get; init; }

    /// <summary>For the whole line at full quantity; at most quantity × unit_price. Default 0.</summary>
    /// <example>5.00</example>
    public decimal? Discount { get; init; }

    /// <summary>0 to 1. Default 0.</summary>
    /// <example>0.2</example>
    public decimal? TaxRate { get; init; }

    /// <summary>Any JSON object, kept as given.</summary>
    public JsonElement? Metadata { get; init; }
}

/// <summary>Marks a pending one-time order paid; <c>amount</c> must equal its <c>amount_due</c>.</summary>
public sealed class PayOrderRequest
{
    /// <example>card</example>
    [Required]
    public string? Method { get; init; }

    /// <example>58.70</example>
    [Required]
    public decimal? Amount { get; init; }

    /// <summary>The payment provider's id for the payment.</summary>
    /// <example>pi_3N2x</example>
    public string? Reference { get; init; }
}

/// <summary>Filters and paging for <c>GET /v1/orders</c>; newest first.</summary>
public sealed class ListOrdersQuery
{
    [FromQuery(Name = "status")]
    [SchemaRef(nameof(OrderStatus))]
    public string? Status { get; init; }

    [FromQuery(Name = "kind")]
    [SchemaRef(nameof(OrderKind))]
    public string? Kind { get; init; }

    /// <summary>The customer's <c>ref</c>, exactly.</summary>
    [FromQuery(Name = "customer_ref")]
    public string? CustomerRef { get; init; }

    /// <summary>The order's <c>reference</c>, exactly.</summary>
    [FromQuery(Name = "reference")]
    public string? Reference { get; init; }

    /// <summary>Orders created at or after this instant (ISO 8601).</summary>
    [FromQuery(Name = "created_from")]
    [DataType(DataType.DateTime)]
    public string? CreatedFrom { get; init; }

    /// <summary>Orders created before this instant (ISO 8601).</summary>
    [FromQuery(Name = "created_to")]
    [DataType(DataType.DateTime)]
    public string? CreatedTo { get; init; }

    /// <summary>1 to 100; default 20.</summary>
    [FromQuery(Name = "limit")]
    [Range(1, 100)]
    [DefaultValue(DefaultLimit)]
    public string? Limit { get; init; }

    /// <summary>The <c>next_cursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }

    public const int DefaultLimit = 20;

    public int PageSize => int.TryParse(Limit, out var limit) ? limit : DefaultLimit;

    public OrderStatus? StatusFilter => Json.TryParse<OrderStatus>(Status, out var status) ? status : null;

    public OrderKind? KindFilter => Json.TryParse<OrderKind>(Kind, out var kind) ? kind : null;

    public DateTimeOffset? CreatedFromFilter => Instants.Parse(CreatedFrom);

    public DateTimeOffset? CreatedToFilter => Instants.Parse(CreatedTo);
}
