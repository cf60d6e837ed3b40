using Microsoft.EntityFrameworkCore;
using OrderCancel.Api.Persistence;

namespace OrderCancel.Api.Partners;

/// <summary>In Development, a <c>demo</c> partner whose key comes from <c>Demo:ApiKey</c> (SPEC §7).</summary>
public static class DemoPartner
{
    public const string Name = "demo";

    public static async Task SeedAsync(OrdersDbContext db, string key, DateTimeOffset now, CancellationToken cancellation)
    {
        var hash = ApiKey.HashOf(key);
        if (await db.ApiKeys.AnyAsync(k => k.Hash == hash, cancellation))
        {
            return;
        }

        var partner = await db.Partners.FirstOrDefaultAsync(p => p.Name == Name, cancellation);
        if (partner is null)
        {
            partner = new Partner { Id = Guid.CreateVersion7(now), Name = Name, CreatedAt = now };
            db.Partners.Add(partner);
        }

        db.ApiKeys.Add(ApiKey.FromSecret(partner.Id, key, now));
        await db.SaveChangesAsync(cancellation);
    }
}
