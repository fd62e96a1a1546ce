using OperationsHub.Web.Features.Preferences;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

public sealed class RunDetailViewTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Detail_ShowsItsSections_FailuresGroupedByCode_AndEarlierRunsOfTheSameWork()
    {
        var failures = RunJson.SerializeFailures(
        [
            new RunFailure("device_unreachable", "DEV-1 did not answer", "DEV-1"),
            new RunFailure("device_unreachable", "DEV-2 did not answer", "DEV-2"),
            new RunFailure("quota_exceeded", "Graph quota used up"),
        ]);
        var earlier = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.Succeeded, identity: "same-work");
        var runId = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.PartiallySucceeded,
            processed: 10, total: 10, failuresJson: failures, identity: "same-work");
        await _hub.UpdateRunAsync(runId, r => r.FailureTotal = 3);

        var view = Render(runId, from: "outcome=failed&page=3&evil=<script>");

        view.WaitForAssertion(() => view.Find("h1").TextContent.Should().Contain($"Inventory sync #{runId}"));
        view.Find(".mud-chip").TextContent.Trim().Should().Be("Partially succeeded");
        view.Find("#failures-heading").TextContent.Should().Contain("Failures (3)");
        view.Find("[data-failure-code='device_unreachable']").TextContent.Should().Contain("2×");
        view.Find("[data-failure-code='quota_exceeded']").TextContent.Should().Contain("1×");
        view.Find("[data-testid='timeline'] [data-event='created']").TextContent.Should().Contain("Queued by Olivia Owner");
        view.Find("#context-heading").Parent!.TextContent.Should().Contain("All devices").And.Contain("scope");
        view.Find("[data-testid='earlier-runs']").TextContent.Should().Contain($"#{earlier}");
        var back = view.FindAll("a").Single(a => a.TextContent.Trim() == "Operations");
        back.GetAttribute("href").Should().Be("/admin/t/contoso/operations?outcome=failed&page=3", "only what the grid understands goes back");
    }

    [Fact]
    public async Task ARunStartedWhileTracing_ShowsItsTraceId_WithoutALinkWhenNoViewerIsConfigured()
    {
        var traced = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Completed, RunOutcome.Succeeded);
        await _hub.UpdateRunAsync(traced, r => r.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        var untraced = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Completed, RunOutcome.Succeeded);

        var view = Render(traced);
        var plain = Render(untraced);

        view.WaitForAssertion(() => view.Find("[data-testid='trace-id']").TextContent.Trim().Should().Be("4bf92f3577b34da6a3ce929d0e0e4736"));
        view.Find("[data-testid='trace-id'] code").Should().NotBeNull();
        view.FindAll("[data-testid='trace-id'] a").Should().BeEmpty("Telemetry:TraceViewerUrl is not set");
        plain.WaitForAssertion(() => plain.Find("h1").TextContent.Should().Contain($"#{untraced}"));
        plain.FindAll("[data-testid='trace-id']").Should().BeEmpty("a run started while tracing was off has no trace");
    }

    [Fact]
    public async Task LiveSignal_ForTheRun_RerendersFromTheDatabase()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 10, total: 100);
        var view = Render(runId);
        view.WaitForAssertion(() => view.Find("[data-testid='run-progress']").TextContent.Should().Contain("10 of 100"));

        await _hub.UpdateRunAsync(runId, r => r.ProcessedCount = 70);
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));
        view.WaitForAssertion(() => view.Find("[data-testid='run-progress']").TextContent.Should().Contain("70 of 100"));

        await _hub.UpdateRunAsync(runId, r => { r.Status = RunStatus.Completed; r.Outcome = RunOutcome.Succeeded; r.ProcessedCount = 100; });
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 3));
        view.WaitForAssertion(() => view.Find(".mud-chip").TextContent.Trim().Should().Be("Succeeded"));
        view.Find("[data-testid='live-announcer']").TextContent.Should().Contain("is now Succeeded");
        view.FindAll("[data-testid='cancel-run']").Should().BeEmpty("a finished run cannot be cancelled");
    }

    [Fact]
    public async Task CancelButton_ShowsOnlyForRolesThatMayCancel()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 1, total: 100);

        var owner = Render(runId);
        owner.WaitForAssertion(() => owner.Find("[data-testid='cancel-run']"));

        var readonlyView = _hub.Bunit.Render<RunDetailView>(p => p
            .Add(v => v.Tenant, _hub.Tenant with { Role = TenantRole.Readonly })
            .Add(v => v.RunId, runId));
        readonlyView.WaitForAssertion(() => readonlyView.Find("h1"));
        readonlyView.FindAll("[data-testid='cancel-run']").Should().BeEmpty();
    }

    [Fact]
    public async Task Times_ShowInTheViewersTimeZone_WithTheExactUtcTimeOnHover()
    {
        var created = new DateTime(2026, 7, 1, 12, 0, 5, DateTimeKind.Utc);
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Completed, RunOutcome.Succeeded, createdAt: created);

        var view = _hub.Bunit.Render<RunDetailView>(p => p
            .Add(v => v.Tenant, _hub.Tenant)
            .Add(v => v.RunId, runId)
            .AddCascadingValue(ViewerTime.For("America/New_York")));

        view.WaitForAssertion(() => view.FindAll("time").Should().NotBeEmpty());
        var first = view.FindAll("time")[0];
        first.TextContent.Should().Be("2026-07-01 08:00:05 UTC-04:00", "New York keeps summer time in July");
        first.GetAttribute("title").Should().Be("2026-07-01 12:00:05 UTC");
        first.GetAttribute("datetime").Should().StartWith("2026-07-01T12:00:05");
        view.Markup.Should().NotContain("12:00:05 UTC-", "no time shows as UTC dressed as local");
    }

    private IRenderedComponent<RunDetailView> Render(long runId, string? from = null) =>
        _hub.Bunit.Render<RunDetailView>(p => p
            .Add(v => v.Tenant, _hub.Tenant)
            .Add(v => v.RunId, runId)
            .Add(v => v.From, from));
}
