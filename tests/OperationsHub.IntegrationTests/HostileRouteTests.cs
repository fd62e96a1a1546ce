using System.Net;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>Whatever lands in a route value gets a clear 400 or 404, never a 500.</summary>
public sealed class HostileRouteTests : IAsyncLifetime
{
    // A real socket: the in-memory test client refuses some of these paths before the app could answer them.
    private readonly HubAppFactory _app = new() { RealServer = true };

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    public static TheoryData<string> HostileValues => new()
    {
        "-1",
        "0",
        "00",
        "+5",
        "1.5",
        "1e3",
        "9223372036854775807",
        "9223372036854775808",
        "99999999999999999999999999999",
        "abc",
        "%20",
        "%00",
        "a%2Fb",
        "..%2F..%2Fetc%2Fpasswd",
        "%252F",
        "1%3B%20DROP%20TABLE%20operation_runs",
        "%27%20OR%20%271%27%3D%271",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%E2%80%AE1",
        "%F0%9F%98%80",
        "%C3%A9t%C3%A9",
        "%FF%FE",
        new string('9', 4000),
        "NaN",
    };

    [Theory]
    [MemberData(nameof(HostileValues))]
    public async Task RunRoute_HostileRunId_Is404(string value)
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var response = await client.GetAsync($"/admin/t/alpha/operations/{value}", TestContext.Current.CancellationToken);

        response.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.BadRequest);
    }

    [Theory]
    [MemberData(nameof(HostileValues))]
    public async Task TenantRoute_HostileTenantId_Is404(string value)
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var list = await client.GetAsync($"/admin/t/{value}/operations", TestContext.Current.CancellationToken);
        using var run = await client.GetAsync($"/admin/t/{value}/operations/1", TestContext.Current.CancellationToken);

        list.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.BadRequest);
        run.StatusCode.Should().BeOneOf(HttpStatusCode.NotFound, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task MalformedQueryString_IsNotA500()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var response = await client.GetAsync("/admin/t/alpha/operations?page=%ZZ&x=%00&&=", TestContext.Current.CancellationToken);

        ((int)response.StatusCode).Should().BeLessThan(500);
    }
}
