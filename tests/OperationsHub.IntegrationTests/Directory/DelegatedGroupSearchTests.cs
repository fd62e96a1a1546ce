using System.Security.Claims;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Identity.Abstractions;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Directory;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>
/// The RBAC group search in Entra ID mode, against a fake Microsoft Graph: one request per search or page, with the
/// signed-in admin's delegated token and the header Graph's advanced queries need; no request at all when the admin
/// has no token to send.
/// </summary>
public sealed class DelegatedGroupSearchTests : IAsyncLifetime
{
    private const string AdminObjectId = "0b0b0b0b-1111-4222-8333-444444444444";

    private EntraDirectoryFactory _app = null!;

    private FakeGraph Graph => _app.Graph;

    // Scoped like a Blazor circuit's: one scope per test.
    private DelegatedGroupSearch Search => (_scope ??= _app.Services.CreateScope()).ServiceProvider.GetRequiredService<DelegatedGroupSearch>();

    private IServiceScope? _scope;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _app = await EntraDirectoryFactory.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _scope?.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task CheckAsync_AdminWithConsent_IsAvailableAndSendsGraphNothing()
    {
        var state = await Search.CheckAsync(await AdminAsync(), Ct);

        state.Access.Should().Be(DelegatedAccess.Available);
        state.Enabled.Should().BeTrue();
        Graph.CountRequests().Should().Be(0, "the check runs while a page renders and only asks for a token");
        _app.Headers.UserRequests.Should().ContainSingle()
            .Which.Should().BeEquivalentTo(new { ObjectId = AdminObjectId, Granted = true, Scopes = new[] { "GroupMember.Read.All" } });
    }

    [Fact]
    public async Task SearchAsync_ByName_SendsOneRequestWithTheDelegatedTokenAndEventualConsistency()
    {
        Graph.ScriptSearch("Fin", new GraphPage(
            FakeGraph.Group("00000000-0000-4000-8000-00000000f001", "Finance", securityEnabled: true),
            FakeGraph.Group("00000000-0000-4000-8000-00000000f002", "Finance Leadership", groupTypes: ["Unified"], mailEnabled: true)));

        var result = await Search.SearchAsync(await AdminAsync(), "Fin", null, Ct);

        result.Succeeded.Should().BeTrue(result.Error);
        result.Groups.Select(g => (g.DisplayName, g.Kind)).Should().Equal(
            ("Finance", DirectoryGroupKind.Security), ("Finance Leadership", DirectoryGroupKind.Microsoft365));
        result.NextLink.Should().BeNull();
        var request = Graph.Requests.Should().ContainSingle().Subject;
        request.Method.Should().Be("GET");
        request.Path.Should().Be(FakeGraph.GroupsPath);
        request.Authorization.Should().Be($"Bearer delegated-{AdminObjectId}");
        request.ConsistencyLevel.Should().Be("eventual");
        request.Param("$search").Should().Be("\"displayName:Fin\"");
        request.Param("$top").Should().Be(DelegatedGroupSearch.PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Status.Should().Be(200);
        _app.Headers.AppRequests.Should().BeEmpty("the search never uses the app's own identity");
    }

    [Fact]
    public async Task SearchAsync_NextLinkOfTheFirstPage_ReturnsTheSecondPage()
    {
        Graph.ScriptSearch("Fin",
            new GraphPage(FakeGraph.Group("00000000-0000-4000-8000-00000000f001", "Finance", securityEnabled: true)),
            new GraphPage(FakeGraph.Group("00000000-0000-4000-8000-00000000f003", "Finance Interns", securityEnabled: true)));
        var admin = await AdminAsync();

        var first = await Search.SearchAsync(admin, "Fin", null, Ct);
        var second = await Search.SearchAsync(admin, "", first.NextLink, Ct);

        first.Groups.Should().ContainSingle().Which.DisplayName.Should().Be("Finance");
        first.NextLink.Should().StartWith(Graph.BaseUrl.ToString());
        second.Succeeded.Should().BeTrue(second.Error);
        second.Groups.Should().ContainSingle().Which.DisplayName.Should().Be("Finance Interns");
        second.NextLink.Should().BeNull();
        var requests = Graph.Requests;
        requests.Should().HaveCount(2);
        requests[1].Param("$skiptoken").Should().NotBeNullOrEmpty();
        requests.Should().OnlyContain(r => r.Status == 200 && r.Authorization == $"Bearer delegated-{AdminObjectId}" && r.ConsistencyLevel == "eventual");
    }

    [Fact]
    public async Task SearchAsync_NextLinkOffTheGraphHost_IsRefusedWithoutARequest()
    {
        var result = await Search.SearchAsync(await AdminAsync(), "", "http://attacker.example/v1.0/groups?$skiptoken=x", Ct);

        result.Succeeded.Should().BeFalse();
        result.Error.Should().Contain("search again");
        Graph.CountRequests().Should().Be(0);
    }

    [Fact]
    public async Task SearchAsync_WhenGraphThrottles_ReturnsAnErrorSayingWhenToTryAgain()
    {
        Graph.ScriptSearch("Fin", new GraphPage(FakeGraph.Group("00000000-0000-4000-8000-00000000f001", "Finance", securityEnabled: true)));
        Graph.ThrottleNext(FakeGraph.GroupsPath, retryAfterSeconds: 1);

        var result = await Search.SearchAsync(await AdminAsync(), "Fin", null, Ct);

        result.Succeeded.Should().BeFalse();
        result.Groups.Should().BeEmpty();
        result.Error.Should().ContainEquivalentOf("try the search again").And.Contain("1 s");
        Graph.Requests.Should().ContainSingle().Which.Status.Should().Be(429, "a person's search is not retried behind their back");
    }

    [Fact]
    public async Task SearchAsync_AdminWithoutConsent_NeedsConsentAndSendsGraphNothing()
    {
        var admin = await AdminAsync(consented: false);

        var check = await Search.CheckAsync(admin, Ct);
        var result = await Search.SearchAsync(admin, "Fin", null, Ct);

        check.Access.Should().Be(DelegatedAccess.NeedsConsent);
        check.CanReconnect.Should().BeTrue();
        result.Succeeded.Should().BeFalse();
        result.Access!.Access.Should().Be(DelegatedAccess.NeedsConsent);
        result.Error.Should().Contain("consent");
        Graph.CountRequests().Should().Be(0);
        _app.Headers.UserRequests.Should().HaveCount(2).And.OnlyContain(r => !r.Granted);
    }

    private async Task<ClaimsPrincipal> AdminAsync(bool consented = true) =>
        FakeAuthorizationHeaderProvider.EntraUser(await _app.SignInAsync(_app.World.AlphaOwner), AdminObjectId, LoopbackAuthority.DirectoryId, consented);
}

/// <summary>
/// Local sign-in mode: there is no Entra identity and so no delegated token, and the search says so instead of
/// calling Graph. A header provider is registered anyway, so a search that forgot the mode would reach the fake.
/// </summary>
public sealed class DelegatedGroupSearchLocalModeTests : IAsyncLifetime
{
    private FakeGraph _graph = null!;
    private LocalFactory _app = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _graph = await FakeGraph.StartAsync(Ct);
        _app = new LocalFactory(_graph);
        await _app.InitializeWorldAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task CheckAndSearch_LocalSignIn_ExplainTheLocalAccountAndSendGraphNothing()
    {
        _graph.ScriptSearch("Fin", new GraphPage(FakeGraph.Group("00000000-0000-4000-8000-00000000f001", "Finance", securityEnabled: true)));
        using var scope = _app.Services.CreateScope();
        var search = scope.ServiceProvider.GetRequiredService<DelegatedGroupSearch>();
        // Even a principal that carries an object id: the mode decides, not the claims.
        var user = FakeAuthorizationHeaderProvider.EntraUser(await _app.SignInAsync(_app.World.AlphaOwner), "object-1", LoopbackAuthority.DirectoryId);

        var state = await search.CheckAsync(user, Ct);
        var result = await search.SearchAsync(user, "Fin", null, Ct);

        state.Access.Should().Be(DelegatedAccess.LocalSignIn);
        state.Enabled.Should().BeFalse();
        state.Reason.Should().ContainEquivalentOf("local");
        result.Succeeded.Should().BeFalse();
        result.Access!.Access.Should().Be(DelegatedAccess.LocalSignIn);
        result.Groups.Should().BeEmpty();
        _graph.CountRequests().Should().Be(0);
        _app.Headers.UserRequests.Should().BeEmpty();
    }

