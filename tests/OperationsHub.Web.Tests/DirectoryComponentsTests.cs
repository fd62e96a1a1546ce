using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Directory;
using OperationsHub.Web.Features.Tenants;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The directory-backed components: the restore mapping (DB-only) and the group search in Local mode.</summary>
public sealed class DirectoryComponentsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();
    private long _backupId;

    public async ValueTask InitializeAsync()
    {
        await _hub.InitializeAsync();
        await using var db = await _hub.DbAsync();
        db.DirectoryGroups.AddRange(
            Group("00000000-0000-4000-8000-000000000001", "All Staff"),
            Group("00000000-0000-4000-8000-000000000002", "Sales"),
            Group("00000000-0000-4000-8000-000000000003", "Sales"));
        var backup = new PolicyBackup
        {
            TenantId = _hub.Tenant.TenantId,
            RunId = 1,
            TakenAt = DateTime.UtcNow,
            PolicyCount = 2,
            Assignments =
            [
                new BackupAssignment { PolicyId = "p1", PolicyName = "Baseline", SourceGroupId = "src-all", SourceGroupName = "All Staff" },
                new BackupAssignment { PolicyId = "p2", PolicyName = "Phones", SourceGroupId = "src-sales", SourceGroupName = "Sales" },
            ],
        };
        db.Backups.Add(backup);
        await db.SaveChangesAsync();
        _backupId = backup.Id;
    }

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public void RestoreView_SuggestsTheUniqueName_NeverTheAmbiguousOne_AndKeepsTheHelpVisible()
    {
        var view = RenderRestore(_hub.Tenant);

        view.WaitForAssertion(() => view.FindAll("[data-source]").Should().HaveCount(2));
        view.Find("[data-testid='directory-cache-help']").TextContent.Should().Contain("The cache is empty", "no sync has completed: the help says so");
        view.Find("[data-testid='match-src-all']").TextContent.Should().Contain("Suggested: the only cached group named \"All Staff\"");
        view.Find("[data-testid='match-src-sales']").TextContent.Should().Contain("2 cached groups are named \"Sales\", so none is suggested");
        view.Find("[data-testid='restore-summary']").TextContent.Should().Be("1 of 2 groups mapped.");
        _hub.GraphRequests.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task RestoreView_BlocksWhileAGroupIsUnmapped_ThenStartsWithTheMappingInTheRunsContext()
    {
        var view = RenderRestore(_hub.Tenant);
        view.WaitForAssertion(() => view.FindAll("[data-source]").Should().HaveCount(2));

        view.Find("[data-testid='start-restore']").Click();
        view.WaitForAssertion(() => view.Find("[data-testid='restore-error']").TextContent.Should().Contain("\"Sales\""));
        await using (var db = await _hub.DbAsync())
        {
            (await db.Runs.CountAsync()).Should().Be(0, "blocked means nothing was started");
        }

        view.FindAll("[data-testid='restore-unmapped'] input[type=radio]")[1].Click();
        view.Find("[data-testid='start-restore']").Click();

        view.WaitForAssertion(() => _hub.ToastTexts().Should().ContainSingle(t => t.StartsWith("Restore queued #", StringComparison.Ordinal)));
        await using var check = await _hub.DbAsync();
        var run = await check.Runs.SingleAsync();
        run.ContextJson.Should().Contain("\"map.src-all\":\"00000000-0000-4000-8000-000000000001\"").And.Contain("\"unmapped\":\"skip\"")
            .And.NotContain("src-sales\":");
    }

    [Fact]
    public void RestoreView_ForReadonly_ShowsTheMappingButNoStart()
    {
        var view = RenderRestore(_hub.Tenant with { Role = TenantRole.Readonly });

        view.WaitForAssertion(() => view.FindAll("[data-source]").Should().HaveCount(2));
        view.FindAll("[data-testid='start-restore']").Should().BeEmpty();
        view.Find("[data-testid='readonly-note']").TextContent.Should().Contain("not start a restore");
    }

    [Fact]
    public void GroupSearch_ForALocalSignIn_IsDisabled_AndSaysWhy_AndSendsNothing()
    {
        var panel = _hub.Bunit.Render<GroupSearchPanel>(p => p.AddCascadingValue(_hub.AuthenticationStateFor(_hub.Tenant)));

        panel.WaitForAssertion(() => panel.Find("[data-testid='group-search-disabled']").TextContent
            .Should().Contain("you signed in with a local hub account").And.Contain("typing its object id"));
        panel.Find("[data-testid='group-search-button']").HasAttribute("disabled").Should().BeTrue();
        panel.Find("input[data-testid='group-search-text']").HasAttribute("disabled").Should().BeTrue();
        panel.FindAll("[data-testid='group-search-connect']").Should().BeEmpty("signing in again cannot give a local account a delegated token");
        panel.Find("form").Submit();
        _hub.GraphRequests.Requests.Should().BeEmpty("a disabled search never calls Graph, even when its form is submitted");
    }

    private IRenderedComponent<RestoreView> RenderRestore(TenantContext tenant) =>
        _hub.Bunit.Render<RestoreView>(p => p
            .Add(c => c.Tenant, tenant)
            .AddCascadingValue(_hub.AuthenticationStateFor(tenant)));

    private CachedDirectoryGroup Group(string id, string name) =>
        new() { TenantId = _hub.Tenant.TenantId, ObjectId = id, DisplayName = name, LastSeenAt = DateTime.UtcNow };
}
