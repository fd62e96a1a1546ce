using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// EntraId mode: the API takes Entra ID access tokens for the hub's own app registration, validated by
/// Microsoft.Identity.Web against the loopback authority (its discovery document and signing keys), with app roles
/// mapped to hub roles in the tenants linked to the token's directory. A daemon gets its token from the authority's
/// token endpoint with the client credentials grant, exactly as it would from Entra ID.
/// </summary>
public abstract class EntraApiTests(TestProvider provider) : IAsyncLifetime
{
    private const string HubClientId = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    private const string OtherDirectory = "99999999-8888-7777-6666-555555555555";
    private LoopbackAuthority _authority = null!;
    private EntraApiFactory _app = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _authority = await LoopbackAuthority.StartAsync(Ct, https: true);
        _authority.RegisterClient("operator-daemon", "s3cret-operator", "sp-operator", "OperationsHub.Operator");
        _authority.RegisterClient("reader-daemon", "s3cret-reader", "sp-reader", "OperationsHub.Reader");
        _authority.RegisterClient("roleless-daemon", "s3cret-roleless", "sp-roleless", "Something.Else");
        _app = new EntraApiFactory(_authority, provider);
        await _app.InitializeWorldAsync();
        // alpha belongs to the authority's directory; beta to another one.
        await using var db = await DbAsync();
        await db.Tenants.Where(t => t.ExternalId == TestWorld.Alpha).ExecuteUpdateAsync(s => s.SetProperty(t => t.DirectoryTenantId, LoopbackAuthority.DirectoryId), Ct);
        await db.Tenants.Where(t => t.ExternalId == TestWorld.Beta).ExecuteUpdateAsync(s => s.SetProperty(t => t.DirectoryTenantId, OtherDirectory), Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _authority.DisposeAsync();
    }

    [Fact]
    public async Task ADaemonWithTheOperatorAppRole_StartsListsAndCancelsRuns_NamedAfterItsApp()
    {
        using var client = await DaemonClientAsync("operator-daemon", "s3cret-operator");

        using var started = await client.PostAsJsonAsync("/api/t/alpha/operations",
            new { type = "policy_sync", target = "Entra daemon run" }, Ct);

        started.StatusCode.Should().Be(HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync(Ct));
        var run = await Json(started);
        var id = run.GetProperty("id").GetInt64();
        run.GetProperty("initiator").GetString().Should().Be("Entra ID app operator-daemon");
        await using (var db = await DbAsync())
        {
            var row = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == id, Ct);
            var user = await db.Users.AsNoTracking().SingleAsync(u => u.Id == row.InitiatorUserId, Ct);
            user.EntraObjectId.Should().Be("sp-operator", "the daemon's service principal is the run's initiator");
            user.EntraTenantId.Should().Be(LoopbackAuthority.DirectoryId);
            (await db.Memberships.CountAsync(m => m.UserId == user.Id, Ct)).Should().Be(0, "an app role is not a membership");
        }

