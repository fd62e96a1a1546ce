using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.Directory;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>
/// The directory pages in Entra ID mode with directory sync pointed at a fake Microsoft Graph that records every
/// request: rendering the restore mapping, the directory and the access pages asks Graph nothing; a restore of another
/// tenant's backup is refused; and a role through a group binding comes and goes with the binding.
/// </summary>
public abstract class DirectoryPagesTests(OperationsHub.Testing.TestProvider provider) : IAsyncLifetime
{
    private const string FinanceId = "00000000-0000-4000-8000-00000000f001";
    private const string SalesA = "00000000-0000-4000-8000-00000000a001";
    private const string SalesB = "00000000-0000-4000-8000-00000000a002";

    private EntraDirectoryFactory _app = null!;

    private TestWorld World => _app.World;

    private FakeGraph Graph => _app.Graph;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _app = await EntraDirectoryFactory.StartAsync(new Dictionary<string, string?> { ["Graph:DirectorySource"] = "Graph" }, provider: provider);
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(Ct);
        db.DirectoryGroups.AddRange(
            Cached(FinanceId, "Finance"),
            Cached(SalesA, "Sales"),
            Cached(SalesB, "Sales"));
        db.DirectorySyncStates.Add(new DirectorySyncState { TenantId = World.AlphaTenantId, LastRunId = World.AlphaRunId, LastSyncedAt = DateTime.UtcNow, LastAdded = 3 });
        db.Backups.Add(new PolicyBackup
        {
            TenantId = World.AlphaTenantId,
            RunId = 424242,
            TakenAt = DateTime.UtcNow,
            PolicyCount = 2,
            Assignments =
            [
                new BackupAssignment { PolicyId = "p1", PolicyName = "Baseline", SourceGroupId = "5e1f0a10-0000-4000-8000-000000000002", SourceGroupName = "Finance" },
                new BackupAssignment { PolicyId = "p2", PolicyName = "Phones", SourceGroupId = "5e1f0a10-0000-4000-8000-000000000003", SourceGroupName = "Sales" },
            ],
        });
        await db.SaveChangesAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task RestoreMappingPage_RendersFromTheCache_AndAsksGraphNothing()
    {
        using var client = _app.CreateClientFor(World.AlphaOperator);

        var html = await client.GetStringAsync("/admin/t/alpha/restore", Ct);

        // The whole mapping rendered on the server (the first load renders it in full), from the database alone.
        html.Should().Contain("data-testid=\"directory-cache-help\"").And.Contain("never calls Microsoft Graph");
        html.Should().Contain("Suggested: the only cached group named &quot;Finance&quot;");
        html.Should().Contain("2 cached groups are named &quot;Sales&quot;, so none is suggested");
        Graph.Requests.Should().BeEmpty("rendering the restore mapping must not call Microsoft Graph");
        _app.Headers.AppRequests.Should().BeEmpty("nor ask for a Graph token");
    }

