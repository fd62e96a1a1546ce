using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>
/// Directory sync end to end: a run started as an operator would start it, executed by the real worker, reading a
/// fake Microsoft Graph through the real <c>GraphDirectoryClient</c>, writing the real cache tables.
/// </summary>
public sealed class DirectorySyncTests : IAsyncLifetime
{
    private const string AlphaDirectory = "a1a1a1a1-0000-4000-8000-0000000000a1";
    private const string AllStaff = "00000000-0000-4000-8000-000000000001";
    private const string Finance = "00000000-0000-4000-8000-000000000002";
    private const string Newsletter = "00000000-0000-4000-8000-000000000003";
    private const string Pilot = "00000000-0000-4000-8000-000000000004";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    private EntraDirectoryFactory _app = null!;

    private TestWorld World => _app.World;

    private FakeGraph Graph => _app.Graph;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _app = await EntraDirectoryFactory.StartAsync(new Dictionary<string, string?>
        {
            ["Graph:DirectorySource"] = "Graph",
            ["Graph:MaxRetryAfter"] = "00:00:05",
            ["Worker:Enabled"] = "true",
        });
        await _app.SetDirectoryTenantIdAsync(World.AlphaTenantId, AlphaDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task DirectorySync_FirstRunOverTwoPages_FollowsTheNextLinkCachesEveryGroupWithItsKindAndStoresTheDeltaLink()
    {
        var deltaToken = Graph.ScriptFullSync(
            new GraphPage(
                FakeGraph.Group(AllStaff, "All Staff", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false, mail: "allstaff@alpha.example"),
                FakeGraph.Group(Finance, "Finance", securityEnabled: true, description: "Finance department users.")),
            new GraphPage(
                FakeGraph.Group(Newsletter, "Newsletter", mailEnabled: true, mail: "news@alpha.example")));

        var run = await SyncAsync();

        run.Outcome.Should().Be(RunOutcome.Succeeded, run.FailuresJson);
        (run.SucceededCount, run.SkippedCount, run.FailedCount).Should().Be((3, 0, 0));
        var groups = await GroupsAsync();
        groups.Select(g => (g.ObjectId, g.DisplayName, g.Kind, g.DeletedAt)).Should().BeEquivalentTo(new[]
        {
            (AllStaff, "All Staff", DirectoryGroupKind.Microsoft365, (DateTime?)null),
            (Finance, "Finance", DirectoryGroupKind.Security, (DateTime?)null),
            (Newsletter, "Newsletter", DirectoryGroupKind.Distribution, (DateTime?)null),
        });
        groups.Single(g => g.ObjectId == AllStaff).Mail.Should().Be("allstaff@alpha.example");
        groups.Single(g => g.ObjectId == Finance).Description.Should().Be("Finance department users.");

        var state = await StateAsync();
        state.DeltaLink.Should().Be(Graph.DeltaLink(deltaToken));
        state.LastRunId.Should().Be(run.Id);
        (state.LastAdded, state.LastUpdated, state.LastRemoved).Should().Be((3, 0, 0));
        state.LastFullSyncAt.Should().NotBeNull();

        var requests = Graph.DeltaRequests;
        requests.Should().HaveCount(2);
        requests[0].Param("$select").Should().Contain("groupTypes").And.Contain("securityEnabled");
        requests[0].Param("$skiptoken").Should().BeNull();
        requests[0].Param("$deltatoken").Should().BeNull();
        requests[1].Param("$skiptoken").Should().NotBeNullOrEmpty("the second page is read through the first page's next link");
        requests.Should().OnlyContain(r => r.Status == 200 && r.Authorization == $"Bearer app-{AlphaDirectory}");
        _app.Headers.AppRequests.Should().HaveCount(2)
            .And.OnlyContain(a => a.Tenant == AlphaDirectory && a.Scope == "https://graph.microsoft.com/.default");
        _app.Headers.UserRequests.Should().BeEmpty("directory sync never uses a signed-in user's token");

        (await NotesAsync(run.Id)).Should().ContainSingle()
            .Which.Should().Contain("full sync").And.Contain("3 added, 0 updated, 0 removed");
    }

    [Fact]
    public async Task DirectorySync_SecondRun_ResumesFromTheStoredDeltaLinkAndAppliesUpdatesAndBothKindsOfRemoval()
    {
        var firstToken = Graph.ScriptFullSync(new GraphPage(
            FakeGraph.Group(AllStaff, "All Staff", groupTypes: ["Unified"], mailEnabled: true, mail: "allstaff@alpha.example"),
            FakeGraph.Group(Finance, "Finance", securityEnabled: true),
            FakeGraph.Group(Newsletter, "Newsletter", mailEnabled: true, mail: "news@alpha.example"),
            FakeGraph.Group(Pilot, "Intune Pilot Devices", securityEnabled: true)));
        (await SyncAsync()).Outcome.Should().Be(RunOutcome.Succeeded);
        var secondToken = Graph.ScriptDelta(firstToken, new GraphPage(
            FakeGraph.Changed(AllStaff, displayName: "Everyone"),
            FakeGraph.Removed(Finance, "changed"),
            FakeGraph.Removed(Newsletter, "deleted"),
            FakeGraph.Group(Pilot, "Intune Pilot Devices", securityEnabled: true)));
        var before = Graph.CountRequests();

        var run = await SyncAsync();

        run.Outcome.Should().Be(RunOutcome.Succeeded, run.FailuresJson);
        (run.SucceededCount, run.SkippedCount).Should().Be((3, 1), "one update and two removals changed the cache; the pilot group did not");
        var second = Graph.Requests.Skip(before).ToList();
        second.Should().ContainSingle()
            .Which.Param("$deltatoken").Should().Be(firstToken);
        second[0].Authorization.Should().Be($"Bearer app-{AlphaDirectory}");

        var groups = (await GroupsAsync()).ToDictionary(g => g.ObjectId);
        groups.Keys.Should().BeEquivalentTo([AllStaff, Finance, Pilot], "a group deleted for good leaves the cache");
        groups[AllStaff].DisplayName.Should().Be("Everyone");
        groups[AllStaff].Kind.Should().Be(DirectoryGroupKind.Microsoft365, "a delta entry that leaves groupTypes out did not change the kind");
        groups[AllStaff].Mail.Should().Be("allstaff@alpha.example");
        groups[AllStaff].DeletedAt.Should().BeNull();
        groups[Finance].DeletedAt.Should().NotBeNull("a group in the recycle bin stays cached, marked deleted");
        groups[Pilot].DeletedAt.Should().BeNull();

        var state = await StateAsync();
        state.DeltaLink.Should().Be(Graph.DeltaLink(secondToken));
        state.LastRunId.Should().Be(run.Id);
        (state.LastAdded, state.LastUpdated, state.LastRemoved).Should().Be((0, 1, 2));
        (await NotesAsync(run.Id)).Should().ContainSingle()
            .Which.Should().Contain("incremental sync").And.Contain("0 added, 1 updated, 2 removed, 1 unchanged");
    }

    [Fact]
    public async Task DirectorySync_StaleDeltaLinkAnsweredSyncStateNotFound_StartsOverInFullAndSoftDeletesGroupsTheFullReadLacks()
    {
        var staleToken = Graph.ScriptFullSync(new GraphPage(
            FakeGraph.Group(AllStaff, "All Staff", groupTypes: ["Unified"]),
            FakeGraph.Group(Finance, "Finance", securityEnabled: true),
            FakeGraph.Group(Newsletter, "Newsletter", mailEnabled: true)));
        var first = await SyncAsync();
        first.Outcome.Should().Be(RunOutcome.Succeeded);
        var firstFullSyncAt = (await StateAsync()).LastFullSyncAt;
        Graph.ExpireDeltaToken(staleToken);
        var freshToken = Graph.ScriptFullSync(new GraphPage(
            FakeGraph.Group(AllStaff, "All Staff", groupTypes: ["Unified"]),
            FakeGraph.Group(Finance, "Finance", securityEnabled: true)));
        var before = Graph.CountRequests();

        var run = await SyncAsync();

        run.Status.Should().Be(RunStatus.Completed);
        run.Outcome.Should().Be(RunOutcome.Succeeded, run.FailuresJson);
        var requests = Graph.Requests.Skip(before).ToList();
        requests.Select(r => r.Status).Should().Equal(400, 200);
        requests[0].Param("$deltatoken").Should().Be(staleToken);
        requests[1].Path.Should().Be(FakeGraph.DeltaPath);
        requests[1].Param("$deltatoken").Should().BeNull("the sync starts over from scratch");
        requests[1].Param("$skiptoken").Should().BeNull();
        requests[1].Param("$select").Should().NotBeNullOrEmpty();

        var groups = (await GroupsAsync()).ToDictionary(g => g.ObjectId);
        groups.Keys.Should().BeEquivalentTo([AllStaff, Finance, Newsletter]);
        groups[Newsletter].DeletedAt.Should().NotBeNull("a full read that no longer lists a group means the group is gone");
        groups[AllStaff].DeletedAt.Should().BeNull();
        groups[Finance].DeletedAt.Should().BeNull();
        (run.SucceededCount, run.SkippedCount).Should().Be((1, 2));

        var state = await StateAsync();
        state.DeltaLink.Should().Be(Graph.DeltaLink(freshToken));
        state.LastRunId.Should().Be(run.Id);
        state.LastFullSyncAt.Should().BeAfter(firstFullSyncAt!.Value);
        (state.LastAdded, state.LastUpdated, state.LastRemoved).Should().Be((0, 0, 1));
        (await NotesAsync(run.Id)).Should().ContainSingle()
            .Which.Should().Contain("the stored delta link had expired").And.Contain("1 removed");
    }

    [Fact]
    public async Task DirectorySync_Throttled429WithRetryAfter_SitsItOutRepeatsTheRequestAndAppliesThePage()
    {
        Graph.ThrottleNext(FakeGraph.DeltaPath, retryAfterSeconds: 1);
        var deltaToken = Graph.ScriptFullSync(new GraphPage(FakeGraph.Group(Finance, "Finance", securityEnabled: true)));

        var run = await SyncAsync();

        run.Outcome.Should().Be(RunOutcome.Succeeded, run.FailuresJson);
        var requests = Graph.DeltaRequests;
        requests.Select(r => r.Status).Should().Equal(429, 200);
        requests[1].PathAndQuery.Should().Be(requests[0].PathAndQuery, "the throttled request is asked again as it was");
        // Retry-After: 1 is a lower bound the client must honour; a little slack for the clock's granularity.
        (requests[1].At - requests[0].At).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(950));
        (await GroupsAsync()).Should().ContainSingle().Which.ObjectId.Should().Be(Finance);
        (await StateAsync()).DeltaLink.Should().Be(Graph.DeltaLink(deltaToken));
    }

