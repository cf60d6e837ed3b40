using FluentValidation;
using OrderCancel.Api.Http;
using OrderCancel.Domain;

namespace OrderCancel.Api.Orders;

public sealed class CreateOrderValidator : AbstractValidator<CreateOrderRequest>
{
    public const int MaxLines = 500;

    public CreateOrderValidator(TimeProvider clock)
    {
        RuleFor(r => r.Kind).Required();
        RuleFor(r => r.Currency).Required()
            .Must(code => code is null || Currency.TryFind(code, out _))
            .WithMessage("Must be an ISO 4217 currency code in capitals, such as EUR or JPY.");
        RuleFor(r => r.TimeZone)
            .Must(zone => zone is null || TimeZones.IsKnown(zone))
            .WithMessage("Must be an IANA time zone, such as Europe/Paris or UTC.");
        RuleFor(r => r.BillingPeriod).NotNull().When(r => r.Kind == OrderKind.Recurring)
            .WithMessage("Is required for recurring orders.");
        RuleFor(r => r.BillingPeriod).Null().When(r => r.Kind == OrderKind.OneTime)
            .WithMessage("Must be left out for one-time orders.");
        RuleFor(r => r.Reference).OptionalText(100);
        RuleFor(r => r.Channel).OptionalText(50);
        RuleFor(r => r.Customer).Required().SetValidator(new CustomerValidator()!);
        RuleFor(r => r.Lines).Required()
            .Must(lines => lines is null || lines.Count is >= 1 and <= MaxLines)
            .WithMessage($"Must have between 1 and {MaxLines} lines.");
        RuleForEach(r => r.Lines).Cascade(CascadeMode.Continue).NotNull().WithMessage("Must be an object.")
            .SetValidator(order => new LineValidator(order.Currency));
        RuleFor(r => r.ShippingCost).Money(r => r.Currency);
        RuleFor(r => r.Metadata).JsonObject();
        RuleFor(r => r.ExpiresAt)
            .Null().When(r => r.Kind == OrderKind.Recurring).WithMessage("Only one-time orders expire; leave it out or send null.")
            .Must(at => at is null || at > clock.GetUtcNow()).WithMessage("Must be in the future.")
            .Must(at => at is null || at <= clock.GetUtcNow().AddYears(Order.MaxYearsAhead)).WithMessage($"Must be within {Order.MaxYearsAhead} years.");
    }
}

public sealed class CustomerValidator : AbstractValidator<CustomerRequest>
{
    public CustomerValidator()
    {
        RuleFor(c => c.Ref).RequiredText(100);
        RuleFor(c => c.Email).RequiredText(254).EmailAddress().WithMessage("Must be an email address.");
        RuleFor(c => c.FirstName).RequiredText(100);
        RuleFor(c => c.LastName).RequiredText(100);
        RuleFor(c => c.Phone).OptionalText(30);
    }
}

internal sealed class LineValidator : AbstractValidator<LineRequest>
{
    public const int MaxQuantity = 1_000_000;

    public LineValidator(string? currency)
    {
        RuleFor(l => l.Sku).RequiredText(100);
        RuleFor(l => l.Name).RequiredText(200);
        RuleFor(l => l.Quantity).Required()
            .InclusiveBetween(1, MaxQuantity).WithMessage($"Must be between 1 and {MaxQuantity}.");
        RuleFor(l => l.UnitPrice).Required().Money(_ => currency);
        RuleFor(l => l.Discount).Money(_ => currency)
            .Must((line, discount) => discount is null || line.Quantity is null || line.UnitPrice is not >= 0m
                || discount <= line.Quantity * line.UnitPrice)
            .WithMessage("Must not exceed quantity × unit_price.");
        RuleFor(l => l.TaxRate)
            .InclusiveBetween(0m, 1m).WithMessage("Must be between 0 and 1.");
        RuleFor(l => l.Metadata).JsonObject();
    }
}

public sealed class PayOrderValidator : AbstractValidator<PayOrderRequest>
{
    public PayOrderValidator()
    {
        RuleFor(p => p.Method).RequiredText(50);
        RuleFor(p => p.Amount).Required()
            .GreaterThanOrEqualTo(0m).WithMessage("Must not be negative.");
        RuleFor(p => p.Reference).OptionalText(100);
    }
}

public sealed class ListOrdersQueryValidator : AbstractValidator<ListOrdersQuery>
{
    public ListOrdersQueryValidator(Cursors cursors)
    {
        RuleFor(q => q.Status)
            .Must(status => status is null || Json.TryParse<OrderStatus>(status, out _))
            .WithMessage($"Must be one of: {string.Join(", ", Json.Names<OrderStatus>())}.");
        RuleFor(q => q.Kind)
            .Must(kind => kind is null || Json.TryParse<OrderKind>(kind, out _))
            .WithMessage($"Must be one of: {string.Join(", ", Json.Names<OrderKind>())}.");
        RuleFor(q => q.Limit).MustBeALimit();
        RuleFor(q => q.Cursor)
            .Must((query, cursor, context) => cursor is null || OrderCursor.TryDecode(cursors, Cursors.CallerIn(context), cursor, out _))
            .WithMessage(Cursors.NotOurs);
        RuleFor(q => q.CreatedFrom)
            .Must(text => text is null || Instants.Parse(text) is not null)
            .WithMessage("Must be an ISO 8601 instant with an offset, e.g. 2026-01-31T00:00:00Z.");
        RuleFor(q => q.CreatedTo)
            .Must(text => text is null || Instants.Parse(text) is not null)
            .WithMessage("Must be an ISO 8601 instant with an offset, e.g. 2026-02-01T00:00:00Z.")
            .Must((query, _) => query.CreatedFromFilter is not { } from || query.CreatedToFilter is not { } to || from < to)
            .WithMessage("Must be after created_from.");
        RuleFor(q => q.CustomerRef).OptionalText(100);
        RuleFor(q => q.Reference).OptionalText(100);
    }
}
