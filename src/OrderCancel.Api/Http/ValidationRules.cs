using System.Text.Json;
using FluentValidation;
using OrderCancel.Domain;

namespace OrderCancel.Api.Http;

/// <summary>Rules shared by the request validators, worded the same everywhere.</summary>
public static class ValidationRules
{
    public const decimal MaxAmount = 1_000_000_000m;

    public static IRuleBuilderOptions<T, TProperty?> Required<T, TProperty>(this IRuleBuilder<T, TProperty?> rule) =>
        rule.NotNull().WithMessage("Is required.");

    public static IRuleBuilderOptions<T, string?> RequiredText<T>(this IRuleBuilder<T, string?> rule, int maxLength) =>
        rule.NotNull().WithMessage("Is required.")
            .NotEmpty().WithMessage("Must not be empty.")
            .MaximumLength(maxLength).WithMessage($"Must be at most {maxLength} characters.")
            .StorableText();

    public static IRuleBuilderOptions<T, string?> OptionalText<T>(this IRuleBuilder<T, string?> rule, int maxLength) =>
        rule.Must(text => text is null || text.Length > 0).WithMessage("Must not be empty; leave it out instead.")
            .MaximumLength(maxLength).WithMessage($"Must be at most {maxLength} characters.")
            .StorableText();

    /// <summary>Text PostgreSQL can store: no NUL. Bodies are checked by <see cref="JsonShape"/> already; query strings are not.</summary>
    public static IRuleBuilderOptions<T, string?> StorableText<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(text => JsonShape.UnstorableText(text) is null).WithMessage(JsonShape.NulMessage);

    /// <summary>A money amount: not negative, not absurd, and no more decimals than the currency has.</summary>
    public static IRuleBuilderOptions<T, decimal?> Money<T>(this IRuleBuilder<T, decimal?> rule, Func<T, string?> currencyCode) =>
        rule.Must(amount => amount is null or >= 0m).WithMessage("Must not be negative.")
            .Must(amount => amount is null or <= MaxAmount).WithMessage($"Must be at most {MaxAmount}.")
            .Must((parent, amount) => amount is null
                || !Currency.TryFind(currencyCode(parent), out var currency)
                || currency.Fits(amount.Value))
            .WithMessage((parent, _) => Currency.TryFind(currencyCode(parent), out var currency)
                ? $"Must have at most {currency.MinorUnit} decimals in {currency.Code}."
                : "Has too many decimals.");

    public const int MaxLimit = 100;

    /// <summary>A page size given in the query string: a whole number from 1 to 100.</summary>
    public static IRuleBuilderOptions<T, string?> MustBeALimit<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(limit => limit is null || (int.TryParse(limit, out var value) && value is >= 1 and <= MaxLimit))
            .WithMessage($"Must be a whole number from 1 to {MaxLimit}.");

    /// <summary>A reason a client may give: <c>expired</c> is the service's own (SPEC §5, §11).</summary>
    public static IRuleBuilderOptions<T, CancellationReason?> MustBeAClientReason<T>(this IRuleBuilder<T, CancellationReason?> rule) =>
        rule.Must(reason => reason != CancellationReason.Expired)
            .WithMessage("expired is set only by the service, when an unpaid order reaches its expires_at; choose another reason.");

    public static IRuleBuilderOptions<T, JsonElement?> JsonObject<T>(this IRuleBuilder<T, JsonElement?> rule) =>
        rule.Must(value => value is null || value.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null)
            .WithMessage("Must be a JSON object.");
}
