using System.Net;
using System.Net.Sockets;
using OperationsHub.Core.Domain;

namespace OperationsHub.Core.Webhooks;

/// <summary>
/// Where the hub may post: the rule for an endpoint's address when it is registered and for every address its name
/// resolves to when the hub connects (so a name that later resolves to a metadata service is refused too).
/// </summary>
public static class WebhookAddress
{
    private static readonly IPAddress[] MetadataAddresses =
    [
        IPAddress.Parse("169.254.169.254"), // AWS, Azure, GCP, OpenStack
        IPAddress.Parse("100.100.100.200"), // Alibaba Cloud
        IPAddress.Parse("fd00:ec2::254"), // AWS over IPv6
        IPAddress.Parse("168.63.129.16"), // Azure's host endpoint (WireServer)
        IPAddress.Parse("fd20:ce::254"), // Google Cloud over IPv6
    ];

    /// <summary>Why <paramref name="url"/> cannot be an endpoint's address, or null when it can.</summary>
    public static string? Refusal(string? url, WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(url))
        {
            return "Enter the endpoint's address.";
        }

        if (url.Length > WebhookEndpoint.MaxUrlLength)
        {
            return $"The address is longer than {WebhookEndpoint.MaxUrlLength} characters.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || string.IsNullOrEmpty(uri.Host))
        {
            return "The address must be an absolute https:// address.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "The address must not carry a user name or password; the hub signs each request instead.";
        }

        var loopback = uri.IsLoopback;
        if (loopback && !options.AllowLoopback)
        {
            return "Loopback addresses are not allowed on this hub (Webhooks:AllowLoopback).";
        }

        if (uri.Scheme == "http" && !loopback)
        {
            return "The address must use https:// (plain http is allowed only to loopback, for local use).";
        }

        return IPAddress.TryParse(uri.IdnHost, out var literal) ? AddressRefusal(literal, options) : null;
    }

    /// <summary>Why the hub must not connect to <paramref name="address"/>, or null when it may.</summary>
    public static string? AddressRefusal(IPAddress address, WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        var ip = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (IPAddress.IsLoopback(ip))
        {
            return options.AllowLoopback ? null : "a loopback address";
        }

        if (MetadataAddresses.Contains(ip) || IsLinkLocal(ip))
        {
            return options.AllowLinkLocal ? null : "a link-local or cloud metadata address";
        }

        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) || ip.Equals(IPAddress.Broadcast) || IsMulticast(ip)
            || (ip.AddressFamily == AddressFamily.InterNetwork && ip.GetAddressBytes()[0] == 0))
        {
            return "an address no request can be sent to";
        }

        return null;
    }

    private static bool IsLinkLocal(IPAddress ip) => ip.AddressFamily switch
    {
        AddressFamily.InterNetwork => ip.GetAddressBytes() is [169, 254, ..],
        AddressFamily.InterNetworkV6 => ip.IsIPv6LinkLocal,
        _ => false,
    };

    private static bool IsMulticast(IPAddress ip) => ip.AddressFamily switch
    {
        AddressFamily.InterNetwork => ip.GetAddressBytes()[0] is >= 224 and <= 239,
        AddressFamily.InterNetworkV6 => ip.IsIPv6Multicast,
        _ => false,
    };
}
