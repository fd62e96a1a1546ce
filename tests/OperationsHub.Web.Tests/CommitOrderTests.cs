using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Notifications;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>
/// Ids are not a clock: with several writers, a row with a lower id can become visible after a row with a higher id
/// was read. Each test makes that happen for real, on each provider: it leaves a gap in the ids, lets the page read
/// past it, then commits a row into the gap, and checks the page still sees it (a toast, "N new runs", a time range).
/// </summary>
public abstract class CommitOrderTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new(provider);

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Toast_ForANotificationCommittedBelowOneAlreadySeen_IsShown()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        var gap = await AddNotificationAsync(runId, "Backup placeholder");
        await AddNotificationAsync(runId, "Backup succeeded before the tab opened");
        await using (var db = await _hub.DbAsync())
        {
            await db.Notifications.Where(n => n.Id == gap).ExecuteDeleteAsync(Xunit.TestContext.Current.CancellationToken);
        }

        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        bell.WaitForAssertion(() => bell.Find("[data-testid='notification-bell']").GetAttribute("aria-label").Should().Be("Notifications, 1 unread"));

        // A slower writer commits its notification now, with the lower id it took before the one the tab saw.
        await AddNotificationAsync(runId, "Backup failed late", id: gap, outcome: RunOutcome.Failed);
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 5));

        bell.WaitForAssertion(() => _hub.ToastTexts().Should().ContainSingle()
            .Which.Should().Contain("Backup failed late", "what ended before the tab opened is in the list, not toasted"));
    }

    [Fact]
    public async Task NewRunsCount_IncludesARunCommittedBelowANewerOne()
    {
        var gap = await _hub.CreateRunAsync(SampleOperations.PolicySync);
        for (var i = 0; i < 12; i++)
        {
            await _hub.CreateRunAsync(SampleOperations.PolicySync);
        }

        await _hub.DeleteRunAsync(gap);
        _hub.Bunit.Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>()
            .NavigateTo("/admin/t/contoso/operations?page=2&size=10");
        var view = _hub.Bunit.Render<RunsView>(p => p.Add(v => v.Tenant, _hub.Tenant));
        view.WaitForAssertion(() => view.FindAll("tr.hub-run-row").Should().HaveCount(2));

        var fresh = await _hub.CreateRunAsync(SampleOperations.PolicySync);
        await _hub.Feed.PushAsync(new RunChanged(fresh, _hub.Tenant.TenantId, _hub.Owner.UserId, 1));
        view.WaitForAssertion(() => view.Find("[data-testid='new-runs']").TextContent.Should().Contain("1 new run"));

        // Committed after the higher id was counted, with a lower id than any run on the page.
        await _hub.CreateRunAsync(SampleOperations.PolicySync, id: gap);
        await _hub.Feed.PushAsync(new RunChanged(gap, _hub.Tenant.TenantId, _hub.Owner.UserId, 1));
        view.WaitForAssertion(() => view.Find("[data-testid='new-runs']").TextContent.Should().Contain("2 new runs"));
    }

    [Fact]
    public async Task TimeRange_FindsARunCreatedInRangeWithALowerIdThanOlderRuns()
    {
        var now = DateTime.UtcNow;
        var old = await _hub.CreateRunAsync(SampleOperations.PolicySync, createdAt: now.AddHours(-3));
        var gap = await _hub.CreateRunAsync(SampleOperations.PolicySync, createdAt: now.AddHours(-3));
        var halfHourAgo = await _hub.CreateRunAsync(SampleOperations.PolicySync, createdAt: now.AddMinutes(-30));
        await _hub.DeleteRunAsync(gap);
        // The lower id, taken before the half-hour-old run's, commits now, created a moment ago.
        await _hub.CreateRunAsync(SampleOperations.PolicySync, id: gap, createdAt: now.AddSeconds(-1));

        var query = _hub.Bunit.Services.GetRequiredService<RunsGridQuery>();
        var page = await query.GetPageAsync(_hub.Tenant.TenantId, _hub.Owner.UserId,
            new RunsFilter { Range = RunTimeRange.LastHour }, Xunit.TestContext.Current.CancellationToken);

        page.Rows.Select(r => r.Id).Should().Equal([halfHourAgo, gap], "both were created in the last hour, newest id first");
        page.Rows.Select(r => r.Id).Should().NotContain(old);
    }

    private async Task<long> AddNotificationAsync(long runId, string title, long? id = null, RunOutcome outcome = RunOutcome.Succeeded)
    {
        await using var db = await _hub.DbAsync();
        var row = new UserNotification
        {
            Id = id ?? 0, UserId = _hub.Owner.UserId, TenantId = _hub.Tenant.TenantId, RunId = runId,
            Kind = NotificationKinds.Completed, Outcome = outcome, Title = title, Body = "", CreatedAt = DateTime.UtcNow,
        };
        db.Notifications.Add(row);
        await db.SaveChangesAsync();
        return row.Id;
    }
}

public sealed class CommitOrderTestsOnSqlite() : CommitOrderTests(TestProvider.Sqlite);

public sealed class CommitOrderTestsOnPostgreSql() : CommitOrderTests(TestProvider.PostgreSql);