    private sealed class LocalFactory(FakeGraph graph) : HubAppFactory
    {
        public FakeAuthorizationHeaderProvider Headers { get; } = new();

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Graph:BaseUrl"] = graph.BaseUrl.ToString(),
        };

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureTestServices(services => services.AddSingleton<IAuthorizationHeaderProvider>(Headers));
        }
    }
}

/// <summary>
/// With Microsoft.Identity.Web's own token acquisition (scoped, as it registers it, and looked up under the OpenID
/// Connect scheme's name): the check runs inside a circuit's scope and, when no token can be had (here MSAL refuses
/// the plain-HTTP loopback authority; in production, no consent yet), answers with the search off and a way to
/// reconnect, never an exception that would end the circuit, and asks Graph nothing.
/// </summary>
public sealed class DelegatedGroupSearchRealTokenAcquisitionTests : IAsyncLifetime
{
    private EntraDirectoryFactory _app = null!;

    private FakeGraph Graph => _app.Graph;

    public async ValueTask InitializeAsync()
    {
        _app = await EntraDirectoryFactory.StartAsync(realTokenAcquisition: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task CheckAsync_WithoutAToken_SaysWhy_InsideTheScopeABlazorCircuitHas()
    {
        using var scope = _app.Services.CreateScope();
        var search = scope.ServiceProvider.GetRequiredService<DelegatedGroupSearch>();
        var user = FakeAuthorizationHeaderProvider.EntraUser(await _app.SignInAsync(_app.World.AlphaOwner), "object-1", LoopbackAuthority.DirectoryId);

        var state = await search.CheckAsync(user, TestContext.Current.CancellationToken);

        state.Enabled.Should().BeFalse();
        state.CanReconnect.Should().BeTrue("signing in again with the scope is how an admin gets the token");
        state.Reason.Should().StartWith("Group search is off");
        Graph.Requests.Should().BeEmpty();
    }
}