    [Fact]
    public async Task DirectorySync_TenantWithoutDirectoryId_FailsWithAClearCodeAndAsksGraphNothing()
    {
        var started = await _app.Services.GetRequiredService<RunCommands>().StartAsync(
            await _app.SignInAsync(World.BetaOwner), TestWorld.Beta, new StartRunInput(SampleOperations.DirectorySync), Ct);
        started.Status.Should().Be(CommandStatus.Ok, started.Message);

        var run = await WaitForCompletionAsync(started.Value!.Run.Id);

        run.Outcome.Should().Be(RunOutcome.Failed);
        run.FailuresJson.Should().Contain("directory_not_linked");
        Graph.CountRequests().Should().Be(0);
        _app.Headers.AppRequests.Should().BeEmpty();
    }

    private async Task<OperationRun> SyncAsync()
    {
        var commands = _app.Services.GetRequiredService<RunCommands>();
        var started = await commands.StartAsync(
            await _app.SignInAsync(World.AlphaOperator), TestWorld.Alpha, new StartRunInput(SampleOperations.DirectorySync), Ct);
        started.Status.Should().Be(CommandStatus.Ok, started.Message);
        started.Value!.Deduped.Should().BeFalse("each sync in these tests is a new run");
        return await WaitForCompletionAsync(started.Value.Run.Id);
    }

