using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using FluentValidation;
using Microsoft.AspNetCore.DataProtection;
using OrderCancel.Api.Partners;

namespace OrderCancel.Api.Http;

/// <summary>
/// Seals the position a list's cursor holds, so a cursor cannot be made or changed outside the service: Data
/// Protection encrypts and authenticates it (AES-256-CBC with HMAC-SHA256) under keys kept in the database, shared by
/// every instance and rotated every 90 days with the old ones kept for reading. Each list has its own purpose and each
/// cursor its owner's (the partner's; a job's results, the job's too), so one list's or one partner's cursor does not
/// open on another. A cursor that does not open is "not a cursor this API returned" (422).
/// </summary>
public sealed class Cursors(IDataProtectionProvider dataProtection)
{
    public const string NotOurs = "Is not a cursor this API returned.";

    /// <summary>Far above any cursor sealed here (about 140 characters), far below what would cost anything to reject.</summary>
    private const int MaxLength = 512;

    private readonly ConcurrentDictionary<string, IDataProtector> _protectors = new();

    /// <summary>Where a validator finds the request, to know whose cursor it is checking (<see cref="ValidationFilter"/> puts it there).</summary>
    public const string RequestKey = "http";

    public string Seal(string list, string owner, string position) =>
        Base64Url.EncodeToString(Protector(list).CreateProtector(owner).Protect(Encoding.ASCII.GetBytes(position)));

    /// <summary>The request a validator checks, when it came through <see cref="ValidationFilter"/>.</summary>
    public static HttpContext? RequestIn(IValidationContext context) =>
        context.RootContextData.TryGetValue(RequestKey, out var request) ? request as HttpContext : null;

    /// <summary>The calling partner's id, the owner of its cursors, as a validator sees it.</summary>
    public static string CallerIn(IValidationContext context) =>
        RequestIn(context)?.User.FindFirstValue(Callers.PartnerIdClaim) ?? "";

    public bool TryOpen(string list, string owner, string? cursor, out string position)
    {
        position = "";
        if (string.IsNullOrEmpty(cursor) || cursor.Length > MaxLength || !Base64Url.IsValid(cursor))
        {
            return false;
        }

        var sealedBytes = Base64Url.DecodeFromChars(cursor);
        if (Base64Url.EncodeToString(sealedBytes) != cursor)
        {
            // One spelling per cursor: no padding, white space or stray bits that decode to the same bytes.
            return false;
        }

        try
        {
            position = Encoding.ASCII.GetString(Protector(list).CreateProtector(owner).Unprotect(sealedBytes));
            return true;
        }
        catch (CryptographicException)
        {
            // Changed, cut, sealed for another list or owner, or under a key that no longer exists.
            return false;
        }
    }

    private IDataProtector Protector(string list) =>
        _protectors.GetOrAdd(list, name => dataProtection.CreateProtector("OrderCancel.Cursors", name));
}
