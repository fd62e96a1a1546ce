using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Core.Operations;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.Core.Tests.Infrastructure;

namespace OperationsHub.Core.Tests;

/// <summary>The demo's operation types end the way the demo promises, with their delays turned off.</summary>
public abstract class SampleOperationTests(TestProvider provider) : IAsyncLifetime
{
    private EngineHarness _hub = null!;

    public async ValueTask InitializeAsync() =>
        _hub = await EngineHarness.CreateAsync(provider, configure: services => services.AddSampleOperations());

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Theory]
    [InlineData(SampleOperations.InventorySync, RunOutcome.PartiallySucceeded, 120, 113, 7, 0)]
    [InlineData(SampleOperations.PolicySync, RunOutcome.Succeeded, 40, 40, 0, 0)]
    [InlineData(SampleOperations.Backup, RunOutcome.Succeeded, 100, 100, 0, 0)]
    public async Task Sample_RunsToItsDocumentedOutcome(
        string type, RunOutcome outcome, int total, int succeeded, int failed, int skipped)
    {
        var run = await RunAsync(type);

        run.Outcome.Should().Be(outcome);
        run.TotalCount.Should().Be(total);
        run.ProcessedCount.Should().Be(total);
        run.SucceededCount.Should().Be(succeeded);
        run.FailedCount.Should().Be(failed);
        run.SkippedCount.Should().Be(skipped);
    }

    [Fact]
    public async Task InventorySync_RetriedForItsFailedItems_ReadsOnlyThoseDevices_AndLogsWhatItDid()
    {
        var first = await RunAsync(SampleOperations.InventorySync);
        first.FailedCount.Should().Be(7);

        var retry = await _hub.Runs.RetryAsync(new RetryRequest { TenantId = _hub.TenantId, RunId = first.Id, Initiator = _hub.Bob, FailedItemsOnly = true });
        await _hub.Executor.ExecuteAsync(retry.Started!.Run.Id, CancellationToken.None);

        var second = await _hub.GetRunAsync(retry.Started.Run.Id);
        second.Outcome.Should().Be(RunOutcome.Succeeded, "the devices that did not answer do this time");
        (second.TotalCount, second.SucceededCount).Should().Be((7, 7));
        await using var db = await _hub.DbAsync();
        var log = await db.RunLogLines.Where(l => l.RunId == second.Id).OrderBy(l => l.Id).Select(l => l.Message).ToListAsync();
        log.Should().StartWith("Reading again the 7 devices that did not answer last time.")
            .And.EndWith("Inventory refreshed: 7 devices read, 0 unreachable.");
        var firstLog = await db.RunLogLines.Where(l => l.RunId == first.Id && l.Level == RunLogLevel.Warning).CountAsync();
        firstLog.Should().Be(8, "a warning per unreachable device and one for the summary");
    }

    [Fact]
    public async Task DirectorySync_FillsTheCacheFromTheBuiltInDirectory_ThenFindsNothingNew()
    {
        var first = await RunAsync(SampleOperations.DirectorySync);

        first.Outcome.Should().Be(RunOutcome.Succeeded);
        first.SucceededCount.Should().Be(60, "every group of the built-in directory is new to an empty cache");
        await using (var db = await _hub.DbAsync())
        {
            (await db.DirectoryGroups.CountAsync(g => g.TenantId == _hub.TenantId)).Should().Be(60);
            (await db.DirectoryGroups.CountAsync(g => g.TenantId == _hub.OtherTenantId)).Should().Be(0, "a sync fills its own tenant's cache only");
            (await db.DirectoryGroups.CountAsync(g => g.TenantId == _hub.TenantId && g.DisplayName == "Sales")).Should().Be(2);
            var state = await db.DirectorySyncStates.SingleAsync(s => s.TenantId == _hub.TenantId);
            state.DeltaLink.Should().Be("demo:delta");
            state.LastRunId.Should().Be(first.Id);
            state.LastAdded.Should().Be(60);
        }

        (await _hub.GetEventsAsync(first.Id)).Should().Contain(e => e.Kind == RunEventKinds.Note && e.Message.Contains("60 added"));

        var second = await RunAsync(SampleOperations.DirectorySync);

        second.Outcome.Should().Be(RunOutcome.Succeeded);
        second.ProcessedCount.Should().Be(0, "the second sync resumes from the delta link, and nothing changed");
        (await _hub.GetEventsAsync(second.Id)).Should().Contain(e => e.Kind == RunEventKinds.Note && e.Message.StartsWith("Directory incremental sync: 0 added"));
    }

    [Fact]
    public async Task Backup_RecordsItsPoliciesAndTheirSourceGroupAssignments()
    {
        var run = await RunAsync(SampleOperations.Backup);

        await using var db = await _hub.DbAsync();
        var backup = await db.Backups.Include(b => b.Assignments).SingleAsync(b => b.RunId == run.Id);
        backup.TenantId.Should().Be(_hub.TenantId);
        backup.PolicyCount.Should().Be(6);
        backup.Assignments.Should().HaveCount(9);
        backup.Assignments.Select(a => a.SourceGroupName).Distinct().Should().BeEquivalentTo(["All Staff", "Finance", "Sales", "Intune Pilot Devices", "Legacy Kiosks"]);
    }

    [Fact]
    public async Task Suggestions_AreExactUniqueNames_NeverAnAmbiguousOne()
    {
        await RunAsync(SampleOperations.DirectorySync);
        var planner = _hub.Services.GetRequiredService<RestorePlanner>();

        var matches = await planner.MatchByNameAsync(_hub.TenantId, ["Finance", "Sales", "Legacy Kiosks", "finance"], CancellationToken.None);

        RestorePlanner.Suggest(matches["Finance"]).Should().NotBeNull().And.Match<CachedGroupOption>(g => g.DisplayName == "Finance");
        matches["Sales"].Should().HaveCount(2);
        RestorePlanner.Suggest(matches["Sales"]).Should().BeNull("two cached groups share the name");
        RestorePlanner.Suggest(matches["Legacy Kiosks"]).Should().BeNull();
        RestorePlanner.Suggest(matches["finance"]).Should().BeNull("an exact match is exact: case counts");
    }

    [Fact]
    public async Task Restore_OfAnotherTenantsBackup_IsRefused_AndRecordsNoRun()
    {
        var otherBackup = await BackupAsync(_hub.OtherTenantId);

        var act = () => _hub.StartAsync(SampleOperations.Restore, Identity(otherBackup), new Dictionary<string, string> { [RestoreInputs.Unmapped] = RestoreInputs.Skip });

        (await act.Should().ThrowAsync<StartRejectedException>()).Which.Rejection.Kind.Should().Be(StartRejectionKind.Forbidden);
        await using var db = await _hub.DbAsync();
        (await db.Runs.CountAsync(r => r.Type == SampleOperations.Restore)).Should().Be(0);
    }

    [Theory]
    [InlineData("bk-1")]
    [InlineData("999999")]
    public async Task Restore_OfNoBackup_IsRefusedAsInvalid(string backupId)
    {
        var act = () => _hub.StartAsync(SampleOperations.Restore, new Dictionary<string, string> { [RestoreInputs.BackupId] = backupId });

        (await act.Should().ThrowAsync<StartRejectedException>()).Which.Rejection.Kind.Should().Be(StartRejectionKind.Invalid);
    }

    [Fact]
    public async Task Restore_WithUnmappedGroups_IsBlockedByDefault_NamingThem()
    {
        await RunAsync(SampleOperations.DirectorySync);
        var backup = await BackupAsync(_hub.TenantId);

        var suggested = await SuggestedMapAsync(backup);

        var act = () => _hub.StartAsync(SampleOperations.Restore, Identity(backup), suggested);

        var rejection = (await act.Should().ThrowAsync<StartRejectedException>()).Which.Rejection;
        rejection.Kind.Should().Be(StartRejectionKind.Invalid);
        rejection.Message.Should().Contain("2 source groups have no target").And.Contain("\"Sales\"").And.Contain("\"Legacy Kiosks\"");
    }

    [Fact]
    public async Task Restore_ToATargetOutsideTheCache_IsRefused()
    {
        await RunAsync(SampleOperations.DirectorySync);
        var backup = await BackupAsync(_hub.TenantId);
        var inputs = new Dictionary<string, string>(await SuggestedMapAsync(backup))
        {
            [RestoreInputs.Unmapped] = RestoreInputs.Skip,
            [RestoreInputs.MapPrefix + BackupHandlerGroup("Sales")] = DemoDirectoryClient.DemoGroupId(_hub.OtherTenantId, 2),
        };

        var act = () => _hub.StartAsync(SampleOperations.Restore, Identity(backup), inputs);

        (await act.Should().ThrowAsync<StartRejectedException>()).Which.Rejection.Message.Should().Contain("not a group in this tenant's directory cache");
    }

    [Fact]
    public async Task Restore_AppliesMappedAssignments_SkipsUnmappedWithAWarning_AndFailsOnesWhoseTargetWasDeleted()
    {
        await RunAsync(SampleOperations.DirectorySync);
        var backup = await BackupAsync(_hub.TenantId);
        var inputs = new Dictionary<string, string>(await SuggestedMapAsync(backup))
        {
            [RestoreInputs.Unmapped] = RestoreInputs.Skip,
            ["item_delay_ms"] = "0",
        };
        var started = await _hub.StartAsync(SampleOperations.Restore, Identity(backup), inputs);
        // After the start, the directory loses the group "Finance" was mapped to: its assignments cannot be applied.
        await using (var db = await _hub.DbAsync())
        {
            await db.DirectoryGroups.Where(g => g.TenantId == _hub.TenantId && g.DisplayName == "Finance")
                .ExecuteUpdateAsync(s => s.SetProperty(g => g.DeletedAt, DateTime.UtcNow));
        }

        await _hub.Executor.ExecuteAsync(started.Run.Id, CancellationToken.None);
        var run = await _hub.GetRunAsync(started.Run.Id);

        // 9 assignments: All Staff x3 and Intune Pilot Devices x1 applied; Sales x2 and Legacy Kiosks x1 skipped
        // (unmapped); Finance x2 failed (target deleted).
        run.Outcome.Should().Be(RunOutcome.PartiallySucceeded);
        (run.TotalCount, run.SucceededCount, run.SkippedCount, run.FailedCount).Should().Be((9, 4, 3, 2));
        var failures = RunJson.DeserializeFailures(run.FailuresJson);
        failures.Count(f => f.Code == "assignment_skipped").Should().Be(3);
        failures.Count(f => f.Code == "target_group_missing").Should().Be(2);
        RunJson.DeserializeContext(run.ContextJson).Inputs.Should().ContainKey(RestoreInputs.MapPrefix + BackupHandlerGroup("Finance"));
        (await _hub.GetEventsAsync(run.Id)).Should().Contain(e => e.Kind == RunEventKinds.Note
            && e.Message == $"Restore of backup #{backup}: 4 assignments applied, 3 skipped (unmapped group), 2 failed.");
    }

    [Fact]
    public async Task Restore_RejectedByTheService_FailsWithASanitizedReason()
    {
        await RunAsync(SampleOperations.DirectorySync);
        var backup = await BackupAsync(_hub.TenantId);
        var inputs = new Dictionary<string, string>(await SuggestedMapAsync(backup))
        {
            [RestoreInputs.Unmapped] = RestoreInputs.Skip,
            ["fail_at"] = "4",
            ["item_delay_ms"] = "0",
        };
        var started = await _hub.StartAsync(SampleOperations.Restore, Identity(backup), inputs);
        await _hub.Executor.ExecuteAsync(started.Run.Id, CancellationToken.None);
        var run = await _hub.GetRunAsync(started.Run.Id);

        run.Outcome.Should().Be(RunOutcome.Failed);
        run.ProcessedCount.Should().Be(4);
        run.FailedCount.Should().Be(1, "the fourth assignment is the one the service rejected");
        run.SkippedCount.Should().Be(1, "the third assignment (to the unmapped \"Legacy Kiosks\") was skipped before the rejection");
        // The real failure is the run's failure: an expected skip never stands in front of it.
        var failure = RunJson.DeserializeFailures(run.FailuresJson).Should().ContainSingle().Subject;
        failure.Code.Should().Be("restore_rejected");
        (await _hub.GetEventsAsync(run.Id)).Should().Contain(e => e.Kind == RunEventKinds.Completed && e.Message.Contains("First failure: restore_rejected"));
        failure.Message.Should().Contain("403 Forbidden")
            .And.NotContain("eyJ").And.NotContain("s3cr3t").And.NotContain("Zm9vYmFy");
    }

    private static string BackupHandlerGroup(string name) => BackupHandler.SourceGroups.Single(g => g.Name == name).Id;

    private static Dictionary<string, string> Identity(long backupId) =>
        new() { [RestoreInputs.BackupId] = backupId.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    /// <summary>The mapping the restore page suggests: exact, unique names only.</summary>
    private async Task<IReadOnlyDictionary<string, string>> SuggestedMapAsync(long backupId)
    {
        var planner = _hub.Services.GetRequiredService<RestorePlanner>();
        var sources = await planner.SourceGroupsAsync(backupId, CancellationToken.None);
        var matches = await planner.MatchByNameAsync(_hub.TenantId, sources.Select(s => s.DisplayName), CancellationToken.None);
        return RestoreInputs.MapInputs(RestorePlanner.SuggestedTargets(sources, matches));
    }

    private async Task<long> BackupAsync(long tenantId)
    {
        var result = await _hub.StartAsync(SampleOperations.Backup, inputs: new Dictionary<string, string> { ["duration_seconds"] = "0" }, tenantId: tenantId);
        await _hub.Executor.ExecuteAsync(result.Run.Id, CancellationToken.None);
        await using var db = await _hub.DbAsync();
        return await db.Backups.Where(b => b.RunId == result.Run.Id).Select(b => b.Id).SingleAsync();
    }

    private async Task<OperationRun> RunAsync(string type, Dictionary<string, string>? identity = null)
    {
        var inputs = new Dictionary<string, string> { ["item_delay_ms"] = "0", ["duration_seconds"] = "0" };
        var result = await _hub.StartAsync(type: type, identity: identity, inputs: inputs);
        await _hub.Executor.ExecuteAsync(result.Run.Id, CancellationToken.None);
        return await _hub.GetRunAsync(result.Run.Id);
    }
}

public sealed class SampleOperationTestsOnSqlite() : SampleOperationTests(TestProvider.Sqlite);

public sealed class SampleOperationTestsOnPostgreSql() : SampleOperationTests(TestProvider.PostgreSql);