    [Theory]
    [InlineData("/admin/t/alpha/directory", "Finance")]
    [InlineData("/admin/t/alpha/restore", "2 policies, 2 assignments")]
    [InlineData("/admin/t/alpha/access", "Ada Owner")]
    public async Task DirectoryPages_Render_AndAskGraphNothing(string path, string shown)
    {
        using var client = _app.CreateClientFor(World.AlphaOwner);

        using var response = await client.GetAsync(path, Ct);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync(Ct)).Should().Contain("<h1").And.Contain(shown);
        Graph.Requests.Should().BeEmpty();
    }

    [Theory]
    [InlineData("fin", 1)]
    [InlineData("SALES", 2)]
    [InlineData("%", 0)]
    [InlineData("_", 0)]
    [InlineData("00000000-0000-4000-8000-00000000f001", 1)]
    public async Task DirectorySearch_IsASubstringOfNameMailOrId_WhateverTheCase_WithNoWildcards(string text, int expected)
    {
        var queries = _app.Services.GetRequiredService<DirectoryQueries>();

        var page = await queries.ListAsync(World.AlphaTenantId, text, includeRemoved: false, page: 0, pageSize: 25, Ct);

        page.Total.Should().Be(expected);
        page.Rows.Should().HaveCount(expected);
    }

    [Theory]
    [InlineData("/admin/t/beta/restore")]
    [InlineData("/admin/t/beta/directory")]
    [InlineData("/admin/t/beta/access")]
    public async Task AnotherTenantsDirectoryPages_Are403(string path)
    {
        using var client = _app.CreateClientFor(World.AlphaOwner);

        using var response = await client.GetAsync(path, Ct);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task RestoreOfAnotherTenantsBackup_ThroughTheApi_Is403_AndStartsNothing()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);

        using var response = await client.PostAsJsonAsync("/api/t/alpha/operations",
            new { type = "restore", identityInputs = new { backup_id = World.BetaBackupId } }, Ct);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync(Ct)).Should().Contain("belongs to another tenant");
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct);
        (await db.Runs.CountAsync(r => r.Type == "restore", Ct)).Should().Be(0);
    }

    [Fact]
    public async Task RestoreWithAFreeTextBackupId_IsAValidationProblemOnIdentityInputs()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);

        using var response = await client.PostAsJsonAsync("/api/t/alpha/operations",
            new { type = "restore", identityInputs = new { backup_id = "bk-7" } }, Ct);

        // The API answers every invalid start as a 422 validation problem naming the field.
        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        var body = await response.Content.ReadAsStringAsync(Ct);
        body.Should().Contain("identityInputs").And.Contain("Choose a backup");
    }

    [Fact]
    public async Task ARoleThroughAGroupBinding_IsGranted_AndTakenAwayWithTheBinding()
    {
        var access = _app.Services.GetRequiredService<TenantAccess>();
        var commands = _app.Services.GetRequiredService<AccessCommands>();
        var owner = await _app.SignInAsync(World.AlphaOwner);
        // Olga is no member of alpha; her Entra token says she is in the Finance group.
        var olga = WithGroups(await _app.SignInAsync(World.Outsider), FinanceId);

        (await access.ResolveAsync(olga, TestWorld.Alpha, Ct)).Status.Should().Be(AccessStatus.Forbidden);

        var bound = await commands.BindAsync(owner, TestWorld.Alpha, FinanceId, null, TenantRole.Operator, Ct);
        bound.Status.Should().Be(CommandStatus.Ok);
        bound.Value!.GroupDisplayName.Should().Be("Finance", "the cache names the group");
        var granted = await access.ResolveAsync(olga, TestWorld.Alpha, Ct);
        granted.Status.Should().Be(AccessStatus.Allowed);
        granted.Tenant!.Role.Should().Be(TenantRole.Operator);
        (await access.GetUserTenantsAsync(olga, Ct)).Should().ContainSingle(t => t.ExternalId == TestWorld.Alpha && t.Role == TenantRole.Operator);
        // Her start goes through, as any operator's.
        (await _app.Services.GetRequiredService<RunCommands>().StartAsync(olga, TestWorld.Alpha, new StartRunInput("policy_sync"), Ct))
            .Status.Should().Be(CommandStatus.Ok);

        (await commands.UnbindAsync(owner, TestWorld.Alpha, FinanceId, Ct)).Status.Should().Be(CommandStatus.Ok);
        (await access.ResolveAsync(olga, TestWorld.Alpha, Ct)).Status.Should().Be(AccessStatus.Forbidden);
        (await _app.Services.GetRequiredService<RunCommands>().StartAsync(olga, TestWorld.Alpha, new StartRunInput("inventory_sync"), Ct))
            .Status.Should().Be(CommandStatus.Forbidden);
    }

    [Fact]
    public async Task AGroupBindingAndADirectMembership_TheHigherRoleApplies()
    {
        var commands = _app.Services.GetRequiredService<AccessCommands>();
        await commands.BindAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, SalesA, null, TenantRole.Manager, Ct);
        var rita = WithGroups(await _app.SignInAsync(World.AlphaReadonly), SalesA);

        var resolved = await _app.Services.GetRequiredService<TenantAccess>().ResolveAsync(rita, TestWorld.Alpha, Ct);

        resolved.Tenant!.Role.Should().Be(TenantRole.Manager);
    }

    [Fact]
    public async Task OnlyAnOwner_ChangesBindings_WhateverThePageShowed()
    {
        var commands = _app.Services.GetRequiredService<AccessCommands>();
        var manager = await _app.SignInAsync(World.BothTenants);
        var betaOwner = await _app.SignInAsync(World.BetaOwner);
        var owner = await _app.SignInAsync(World.AlphaOwner);

        (await commands.BindAsync(manager, TestWorld.Alpha, FinanceId, null, TenantRole.Owner, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await commands.BindAsync(betaOwner, TestWorld.Alpha, FinanceId, null, TenantRole.Owner, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        (await commands.BindAsync(owner, TestWorld.Alpha, "not-a-guid", null, TenantRole.Operator, Ct)).Status.Should().Be(CommandStatus.Invalid);
        var typed = await commands.BindAsync(owner, TestWorld.Alpha, "0F8FAD5B-D9CB-469F-A165-70867728950E", "Typed <b>name</b>", TenantRole.Readonly, Ct);
        typed.Status.Should().Be(CommandStatus.Ok);
        typed.Value!.GroupObjectId.Should().Be("0f8fad5b-d9cb-469f-a165-70867728950e", "object ids are kept in one form");
        (await commands.UnbindAsync(manager, TestWorld.Alpha, typed.Value.GroupObjectId, Ct)).Status.Should().Be(CommandStatus.Forbidden);
        await _app.Services.GetRequiredService<HubSessions>().EndAsync(owner, SessionEndReason.SignedOut, Ct);
        (await commands.UnbindAsync(owner, TestWorld.Alpha, typed.Value.GroupObjectId, Ct)).Status.Should().Be(CommandStatus.Unauthenticated,
            "a signed-out session changes nothing");
        (await commands.ListAsync(World.AlphaTenantId, Ct)).Bindings.Should().ContainSingle(b => b.GroupObjectId == typed.Value.GroupObjectId);
    }

    [Fact]
    public async Task LinkingTheTenantToItsDirectory_IsForOwners_TakesAGuid_AndThePageSaysWhereItStands()
    {
        var commands = _app.Services.GetRequiredService<AccessCommands>();
        using var client = _app.CreateClientFor(World.AlphaOwner);
        (await client.GetStringAsync("/admin/t/alpha/directory", Ct)).Should().Contain("data-testid=\"directory-unlinked\"");

        (await commands.LinkDirectoryAsync(await _app.SignInAsync(World.BothTenants), TestWorld.Alpha, LoopbackAuthority.DirectoryId, Ct))
            .Status.Should().Be(CommandStatus.Forbidden, "a manager does not link directories");
        (await commands.LinkDirectoryAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, "contoso.onmicrosoft.com", Ct))
            .Status.Should().Be(CommandStatus.Invalid);
        var linked = await commands.LinkDirectoryAsync(await _app.SignInAsync(World.AlphaOwner), TestWorld.Alpha, LoopbackAuthority.DirectoryId.ToUpperInvariant(), Ct);

        linked.Status.Should().Be(CommandStatus.Ok);
        var html = await client.GetStringAsync("/admin/t/alpha/directory", Ct);
        html.Should().Contain("Linked to the Entra directory").And.Contain(LoopbackAuthority.DirectoryId).And.NotContain("directory-unlinked");
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct);
        (await db.Tenants.SingleAsync(t => t.Id == World.AlphaTenantId, Ct)).DirectoryTenantId.Should().Be(LoopbackAuthority.DirectoryId);
        (await db.Tenants.SingleAsync(t => t.Id == World.BetaTenantId, Ct)).DirectoryTenantId.Should().BeNull();
    }

    private CachedDirectoryGroup Cached(string id, string name) =>
        new() { TenantId = World.AlphaTenantId, ObjectId = id, DisplayName = name, Kind = DirectoryGroupKind.Security, LastSeenAt = DateTime.UtcNow };

    private static ClaimsPrincipal WithGroups(ClaimsPrincipal principal, params string[] groups)
    {
        ((ClaimsIdentity)principal.Identity!).AddClaims(groups.Select(g => new Claim(HubClaims.Groups, g)));
        return principal;
    }
}

public sealed class DirectoryPagesTestsOnSqlite() : DirectoryPagesTests(OperationsHub.Testing.TestProvider.Sqlite);

public sealed class DirectoryPagesTestsOnPostgreSql() : DirectoryPagesTests(OperationsHub.Testing.TestProvider.PostgreSql);
