using OperationsHub.Core.Domain;
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
    [InlineData(SampleOperations.DirectorySync, RunOutcome.Succeeded, 60, 54, 0, 6)]
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
    public async Task Restore_FailsWithASanitizedReason()
    {
        var run = await RunAsync(SampleOperations.Restore, new Dictionary<string, string> { ["backup_id"] = "bk-1" });

        run.Outcome.Should().Be(RunOutcome.Failed);
        run.SucceededCount.Should().Be(3);
        run.FailedCount.Should().Be(1, "the fourth item is the one the service rejected");
        run.ProcessedCount.Should().Be(4);
        var failure = RunJson.DeserializeFailures(run.FailuresJson).Should().ContainSingle().Subject;
        failure.Code.Should().Be("restore_rejected");
        failure.Message.Should().Contain("403 Forbidden")
            .And.NotContain("eyJ").And.NotContain("s3cr3t").And.NotContain("Zm9vYmFy");
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