    /// <summary>Waits for the worker to finish the run; the worker is woken by the start, so this is quick.</summary>
    private async Task<OperationRun> WaitForCompletionAsync(long runId)
    {
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        var deadline = TimeProvider.System.GetUtcNow() + RunTimeout;
        while (true)
        {
            await using (var db = await dbFactory.CreateDbContextAsync(Ct))
            {
                var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, Ct);
                if (run.Status == RunStatus.Completed)
                {
                    return run;
                }

                if (TimeProvider.System.GetUtcNow() > deadline)
                {
                    throw new TimeoutException($"Run {runId} is still {run.Status} after {RunTimeout.TotalSeconds} s.");
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), Ct);
        }
    }

    private async Task<List<CachedDirectoryGroup>> GroupsAsync()
    {
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(Ct);
        return await db.DirectoryGroups.AsNoTracking().Where(g => g.TenantId == World.AlphaTenantId).ToListAsync(Ct);
    }

    private async Task<DirectorySyncState> StateAsync()
    {
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(Ct);
        return await db.DirectorySyncStates.AsNoTracking().SingleAsync(s => s.TenantId == World.AlphaTenantId, Ct);
    }

    private async Task<List<string>> NotesAsync(long runId)
    {
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        await using var db = await dbFactory.CreateDbContextAsync(Ct);
        return await db.RunEvents.AsNoTracking().Where(e => e.RunId == runId && e.Kind == RunEventKinds.Note)
            .Select(e => e.Message).ToListAsync(Ct);
    }
}
