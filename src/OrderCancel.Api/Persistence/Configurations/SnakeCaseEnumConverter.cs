using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using OrderCancel.Api.Http;

namespace OrderCancel.Api.Persistence.Configurations;

/// <summary>Stores enums as the same snake_case strings the API speaks (<c>one_time</c>, <c>cancelled</c>).</summary>
public sealed class SnakeCaseEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
    value => Json.Name(value),
    name => Json.Parse<TEnum>(name))
    where TEnum : struct, Enum;
