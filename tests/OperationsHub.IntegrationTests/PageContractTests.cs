using System.Net;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>The page contract of ../shared/seed (OpenAPI) for both pages, with users of two tenants swapping ids.</summary>
public abstract class PageContractTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubAppFactory _app = new(provider);

    private TestWorld World => _app.World;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    public static TheoryData<string, string, string, HttpStatusCode> Contract => new()
    {
        // who, tenant, run ("" = the runs grid; "alpha" / "beta" = that tenant's run), expected
        { "alphaOwner", "alpha", "", HttpStatusCode.OK },
        { "alphaOwner", "alpha", "alpha", HttpStatusCode.OK },
        { "alphaReadonly", "alpha", "", HttpStatusCode.OK },
        { "alphaReadonly", "alpha", "alpha", HttpStatusCode.OK },
        { "betaOwner", "beta", "", HttpStatusCode.OK },
        { "betaOwner", "beta", "beta", HttpStatusCode.OK },
        // a member of one tenant asking for the other tenant: 403
        { "alphaOwner", "beta", "", HttpStatusCode.Forbidden },
        { "alphaOwner", "beta", "beta", HttpStatusCode.Forbidden },
        { "betaOwner", "alpha", "", HttpStatusCode.Forbidden },
        { "betaOwner", "alpha", "alpha", HttpStatusCode.Forbidden },
        // a run of another tenant under one's own tenant: 403
        { "alphaOwner", "alpha", "beta", HttpStatusCode.Forbidden },
        { "betaOwner", "beta", "alpha", HttpStatusCode.Forbidden },
        // a member of both tenants sees both, but not one tenant's run under the other
        { "both", "alpha", "alpha", HttpStatusCode.OK },
        { "both", "beta", "beta", HttpStatusCode.OK },
        { "both", "beta", "alpha", HttpStatusCode.Forbidden },
        // no memberships at all
        { "outsider", "alpha", "", HttpStatusCode.Forbidden },
        { "outsider", "beta", "beta", HttpStatusCode.Forbidden },
        // unknown tenant or run: 404
        { "alphaOwner", "gamma", "", HttpStatusCode.NotFound },
        { "alphaOwner", "gamma", "alpha", HttpStatusCode.NotFound },
        { "alphaOwner", "alpha", "unknown", HttpStatusCode.NotFound },
        { "outsider", "gamma", "", HttpStatusCode.NotFound },
    };

    [Theory]
    [MemberData(nameof(Contract))]
    public async Task Page_ForUserTenantAndRun_AnswersPerContract(string who, string tenant, string run, HttpStatusCode expected)
    {
        using var client = _app.CreateClientFor(User(who));

        using var response = await client.GetAsync(PathFor(tenant, run), TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(expected);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        switch (expected)
        {
            case HttpStatusCode.Forbidden:
                body.Should().Contain("You don&#x27;t have access to this").And.NotContain("Alpha Corp\u00a0").And.Contain("data-status=\"403\"");
                break;
            case HttpStatusCode.NotFound:
                body.Should().Contain("We couldn&#x27;t find that");
                break;
            default:
                body.Should().Contain(run == "" ? "<h1" : $"#{RunId(run)}");
                break;
        }
    }

    [Fact]
    public async Task UnknownRunOfOnesOwnTenant_Is404_WithTheWayBackToThatTenantsOperations()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var response = await client.GetAsync("/admin/t/alpha/operations/987654321", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        body.Should().Contain("Alpha Corp has no run #987654321").And.Contain("href=\"/admin/t/alpha/operations\"")
            .And.Contain("Back to Alpha Corp operations");
    }

    [Fact]
    public async Task ReadonlyDashboard_SaysItWatches_WithTheNoteAboveTheCards()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaReadonly);

        var body = await client.GetStringAsync("/admin/t/alpha", TestContext.Current.CancellationToken);

        body.Should().Contain("Operations in this tenant").And.NotContain("Start an operation");
        body.IndexOf("data-testid=\"readonly-note\"", StringComparison.Ordinal).Should()
            .BePositive().And.BeLessThan(body.IndexOf("data-operation=", StringComparison.Ordinal), "the note is read before the cards");
    }

    [Fact]
    public async Task RunPage_Breadcrumb_EndsInTheCurrentPage_NotALinkToHash()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        var body = await client.GetStringAsync($"/admin/t/alpha/operations/{_app.World.AlphaRunId}", TestContext.Current.CancellationToken);

        var crumbs = body[body.IndexOf("data-testid=\"breadcrumbs\"", StringComparison.Ordinal)..];
        crumbs = crumbs[..crumbs.IndexOf("</nav>", StringComparison.Ordinal)];
        crumbs.Should().Contain($"<span aria-current=\"page\">#{_app.World.AlphaRunId}</span>").And.NotContain("href=\"#\"");
        crumbs.Should().Contain("href=\"/admin/t/alpha/operations\"");
    }

    [Fact]
    public async Task UnknownRunOfAnotherTenant_Is403_AndNamesNothingOfIt()
    {
        using var client = _app.CreateClientFor(_app.World.AlphaOwner);

        using var response = await client.GetAsync("/admin/t/beta/operations/987654321", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).Should().NotContain("Beta Inc").And.NotContain("status-back");
    }

    [Theory]
    [InlineData("/admin/t/alpha/operations")]
    [InlineData("/admin/t/alpha/operations/1")]
    [InlineData("/admin/t/gamma/operations")]
    [InlineData("/admin/t/alpha")]
    [InlineData("/")]
    public async Task Page_Anonymous_RedirectsToSignInWithReturnUrl(string path)
    {
        using var client = _app.CreateClientFor(null);

        using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = response.Headers.Location!.ToString();
        location.Should().Contain("/account/login?returnUrl=" + Uri.EscapeDataString(path));
    }

    [Fact]
    public async Task ForbiddenPage_IsARealStatus_NotARedirectToAnAccessDeniedUrl()
    {
        using var client = _app.CreateClientFor(World.AlphaOwner);

        using var response = await client.GetAsync($"/admin/t/beta/operations/{World.BetaRunId}", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        response.Headers.Location.Should().BeNull();
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        body.Should().NotContain("Beta Inc", "a forbidden page must not leak the other tenant's name");
    }

    [Fact]
    public async Task Pages_CarrySecurityHeaders()
    {
        using var client = _app.CreateClientFor(World.AlphaOwner);

        using var response = await client.GetAsync("/admin/t/alpha/operations", TestContext.Current.CancellationToken);

        response.Headers.GetValues("Content-Security-Policy").Single()
            .Should().Contain("frame-ancestors 'none'").And.Contain("script-src 'self'").And.NotContain("unsafe-eval");
        response.Headers.GetValues("X-Content-Type-Options").Single().Should().Be("nosniff");
        response.Headers.GetValues("Referrer-Policy").Single().Should().Be("strict-origin-when-cross-origin");
        response.Headers.GetValues("X-Frame-Options").Single().Should().Be("DENY");
    }

    private TestUser User(string who) => who switch
    {
        "alphaOwner" => World.AlphaOwner,
        "alphaReadonly" => World.AlphaReadonly,
        "betaOwner" => World.BetaOwner,
        "both" => World.BothTenants,
        "outsider" => World.Outsider,
        _ => throw new ArgumentOutOfRangeException(nameof(who)),
    };

    private long RunId(string run) => run switch
    {
        "alpha" => World.AlphaRunId,
        "beta" => World.BetaRunId,
        _ => 987_654_321,
    };

    private string PathFor(string tenant, string run) =>
        run == "" ? $"/admin/t/{tenant}/operations" : $"/admin/t/{tenant}/operations/{RunId(run)}";
}

public sealed class PageContractTestsOnSqlite() : PageContractTests(TestProvider.Sqlite);

public sealed class PageContractTestsOnPostgreSql() : PageContractTests(TestProvider.PostgreSql);