        using var list = await client.GetAsync("/api/t/alpha/operations?limit=5", Ct);
        list.StatusCode.Should().Be(HttpStatusCode.OK);
        (await Json(list)).GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).Should().Contain(id);

        using var cancelled = await client.PostAsJsonAsync($"/api/t/alpha/operations/{id}/cancel", new { reason = "Not needed" }, Ct);
        cancelled.IsSuccessStatusCode.Should().BeTrue(await cancelled.Content.ReadAsStringAsync(Ct));

        // A second token of the same app is the same hub user, not a new one per call.
        using var again = await DaemonClientAsync("operator-daemon", "s3cret-operator");
        using var second = await again.GetAsync("/api/t/alpha/operation-types", Ct);
        second.StatusCode.Should().Be(HttpStatusCode.OK);
        await using (var db = await DbAsync())
        {
            (await db.Users.CountAsync(u => u.EntraObjectId == "sp-operator", Ct)).Should().Be(1);
        }
    }

    [Fact]
    public async Task TheReaderAppRole_Reads_ButStartingIs403()
    {
        using var client = await DaemonClientAsync("reader-daemon", "s3cret-reader");

        using var list = await client.GetAsync("/api/t/alpha/operations", Ct);
        using var start = await client.PostAsJsonAsync("/api/t/alpha/operations", new { type = "policy_sync" }, Ct);

        list.StatusCode.Should().Be(HttpStatusCode.OK, await list.Content.ReadAsStringAsync(Ct));
        start.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        start.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task ATenantOfAnotherDirectory_AndATokenWithNoneOfTheHubsAppRoles_Are403()
    {
        using var operatorClient = await DaemonClientAsync("operator-daemon", "s3cret-operator");
        using var roleless = await DaemonClientAsync("roleless-daemon", "s3cret-roleless");

        using var otherTenant = await operatorClient.GetAsync("/api/t/beta/operations", Ct);
        using var otherRun = await operatorClient.GetAsync($"/api/t/beta/operations/{_app.World.BetaRunId}", Ct);
        using var noRole = await roleless.GetAsync("/api/t/alpha/operations", Ct);

        otherTenant.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        otherRun.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        noRole.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await Json(noRole)).GetProperty("status").GetInt32().Should().Be(403);
    }

    [Fact]
    public async Task AUsersDelegatedToken_ActsAsThatPerson_WithTheRoleItsAppRolesGrant()
    {
        var token = _authority.IssueAccessToken(HubClientId, "some-cli", "person-1", ["OperationsHub.Manager"],
            scopes: "Operations.ReadWrite", name: "Dana Delegated");
        using var client = _app.CreateApiClient(token);

        using var started = await client.PostAsJsonAsync("/api/t/alpha/operations", new { type = "policy_sync", target = "Delegated" }, Ct);

        started.StatusCode.Should().Be(HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync(Ct));
        (await Json(started)).GetProperty("initiator").GetString().Should().Be("Dana Delegated");
    }

    [Theory]
    [InlineData("expired", "expired")]
    [InlineData("audience", "another application")]
    [InlineData("key", "signature")]
    [InlineData("issuer", "authority this hub does not trust")]
    public async Task ATokenTheAuthorityDidNotIssueForTheHub_Is401WithTheReason(string flaw, string reason)
    {
        var token = flaw switch
        {
            "expired" => _authority.IssueAccessToken(HubClientId, "operator-daemon", "sp-operator", ["OperationsHub.Operator"], expires: DateTime.UtcNow.AddMinutes(-10)),
            "audience" => _authority.IssueAccessToken("00000003-0000-0000-c000-000000000000", "operator-daemon", "sp-operator", ["OperationsHub.Operator"]),
            "key" => _authority.IssueAccessToken(HubClientId, "operator-daemon", "sp-operator", ["OperationsHub.Operator"],
                signingKey: LoopbackAuthority.NewKey("loopback-1")),
            _ => _authority.IssueAccessToken(HubClientId, "operator-daemon", "sp-operator", ["OperationsHub.Operator"], directoryId: OtherDirectory),
        };
        using var client = _app.CreateApiClient(token);

        using var response = await client.GetAsync("/api/t/alpha/operations", Ct);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        response.Headers.WwwAuthenticate.ToString().Should().Contain("error=\"invalid_token\"");
        var problem = await Json(response);
        problem.GetProperty("detail").GetString().Should().Contain(reason);
        problem.GetProperty("detail").GetString().Should().NotContain(token[..20], "a refusal never echoes the token");
    }

    [Fact]
    public async Task HubApiTokens_KeepWorkingInEntraIdMode_AndTheCookieIsStillRefused()
    {
        using var tokenClient = _app.CreateApiClientFor(_app.World.AlphaOperator);
        using var tokenList = await tokenClient.GetAsync("/api/t/alpha/operations", Ct);
        using var anonymous = _app.CreateClientFor(null);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/t/alpha/operations");
        request.Headers.Add("Cookie", "opshub.auth=anything");
        using var cookie = await anonymous.SendAsync(request, Ct);

        tokenList.StatusCode.Should().Be(HttpStatusCode.OK);
        cookie.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await Json(cookie)).GetProperty("detail").GetString().Should().Contain("does not take the browser's sign-in cookie");
    }

    /// <summary>What a daemon does: the client credentials grant at the authority's token endpoint, then the hub's API.</summary>
    private async Task<HttpClient> DaemonClientAsync(string clientId, string secret)
    {
        using var http = new HttpClient(_authority.CreateTrustingHandler());
        using var tokenResponse = await http.PostAsync($"{_authority.Instance}{LoopbackAuthority.DirectoryId}/oauth2/v2.0/token",
            new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = clientId,
                ["client_secret"] = secret,
                ["scope"] = $"api://{HubClientId}/.default",
            }), Ct);
        tokenResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        var token = (await Json(tokenResponse)).GetProperty("access_token").GetString()!;
        var client = _app.CreateClientFor(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    private Task<HubDbContext> DbAsync() =>
        _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct);

    private sealed class EntraApiFactory(LoopbackAuthority authority, TestProvider provider) : HubAppFactory(provider)
    {
        protected override bool UseTestAuthentication => false;

        protected override IDictionary<string, string?> Settings => LoopbackAuthority.HubSettings(authority.Instance, HubClientId);

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // The authority serves HTTPS with its own certificate: the hub's calls to it (discovery, keys, the issuer
            // validator's own discovery) trust that one certificate, as a real machine trusts Entra ID's.
            builder.ConfigureTestServices(services =>
            {
                services.Configure<OpenIdConnectOptions>(OpenIdConnectDefaults.AuthenticationScheme, o => o.BackchannelHttpHandler = authority.CreateTrustingHandler());
                services.Configure<JwtBearerOptions>(EntraApiAuthentication.Scheme, o => o.BackchannelHttpHandler = authority.CreateTrustingHandler());
                services.Configure<Microsoft.Identity.Web.AadIssuerValidatorOptions>(o => o.HttpClientName = "loopback-authority");
                services.AddHttpClient("loopback-authority").ConfigurePrimaryHttpMessageHandler(authority.CreateTrustingHandler);
            });
        }
    }
}

public sealed class EntraApiTestsOnSqlite() : EntraApiTests(TestProvider.Sqlite);

public sealed class EntraApiTestsOnPostgreSql() : EntraApiTests(TestProvider.PostgreSql);
