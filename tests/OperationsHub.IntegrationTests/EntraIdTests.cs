using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Entra ID mode, wired through Microsoft.Identity.Web against an OpenID Connect discovery document and key set that
/// the test serves itself on loopback (there is no network here, and a test must not depend on one anyway).
/// </summary>
public sealed class EntraIdTests : IAsyncLifetime
{
    private const string Directory = LoopbackAuthority.DirectoryId;
    private const string ClientId = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    private LoopbackAuthority _identityProvider = null!;
    private EntraFactory _app = null!;

    private string Authority { get; set; } = "";

    public async ValueTask InitializeAsync()
    {
        _identityProvider = await LoopbackAuthority.StartAsync(TestContext.Current.CancellationToken);
        Authority = _identityProvider.Instance;

        _app = new EntraFactory(Authority);
        await _app.InitializeWorldAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _identityProvider.DisposeAsync();
    }

    [Fact]
    public async Task AnonymousTenantPage_RedirectsToTheAuthoritysAuthorizeEndpoint()
    {
        using var client = _app.CreateClientFor(null);

        using var response = await client.GetAsync("/admin/t/alpha/operations", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = response.Headers.Location!;
        location.GetLeftPart(UriPartial.Path).Should().Be($"{Authority}{Directory}/oauth2/v2.0/authorize");
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(location.Query);
        query["client_id"].ToString().Should().Be(ClientId);
        query["redirect_uri"].ToString().Should().EndWith("/signin-oidc");
        query["scope"].ToString().Should().Contain("openid");
    }

    [Fact]
    public async Task AnonymousApiCall_Gets401WithAChallengeAndProblemDetails_NeverARedirectToTheAuthority()
    {
        using var client = _app.CreateClientFor(null);

        using var response = await client.GetAsync("/api/t/alpha/operations/1", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Headers.Location.Should().BeNull();
        response.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Bearer");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task FirstSignIn_CreatesAUserWithNoMemberships_AndLaterSignInsFindIt()
    {
        var provisioning = _app.Services.GetRequiredService<EntraUserProvisioning>();

        var first = Principal("object-1");
        var second = Principal("object-1");
        (await provisioning.ProvisionAsync(first, TestContext.Current.CancellationToken)).Should().BeTrue();
        (await provisioning.ProvisionAsync(second, TestContext.Current.CancellationToken)).Should().BeTrue();

        var id = first.GetHubUserId();
        id.Should().NotBeNull().And.Be(second.GetHubUserId());
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken);
        var user = await db.Users.SingleAsync(u => u.Id == id, TestContext.Current.CancellationToken);
        user.EntraObjectId.Should().Be("object-1");
        user.EntraTenantId.Should().Be(Directory);
        user.DisplayName.Should().Be("Erin Entra");
        user.PasswordHash.Should().BeNull();
        (await db.Memberships.CountAsync(m => m.UserId == id, TestContext.Current.CancellationToken)).Should().Be(0);
        // Each sign-in starts a server-side session of its own, which sign-out can end without ending the other.
        var sessions = _app.Services.GetRequiredService<HubSessions>();
        first.FindFirstValue(HubClaims.SessionId).Should().NotBe(second.FindFirstValue(HubClaims.SessionId));
        await sessions.EndAsync(first, SessionEndReason.SignedOut, TestContext.Current.CancellationToken);
        (await sessions.CheckAsync(first, touch: false, TestContext.Current.CancellationToken)).Should().Be(SessionState.SignedOut);
        (await sessions.CheckAsync(second, touch: false, TestContext.Current.CancellationToken)).Should().Be(SessionState.Live);
    }

    [Fact]
    public async Task TokenWithoutObjectId_IsNotProvisioned()
    {
        var provisioning = _app.Services.GetRequiredService<EntraUserProvisioning>();
        var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim("tid", Directory)], "oidc"));

        (await provisioning.ProvisionAsync(principal, TestContext.Current.CancellationToken)).Should().BeFalse();
        principal.GetHubUserId().Should().BeNull();
    }

    private static ClaimsPrincipal Principal(string objectId) => new(new ClaimsIdentity(
        [new Claim("oid", objectId), new Claim("tid", Directory), new Claim("name", "Erin Entra"), new Claim("preferred_username", "erin@contoso.example")],
        "oidc"));

    private sealed class EntraFactory(string authority) : HubAppFactory
    {
        protected override bool UseTestAuthentication => false;

        protected override IDictionary<string, string?> Settings => LoopbackAuthority.HubSettings(authority, ClientId);

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // The loopback authority speaks plain HTTP; a real Entra authority is always HTTPS.
            // Configure, not PostConfigure: the OpenID Connect handler's own post-configuration enforces HTTPS.
            builder.ConfigureTestServices(services => services.Configure<OpenIdConnectOptions>(
                OpenIdConnectDefaults.AuthenticationScheme, o => o.RequireHttpsMetadata = false));
        }
    }
}
