using Microsoft.AspNetCore.Http;
using OperationsHub.Web.Features.Preferences;

namespace OperationsHub.Web.Tests;

public sealed class ViewerTimeTests
{
    private static readonly DateTime Winter = new(2026, 1, 15, 18, 30, 0, DateTimeKind.Utc);
    private static readonly DateTime Summer = new(2026, 7, 15, 18, 30, 0, DateTimeKind.Utc);

    [Fact]
    public void Local_IsTheMomentInTheZone_WithItsOffsetAtThatMoment()
    {
        var berlin = ViewerTime.For("Europe/Berlin");

        berlin.Local(Winter).Should().Be("2026-01-15 19:30:00 UTC+01:00");
        berlin.Local(Summer).Should().Be("2026-07-15 20:30:00 UTC+02:00");
        ViewerTime.For("Asia/Kolkata").Local(Winter).Should().Be("2026-01-16 00:00:00 UTC+05:30");
        ViewerTime.For("America/Los_Angeles").Local(Winter).Should().Be("2026-01-15 10:30:00 UTC-08:00");
        berlin.Both(Winter).Should().Be("2026-01-15 19:30:00 UTC+01:00 · 2026-01-15 18:30:00 UTC");
        berlin.Local(null).Should().Be("—");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("../../etc/passwd")]
    public void UnknownOrMissingZone_IsUtc(string? zone)
    {
        var time = ViewerTime.For(zone);

        time.Should().BeSameAs(ViewerTime.Utc);
        time.Local(Winter).Should().Be("2026-01-15 18:30:00 UTC");
        time.Both(Winter).Should().Be("2026-01-15 18:30:00 UTC");
    }

    [Theory]
    [InlineData("Europe%2FBerlin", "Europe/Berlin")]
    [InlineData("Nowhere%2FLand", null)]
    public void ZoneIdFrom_ReadsTheCookie_AndDropsWhatTheServerDoesNotKnow(string cookie, string? expected)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"{ViewerTime.CookieName}={cookie}";

        ViewerTime.ZoneIdFrom(context.Request).Should().Be(expected);
    }
}
