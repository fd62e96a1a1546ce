using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Components;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

public sealed class RunsViewTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Grid_ShowsColumnsAndStateChipsWithText()
    {
        var queued = await _hub.CreateRunAsync(SampleOperations.PolicySync);
        var running = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 30, total: 100, target: "Nightly");
        var failed = await _hub.CreateRunAsync(SampleOperations.Restore, RunStatus.Completed, RunOutcome.Failed, target: "Baseline");
        Navigate("/admin/t/contoso/operations");

        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));

        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(3));
        view.FindAll("th").Select(th => th.TextContent.Trim()).Should()
            .ContainInOrder("Run", "Operation", "Status", "Target", "Started by", "Created", "Duration", "Progress");
        Chip(view, queued).TextContent.Trim().Should().Be("Queued");
        Chip(view, running).TextContent.Trim().Should().Be("Running");
        Chip(view, failed).TextContent.Trim().Should().Be("Failed");
        Chip(view, failed).ClassList.Should().Contain(c => c.Contains("error", StringComparison.Ordinal), "failure is red, but never only red");
        Row(view, running).QuerySelector("[data-testid='run-progress']")!.TextContent.Should().Contain("30 of 100");
        Row(view, failed).TextContent.Should().Contain("Restore").And.Contain("Baseline").And.Contain("Olivia Owner");
        view.Find("[data-testid='summary-queued']").TextContent.Should().Contain("1");
    }

    [Fact]
    public async Task LiveSignal_ForARunOnThePage_UpdatesItInPlace_AndAnnouncesIt()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, processed: 1, total: 10);
        Navigate("/admin/t/contoso/operations?type=policy_sync");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Running"));

        await _hub.UpdateRunAsync(runId, r =>
        {
            r.Status = RunStatus.Completed;
            r.Outcome = RunOutcome.Succeeded;
            r.ProcessedCount = 10;
            r.CompletedAt = DateTime.UtcNow;
        });
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));

        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Succeeded"));
        view.Find("[data-testid='live-announcer']").TextContent.Should().Contain($"Run {runId}").And.Contain("Succeeded");
        _hub.Bunit.Services.GetRequiredService<NavigationManager>().Uri.Should().EndWith("?type=policy_sync", "the filter stays");
    }

    [Fact]
    public async Task LiveSignal_LeavesTheFiltersUnrendered_AFilterChangeRendersThem()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, processed: 1, total: 10);
        Navigate("/admin/t/contoso/operations?type=policy_sync");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Running"));
        var toolbar = view.FindComponent<RunsToolbar>();
        var rendersBefore = toolbar.RenderCount; // renders of the toolbar and everything in it

        await _hub.UpdateRunAsync(runId, r => { r.Status = RunStatus.Completed; r.Outcome = RunOutcome.Succeeded; });
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));

        // Every open page gets every delivery: the row and the counts change, the filters (five selects) do not.
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Succeeded"));
        view.Find("[data-testid='summary-running'] .hub-summary-count").TextContent.Should().Be("0");
        toolbar.RenderCount.Should().Be(rendersBefore);

        view.Find("[data-testid='filter-clear']").Click();
        view.WaitForAssertion(() => view.FindAll("[data-testid='filter-clear']").Should().BeEmpty("the toolbar shows the new filter"));
        toolbar.RenderCount.Should().BeGreaterThan(rendersBefore);
    }

    [Fact]
    public async Task ALiveDelivery_ForOneRun_LeavesEveryOtherRunningRowAsItWas()
    {
        var finishing = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, processed: 1, total: 10);
        var young = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 3, total: 100);
        var old = await _hub.CreateRunAsync(SampleOperations.Backup, RunStatus.Running, processed: 3, total: 100);
        await _hub.UpdateRunAsync(young, r => r.StartedAt = DateTime.UtcNow.AddSeconds(-5));
        await _hub.UpdateRunAsync(old, r => r.StartedAt = DateTime.UtcNow.AddMinutes(-3).AddSeconds(-20));
        Navigate("/admin/t/contoso/operations");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => Chip(view, finishing).TextContent.Trim().Should().Be("Running"));

        // A running run's duration in the grid is kept to the minute; its own page has the exact clock.
        Row(view, young).QuerySelector("td[data-label='Duration']")!.TextContent.Trim().Should().Be("under 1 min");
        Row(view, old).QuerySelector("td[data-label='Duration']")!.TextContent.Trim().Should().Be("3 min");
        // Blazor hands a re-rendered handler a new id (bUnit prints it; the browser's DOM carries none): not a change.
        string Markup(long id) => System.Text.RegularExpressions.Regex.Replace(Row(view, id).OuterHtml, " blazor:on\\w+=\"\\d+\"", "");
        var before = new[] { young, old }.Select(Markup).ToList();

        // Over a second later (a clock in seconds would have moved both), one run completes.
        await Task.Delay(1100, Xunit.TestContext.Current.CancellationToken);
        await _hub.UpdateRunAsync(finishing, r => { r.Status = RunStatus.Completed; r.Outcome = RunOutcome.Succeeded; r.CompletedAt = DateTime.UtcNow; });
        await _hub.Feed.PushAsync(new RunChanged(finishing, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));

        view.WaitForAssertion(() => Chip(view, finishing).TextContent.Trim().Should().Be("Succeeded"));
        new[] { young, old }.Select(Markup).Should().Equal(before, "a delivery for one run leaves the other rows' markup untouched");
    }

    [Fact]
    public async Task Cells_BuiltAsMarkup_ShowWhatTheDatabaseHolds_AsText()
    {
        // The grid's read-only cells are written as markup (RunGridCells): every value from the database is encoded.
        const string Hostile = "<img src=x onerror=alert(1)>\" data-x=\"&amp;";
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, target: Hostile, processed: 2, total: 8);
        await _hub.UpdateRunAsync(runId, r => r.InitiatorName = "Eve <b>Admin</b>");
        Navigate("/admin/t/contoso/operations");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Running"));

        var row = Row(view, runId);
        row.QuerySelector("td[data-label='Target']")!.TextContent.Should().Be(Hostile);
        row.QuerySelector("td[data-label='Started by']")!.TextContent.Should().Be("Eve <b>Admin</b>");
        row.QuerySelectorAll("img, b, [data-x]").Should().BeEmpty("nothing typed into a run becomes an element or an attribute");
        row.QuerySelector("[role='progressbar']")!.GetAttribute("aria-valuenow").Should().Be("25");
        row.QuerySelector("[data-testid='run-progress']")!.TextContent.Should().Contain("2 of 8");
    }

    [Fact]
    public async Task LiveSignal_WhenPaused_ChangesNothingUntilResumed()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Running, processed: 1, total: 10);
        Navigate("/admin/t/contoso/operations");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Running"));

        view.Find("input[data-testid='live-switch']").Change(false);
        await _hub.UpdateRunAsync(runId, r => { r.Status = RunStatus.Completed; r.Outcome = RunOutcome.Failed; });
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 2));

        view.WaitForAssertion(() => view.Find("[data-testid='paused-changes']"));
        Chip(view, runId).TextContent.Trim().Should().Be("Running");
        view.Find("input[data-testid='live-switch']").Change(true);
        view.WaitForAssertion(() => Chip(view, runId).TextContent.Trim().Should().Be("Failed"));
    }

    [Fact]
    public async Task NewRun_OffTheFirstPage_ShowsTheNewRunsAffordance()
    {
        for (var i = 0; i < 12; i++)
        {
            await _hub.CreateRunAsync(SampleOperations.PolicySync);
        }

        Navigate("/admin/t/contoso/operations?page=2&size=10");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(2));

        var fresh = await _hub.CreateRunAsync(SampleOperations.PolicySync);
        await _hub.Feed.PushAsync(new RunChanged(fresh, _hub.Tenant.TenantId, _hub.Owner.UserId, 1));

        view.WaitForAssertion(() => view.Find("[data-testid='new-runs']").TextContent.Should().Contain("1 new run"));
        view.FindAll($"[data-run='{fresh}']").Should().BeEmpty("page 2 does not jump under the user's feet");
    }

    [Fact]
    public async Task PagerAndSort_ChangeTheView_AndWriteItIntoTheUrl()
    {
        var ids = new List<long>();
        for (var i = 0; i < 12; i++)
        {
            ids.Add(await _hub.CreateRunAsync(SampleOperations.PolicySync));
        }

        Navigate("/admin/t/contoso/operations?size=10");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(10));
        RunIds(view).First().Should().Be(ids[^1], "newest first");
        view.Find("[data-testid='pager-info']").TextContent.Should().Be("1-10 of 12");
        view.Find("[data-testid='runs-grid']").GetAttribute("aria-busy").Should().Be("false", "the page is read");
        view.Find("button[aria-label='Previous page']").HasAttribute("disabled").Should().BeTrue();

        view.Find("button[aria-label='Next page']").Click();
        view.WaitForAssertion(() => RunIds(view).Should().Equal(ids[1], ids[0]));
        view.Find("[data-testid='pager-info']").TextContent.Should().Be("11-12 of 12");
        view.Find("[data-testid='runs-grid']").GetAttribute("aria-busy").Should().Be("false");
        view.Find("button[aria-label='Next page']").HasAttribute("disabled").Should().BeTrue();
        Uri().Should().EndWith("/operations?page=2&size=10");

        view.Find("[data-testid='sort-run']").Click();
        view.WaitForAssertion(() => RunIds(view).First().Should().Be(ids[0], "oldest first, from page 1"));
        view.FindAll("th[aria-sort='ascending']").Should().ContainSingle().Which.TextContent.Should().Contain("Run");
        view.FindAll("th[aria-sort='descending']").Should().BeEmpty();
        Uri().Should().EndWith("/operations?sort=oldest&size=10");

        // Created and Duration sort too: a new column starts newest (longest) first, a second click flips it.
        view.Find("[data-testid='sort-created']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=created-desc&size=10"));
        view.WaitForAssertion(() => RunIds(view).First().Should().Be(ids[^1]));
        view.FindAll("th[aria-sort='descending']").Should().ContainSingle().Which.TextContent.Should().Contain("Created");
        view.Find("[data-testid='sort-created']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=created-asc&size=10"));
        view.WaitForAssertion(() => RunIds(view).First().Should().Be(ids[0]));
        view.Find("[data-testid='sort-duration']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=duration-desc&size=10"));
        view.FindAll("th[aria-sort='descending']").Should().ContainSingle().Which.TextContent.Should().Contain("Duration");
        view.Find("[data-testid='sort-duration']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=duration-asc&size=10"));
        view.FindAll("th[aria-sort='ascending']").Should().ContainSingle().Which.TextContent.Should().Contain("Duration");
        view.Find("[data-testid='sort-run']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?size=10"));
        // Narrow screens hide the header: the same sorts from a select.
        view.Find("select[data-testid='sort-select']").Change("duration-desc");
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=duration-desc&size=10"));
        view.Find("select[data-testid='sort-select']").GetAttribute("value").Should().Be("duration-desc");
        view.Find("select[data-testid='sort-select']").Change("newest");
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?size=10"));
        view.Find("[data-testid='sort-run']").Click();
        view.WaitForAssertion(() => Uri().Should().EndWith("/operations?sort=oldest&size=10"));

        view.Find("select[data-testid='page-size']").Change("25");
        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(12));
        Uri().Should().EndWith("/operations?sort=oldest");
    }

    [Fact]
    public async Task ValuesThePageIgnores_LeaveTheAddress()
    {
        await _hub.CreateRunAsync(SampleOperations.PolicySync);
        Navigate("/admin/t/contoso/operations?sort=bogus&type=no_such_type&size=7&outcome=failed&q=%20");

        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));

        view.WaitForAssertion(() => Uri().Should().EndWith("/admin/t/contoso/operations?outcome=failed"));
        view.Find("[data-testid='sort-select']").GetAttribute("value").Should().Be("newest");
    }

    [Fact]
    public async Task PagePastTheEnd_ShowsTheLastPageInstead()
    {
        for (var i = 0; i < 12; i++)
        {
            await _hub.CreateRunAsync(SampleOperations.PolicySync);
        }

        Navigate("/admin/t/contoso/operations?page=9&size=10");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));

        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(2));
        Uri().Should().EndWith("/operations?page=2&size=10");
        view.FindAll("[data-testid='no-runs']").Should().BeEmpty();
    }

    [Fact]
    public async Task Filter_FromTheUrl_AppliesToTheQuery_AndEmptyStateSaysSo()
    {
        await _hub.CreateRunAsync(SampleOperations.PolicySync, RunStatus.Completed, RunOutcome.Succeeded);
        Navigate("/admin/t/contoso/operations?outcome=failed");

        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));

        view.WaitForAssertion(() => view.Find("[data-testid='no-matches']").TextContent.Should().Contain("No runs match"));
        view.Find("[data-testid='no-matches'] button").Click();
        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(1));
        _hub.Bunit.Services.GetRequiredService<NavigationManager>().Uri.Should().EndWith("/admin/t/contoso/operations");
    }

    [Fact]
    public void NoRunsAtAll_ShowsTheFirstRunEmptyState()
    {
        Navigate("/admin/t/contoso/operations");

        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));

        view.WaitForAssertion(() => view.Find("[data-testid='no-runs']").TextContent.Should().Contain("No runs yet"));
    }

    [Fact]
    public async Task Dispose_RemovesTheSubscription()
    {
        Navigate("/admin/t/contoso/operations");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => _hub.Feed.SubscriberCount.Should().Be(1));

        view.Instance.Dispose();

        _hub.Feed.SubscriberCount.Should().Be(0);
        await Task.CompletedTask;
    }

    private string Uri() => _hub.Bunit.Services.GetRequiredService<NavigationManager>().Uri;

    private static IEnumerable<long> RunIds(IRenderedComponent<RunsView> view) => HubComponentContext.RunIds(view);

    private void Navigate(string uri) => _hub.Bunit.Services.GetRequiredService<NavigationManager>().NavigateTo(uri);

    private static AngleSharp.Dom.IElement Row(IRenderedComponent<RunsView> view, long runId) =>
        view.FindAll("tr.hub-run-row").Single(tr => tr.QuerySelector($"[data-run='{runId}']") is not null);

    private static AngleSharp.Dom.IElement Chip(IRenderedComponent<RunsView> view, long runId) =>
        Row(view, runId).QuerySelector(".mud-chip")!;
}
