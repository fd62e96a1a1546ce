using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace OperationsHub.Web.Features.Preferences;

/// <summary>
/// Times as the viewer reads them: in the browser's time zone (told by <c>brand/timezone.js</c> in the
/// <see cref="CookieName"/> cookie), with the exact UTC time for hover. Cascaded from the root of every page; UTC when
/// the browser did not say or named a zone this server does not know.
/// </summary>
public sealed class ViewerTime
{
    public const string CookieName = "hub_tz";

    public static ViewerTime Utc { get; } = new(TimeZoneInfo.Utc);

    public ViewerTime(TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        Zone = zone;
    }

    public TimeZoneInfo Zone { get; }

    /// <summary>The zone the browser named in its cookie (an IANA id such as Europe/Berlin), or null for none or unknown.</summary>
    public static string? ZoneIdFrom(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = request.Cookies[CookieName];
        return id is { Length: > 0 and <= 64 } && TimeZoneInfo.TryFindSystemTimeZoneById(id, out _) ? id : null;
    }

    public static ViewerTime For(string? zoneId) =>
        zoneId is not null && TimeZoneInfo.TryFindSystemTimeZoneById(zoneId, out var zone) ? new ViewerTime(zone) : Utc;

    /// <summary>"2026-12-02 19:30:38 UTC+01:00": the moment in the viewer's zone, with its offset then.</summary>
    public string Local(DateTime? utc)
    {
        if (utc is not { } value)
        {
            return "—";
        }

        var at = DateTime.SpecifyKind(value, DateTimeKind.Utc);
        var offset = Zone.GetUtcOffset(at);
        if (offset == TimeSpan.Zero && Zone == TimeZoneInfo.Utc)
        {
            return Exact(at);
        }

        var local = TimeZoneInfo.ConvertTimeFromUtc(at, Zone);
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        return local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
            + $" UTC{sign}{offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture)}";
    }

    /// <summary>"2026-12-02 18:30:38 UTC": what hover shows.</summary>
    public static string Exact(DateTime? utc) =>
        utc is { } value ? value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC" : "—";

    /// <summary>The hover text of a relative time ("3 min ago"): the local moment and the exact UTC one.</summary>
    public string Both(DateTime? utc) => Zone == TimeZoneInfo.Utc || utc is null ? Exact(utc) : $"{Local(utc)} · {Exact(utc)}";
}
