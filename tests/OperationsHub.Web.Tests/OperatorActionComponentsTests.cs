using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Runs;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The run page's cancel dialog, retry buttons, stale warning and log view; the grid's bulk selection and dialog.</summary>
public sealed class OperatorActionComponentsTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task CancelDialog_SaysWhatWillHappen_KeepChangesNothing_ConfirmCancelsWithTheReason()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 12, total: 100);
        var view = Render(runId);
        view.WaitForAssertion(() => view.Find("[data-testid='cancel-run']"));

        // The click's handler waits for the dialog's answer: it completes when the dialog closes.
        var first = view.Find("[data-testid='cancel-run']").ClickAsync(new());
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.Find("[data-testid='cancel-what']").TextContent
            .Should().Contain($"Backup #{runId} is running (12 of 100 done): it will be asked to stop"));
        await _hub.Dialogs.Find("[data-testid='cancel-keep']").ClickAsync(new());
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.FindAll("[data-testid='cancel-what']").Should().BeEmpty());
        (await RunAsync(runId)).CancelRequestedAt.Should().BeNull("keeping it changes nothing");

        var second = view.Find("[data-testid='cancel-run']").ClickAsync(new());
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.Find("input[data-testid='cancel-reason'], textarea[data-testid='cancel-reason']"));
        await _hub.Dialogs.Find("textarea[data-testid='cancel-reason'], input[data-testid='cancel-reason']").ChangeAsync(new ChangeEventArgs { Value = "Wrong tenant" });
        await _hub.Dialogs.Find("[data-testid='cancel-confirm']").ClickAsync(new());
        await second.WaitAsync(TimeSpan.FromSeconds(10));

        await WaitFor(async () => (await RunAsync(runId)).CancelRequestedAt is not null, "the cancellation");
        await using var db = await _hub.DbAsync();
        (await db.RunEvents.Where(e => e.RunId == runId).OrderBy(e => e.Id).Select(e => e.Message).ToListAsync())
            .Should().Contain("Cancellation requested by Olivia Owner. Reason: Wrong tenant");
    }

    [Fact]
    public async Task Retry_OnAFailedRun_StartsALinkedRun_AndOpensIt()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Completed, RunOutcome.Failed, processed: 2, total: 2);
        var view = Render(runId);
        view.WaitForAssertion(() => view.Find("[data-testid='retry-run']").TextContent.Trim().Should().Be("Retry"));
        view.FindAll("[data-testid='retry-failed-items']").Should().BeEmpty("policy sync is retried as a whole");

        await view.Find("[data-testid='retry-run']").ClickAsync(new());

        await using var db = await _hub.DbAsync();
        var retry = await db.Runs.AsNoTracking().SingleAsync(r => r.RetryOfRunId == runId);
        var navigation = _hub.Bunit.Services.GetRequiredService<NavigationManager>();
        view.WaitForAssertion(() => navigation.Uri.Should().EndWith($"/admin/t/contoso/operations/{retry.Id}"));
        _hub.ToastTexts().Should().Contain(t => t.Contains($"Policy sync queued #{retry.Id}") && t.Contains($"retry of #{runId}"));
        view.WaitForAssertion(() => view.Find("[data-testid='retried-as']").TextContent.Should().Contain($"#{retry.Id} by Olivia Owner"));

        var retryView = Render(retry.Id);
        retryView.WaitForAssertion(() => retryView.Find("[data-testid='retry-of']").TextContent.Should().Be($"Retry of #{runId}"));
        retryView.FindAll("[data-testid='retry-run']").Should().BeEmpty("the retry is queued: nothing to retry yet");
    }

    [Fact]
    public async Task RetryButtons_ReadRunAgainOnSuccess_OfferFailedItemsOnlyWhereSupported_AndNothingForReadonly()
    {
        var succeeded = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Completed, RunOutcome.Succeeded);
        var partial = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Completed, RunOutcome.PartiallySucceeded, processed: 3, total: 3,
            failuresJson: RunJson.SerializeFailures([new RunFailure("device_unreachable", "DEV-2 did not answer", "DEV-2")]));
        await _hub.UpdateRunAsync(partial, r => (r.FailedCount, r.SucceededCount, r.FailureTotal) = (1, 2, 1));

        var again = Render(succeeded);
        again.WaitForAssertion(() => again.Find("[data-testid='retry-run']").TextContent.Trim().Should().Be("Run again"));
        var items = Render(partial);
        items.WaitForAssertion(() => items.Find("[data-testid='retry-failed-items']").TextContent.Trim().Should().Be("Retry 1 failed items"));
        var readonlyView = _hub.Bunit.Render<RunDetailView>(p => p.Add(v => v.Tenant, _hub.Tenant with { Role = TenantRole.Readonly }).Add(v => v.RunId, partial));
        readonlyView.WaitForAssertion(() => readonlyView.Find("h1"));
        readonlyView.FindAll("[data-testid='retry-run'], [data-testid='retry-failed-items']").Should().BeEmpty();

        await items.Find("[data-testid='retry-failed-items']").ClickAsync(new());
        await using var db = await _hub.DbAsync();
        var retry = await db.Runs.AsNoTracking().SingleAsync(r => r.RetryOfRunId == partial);
        RunJson.DeserializeContext(retry.ContextJson).Items.Should().Equal("DEV-2");
    }

    [Fact]
    public async Task StaleRun_ShowsNoHeartbeat_OnItsPageAndItsGridRow()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 3, total: 100);
        var fresh = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 3, total: 100);
        var lease = new OperationsHub.Core.Worker.WorkerOptions().LeaseDuration;
        // Its last beat was 40 s ago; the default threshold is three renewal intervals (15 s).
        await _hub.UpdateRunAsync(runId, r => r.LeaseExpiresAt = DateTime.UtcNow.AddSeconds(-40) + lease);
        await _hub.UpdateRunAsync(fresh, r => r.LeaseExpiresAt = DateTime.UtcNow.AddSeconds(-1) + lease);

        var view = Render(runId);
        view.WaitForAssertion(() => view.Find("[data-testid='stale-run']").TextContent.Should().MatchRegex(@"No heartbeat for 4\d s — may be stuck"));
        var freshView = Render(fresh);
        freshView.WaitForAssertion(() => freshView.Find("h1"));
        freshView.FindAll("[data-testid='stale-run']").Should().BeEmpty();

        var grid = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        grid.WaitForAssertion(() => grid.FindAll("[data-testid='row-stale']").Should().ContainSingle()
            .Which.Closest("tr")!.QuerySelector("a[data-run]")!.GetAttribute("data-run").Should().Be($"{runId}"));
        var query = _hub.Bunit.Services.GetRequiredService<RunsGridQuery>();
        var staleOnly = await query.GetPageAsync(_hub.Tenant.TenantId, _hub.Tenant.UserId, RunsFilter.Parse("status=stale", new HashSet<string>()), default);
        staleOnly.Rows.Select(r => r.Id).Should().Equal(runId);
    }

    [Fact]
    public async Task LogView_ShowsTheLines_FiltersByLevel_FollowsNewLinesLive_AndLinksTheDownload()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Running, processed: 1, total: 10);
        await AddLogAsync(runId, (RunLogLevel.Information, "Reading 10 devices."), (RunLogLevel.Warning, "DEV-3 did not answer."));
        // On the run's page, as users see it: the page holds the run's one feed subscription and the log follows it.
        var page = Render(runId);
        page.WaitForAssertion(() => page.FindComponent<RunLogView>());
        var view = page.FindComponent<RunLogView>();

        view.WaitForAssertion(() => Lines(view).Should().Equal("Reading 10 devices.", "DEV-3 did not answer."));
        view.Find("[data-testid='log-following']").TextContent.Should().Be("Following live");
        view.Find("[data-testid='log-download']").GetAttribute("href").Should().Be($"/admin/t/contoso/operations/{runId}/log.txt");
        view.Find("[data-level='warn'] .hub-log-level").TextContent.Should().Be("WARN");

        await AddLogAsync(runId, (RunLogLevel.Error, "DEV-9 refused the request."));
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));
        view.WaitForAssertion(() => Lines(view).Should().EndWith("DEV-9 refused the request.").And.HaveCount(3));

        await view.Find("[data-testid='log-level']").ChangeAsync(new ChangeEventArgs { Value = "warning" });
        view.WaitForAssertion(() => Lines(view).Should().Equal("DEV-3 did not answer.", "DEV-9 refused the request."));
        await view.Find("[data-testid='log-level']").ChangeAsync(new ChangeEventArgs { Value = "error" });
        view.WaitForAssertion(() => Lines(view).Should().Equal("DEV-9 refused the request."));
    }

    [Fact]
    public async Task LogView_OfAFinishedRunWithoutLines_SaysSo()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Completed, RunOutcome.Succeeded);
        var view = _hub.Bunit.Render<RunLogView>(p => p.Add(v => v.Tenant, _hub.Tenant).Add(v => v.RunId, runId).Add(v => v.Active, false));

        view.WaitForAssertion(() => view.Find("[data-testid='log-empty']").TextContent.Should().Be("This run wrote no log."));
        view.FindAll("[data-testid='log-following']").Should().BeEmpty();
    }

    [Fact]
    public async Task Grid_BulkCancel_ShowsTheExactCountFirst_ThenStartsABulkRunOverTheSelection()
    {
        var queued = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Queued);
        var running = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 1, total: 10);
        var done = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Completed, RunOutcome.Succeeded);
        var grid = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant).AddCascadingValue(_hub.AuthenticationStateFor(_hub.Tenant)));
        grid.WaitForAssertion(() => grid.FindAll("input[data-testid='select-run']").Should().HaveCount(3));
        grid.FindAll("[data-testid='bulk-bar']").Should().BeEmpty("nothing is selected yet");

        foreach (var id in new[] { queued, running, done })
        {
            await grid.Find($"input[data-testid='select-run'][data-select-run='{id}']").ChangeAsync(new ChangeEventArgs { Value = true });
        }

        grid.Find("[data-testid='bulk-selected']").TextContent.Should().Be("3 runs selected.");
        var clicking = grid.Find("[data-testid='bulk-cancel']").ClickAsync(new());
        _hub.Dialogs.WaitForAssertion(() => _hub.Dialogs.Find("[data-testid='bulk-count']").TextContent.Should().Be("Cancel 3 runs?"));
        _hub.Dialogs.Find("[data-testid='bulk-breakdown']").TextContent.Should()
            .Contain("1 run queued: cancelled at once.").And.Contain("1 run running: asked to stop.").And.Contain("1 run already completed: skipped.");
        await using (var db = await _hub.DbAsync())
        {
            (await db.Runs.CountAsync(r => r.Type == BulkActions.Type)).Should().Be(0, "nothing happens before the confirmation");
        }

        await _hub.Dialogs.Find("[data-testid='bulk-confirm']").ClickAsync(new());
        await clicking.WaitAsync(TimeSpan.FromSeconds(10));

        await WaitFor(async () =>
        {
            await using var db = await _hub.DbAsync();
            return await db.Runs.AnyAsync(r => r.Type == BulkActions.Type);
        }, "the bulk run");
        await using (var db = await _hub.DbAsync())
        {
            var bulk = await db.Runs.AsNoTracking().SingleAsync(r => r.Type == BulkActions.Type);
            RunJson.DeserializeContext(bulk.ContextJson).Items.Should().BeEquivalentTo([$"{queued}", $"{running}", $"{done}"]);
            bulk.InitiatorUserId.Should().Be(_hub.Owner.UserId);
        }

        grid.WaitForAssertion(() => grid.FindAll("[data-testid='bulk-bar']").Should().BeEmpty("the selection clears once the action started"));
        _hub.ToastTexts().Should().Contain(t => t.Contains("Bulk action queued"));
    }

    [Fact]
    public async Task Grid_SelectionColumn_IsOnlyForManagersAndOwners()
    {
        await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Queued);
        var grid = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant with { Role = TenantRole.Operator }));

        grid.WaitForAssertion(() => grid.FindAll("tr.hub-run-row").Should().HaveCount(1));
        grid.FindAll("input[data-testid='select-run'], input[data-testid='select-page']").Should().BeEmpty();
    }

    [Fact]
    public async Task RunPage_HoldsOneFeedSubscription_ForItsDetailsAndItsLog()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.InventorySync, RunStatus.Running, processed: 1, total: 10);
        var page = Render(runId);
        page.WaitForAssertion(() => page.FindAll("[data-testid='log-empty']").Should().NotBeEmpty());

        _hub.Feed.SubscribersTo(RunChangeScope.ForRun(runId)).Should().Be(1, "the details and the log answer the same deliveries");
    }

    private static List<string> Lines(IRenderedComponent<RunLogView> view) =>
        [.. view.FindAll(".hub-log-message").Select(m => m.TextContent)];

    private async Task AddLogAsync(long runId, params (RunLogLevel Level, string Message)[] lines)
    {
        await using var db = await _hub.DbAsync();
        db.RunLogLines.AddRange(lines.Select(l => new RunLogLine { RunId = runId, At = DateTime.UtcNow, Level = l.Level, Message = l.Message }));
        await db.SaveChangesAsync();
    }

    private async Task<OperationRun> RunAsync(long runId)
    {
        await using var db = await _hub.DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId);
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(50);
        }
    }

    private IRenderedComponent<RunDetailView> Render(long runId) =>
        _hub.Bunit.Render<RunDetailView>(p => p
            .Add(v => v.Tenant, _hub.Tenant)
            .Add(v => v.RunId, runId)
            .AddCascadingValue(_hub.AuthenticationStateFor(_hub.Tenant)));
}
