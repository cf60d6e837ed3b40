using System.Net;
using System.Net.Sockets;

namespace OrderCancel.Api.Webhooks;

/// <summary>
/// Which webhook URLs are acceptable: https to a host that is globally reachable, or http to loopback where allowed.
/// The same address rules are applied at registration (to a literal address or a <c>localhost</c> name) and at
/// connect time (to every address the host resolves to), so DNS cannot smuggle a private target in later.
/// </summary>
public static class WebhookUrls
{
    /// <summary>
    /// IPv4 blocks of the IANA special-purpose registry that are not globally reachable (RFC 6890 and successors),
    /// plus multicast (224/4) and the reserved 240/4, broadcast included.
    /// </summary>
    private static readonly (IPAddress Network, int Prefix)[] NonGlobalV4 =
    [
        (IPAddress.Parse("0.0.0.0"), 8),
        (IPAddress.Parse("10.0.0.0"), 8),
        (IPAddress.Parse("100.64.0.0"), 10),
        (IPAddress.Parse("127.0.0.0"), 8),
        (IPAddress.Parse("169.254.0.0"), 16),
        (IPAddress.Parse("172.16.0.0"), 12),
        (IPAddress.Parse("192.0.0.0"), 24),
        (IPAddress.Parse("192.0.2.0"), 24),
        (IPAddress.Parse("192.88.99.0"), 24),
        (IPAddress.Parse("192.168.0.0"), 16),
        (IPAddress.Parse("198.18.0.0"), 15),
        (IPAddress.Parse("198.51.100.0"), 24),
        (IPAddress.Parse("203.0.113.0"), 24),
        (IPAddress.Parse("224.0.0.0"), 4),
        (IPAddress.Parse("240.0.0.0"), 4),
    ];

    /// <summary>IPv6 blocks that are not globally reachable; the forms that embed an IPv4 address are judged by it instead.</summary>
    private static readonly (IPAddress Network, int Prefix)[] NonGlobalV6 =
    [
        (IPAddress.Parse("::"), 96), // unspecified, loopback and the deprecated IPv4-compatible form
        (IPAddress.Parse("64:ff9b:1::"), 48), // local-use NAT64
        (IPAddress.Parse("100::"), 64), // discard-only
        (IPAddress.Parse("2001::"), 23), // IETF protocol assignments, Teredo (2001::/32) included
        (IPAddress.Parse("2001:db8::"), 32), // documentation
        (IPAddress.Parse("3fff::"), 20), // documentation
        (IPAddress.Parse("5f00::"), 16), // SRv6 SIDs
        (IPAddress.Parse("fc00::"), 7), // unique local
        (IPAddress.Parse("fe80::"), 10), // link-local
        (IPAddress.Parse("fec0::"), 10), // site-local (deprecated)
        (IPAddress.Parse("ff00::"), 8), // multicast
    ];

    private static readonly IPAddress Translated = IPAddress.Parse("::ffff:0:0:0");
    private static readonly IPAddress Nat64 = IPAddress.Parse("64:ff9b::");
    private static readonly IPAddress SixToFour = IPAddress.Parse("2002::");

    public static bool AllowsInsecureLoopback(WebhookOptions options, IHostEnvironment environment) =>
        options.AllowInsecureLoopback ?? environment.IsDevelopment();

    /// <summary>
    /// Why <paramref name="url"/> may not be registered, or null. The host is judged as the sender will connect to it:
    /// after IDNA mapping (<see cref="Uri.IdnHost"/>, what the HTTP client resolves), so <c>①②⑦.0.0.1</c> and
    /// <c>127。0。0。1</c> are the loopback address they become. An address literal with a name's final dot is refused:
    /// the resolver would look it up as a name.
    /// </summary>
    public static string? Problem(string url, bool allowInsecureLoopback)
    {
        // The URL parser would drop outer spaces and escape inner ones and control characters: the URL used would not be
        // the one registered (and a raw CR/LF has no business in a URL).
        if (url.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "Must not contain spaces or control characters; percent-encode them.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            return "Must be an absolute URL.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "Must not carry credentials.";
        }

        if (uri.Port == 0)
        {
            return "Must name a port from 1 to 65535, or none.";
        }

        var host = uri.IdnHost;
        var literal = IPAddress.TryParse(host.TrimEnd('.'), out var address) ? address : null;
        if (literal is not null && host.EndsWith('.'))
        {
            return "Must write an IP address without a final dot.";
        }

        var loopback = IsLocalhostName(host) || (literal is not null && IsLoopback(literal));
        if (loopback && allowInsecureLoopback && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return null;
        }

        if (uri.Scheme != Uri.UriSchemeHttps)
        {
            return allowInsecureLoopback ? "Must be https, or http to a loopback address." : "Must be https.";
        }

        if (loopback)
        {
            return "Must not point at this machine.";
        }

        return literal is not null && !IsGloballyReachable(literal)
            ? "Must not point at a private, reserved, link-local, multicast or otherwise non-public address."
            : null;
    }

    /// <summary><c>localhost</c>, any name under it (RFC 6761), and <c>localhost.localdomain</c>, with or without the final dot.</summary>
    public static bool IsLocalhostName(string host)
    {
        var name = host.TrimEnd('.');
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || name.Equals("localhost.localdomain", StringComparison.OrdinalIgnoreCase);
    }

    public static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(Unwrapped(address));

    /// <summary>
    /// False for every address of the IANA special-purpose registries that is not globally reachable, judging the
    /// IPv4 address that IPv4-mapped, IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
    /// addresses carry.
    /// </summary>
    public static bool IsGloballyReachable(IPAddress address)
    {
        address = Unwrapped(address);
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => !NonGlobalV4.Any(block => Contains(block.Network, block.Prefix, address)),
            AddressFamily.InterNetworkV6 => !NonGlobalV6.Any(block => Contains(block.Network, block.Prefix, address)),
            _ => false,
        };
    }

    /// <summary>The IPv4 address an IPv4-mapped, IPv4-translated, NAT64 or 6to4 address stands for; any other address as it is.</summary>
    private static IPAddress Unwrapped(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (Contains(Translated, 96, address) || Contains(Nat64, 96, address))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return Contains(SixToFour, 16, address) ? new IPAddress(bytes.AsSpan(2, 4)) : address;
    }

    private static bool Contains(IPAddress network, int prefix, IPAddress address)
    {
        if (network.AddressFamily != address.AddressFamily)
        {
            return false;
        }

        var a = network.GetAddressBytes();
        var b = address.GetAddressBytes();
        var whole = prefix / 8;
        if (!a.AsSpan(0, whole).SequenceEqual(b.AsSpan(0, whole)))
        {
            return false;
        }

        var rest = prefix % 8;
        if (rest == 0)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - rest));
        return (a[whole] & mask) == (b[whole] & mask);
    }
}
