using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Feed;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Notifications;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

public sealed class NotificationCenterTests : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new();

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    [Fact]
    public async Task Bell_CountsUnread_AndRisesLiveOnTheUsersSignal()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        await AddNotificationAsync(runId, NotificationKinds.Queued, RunOutcome.Pending, "Backup queued");

        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 1 unread"));

        await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Failed, "Backup failed");
        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 3));

        bell.WaitForAssertion(() => _hub.ToastTexts().Should().ContainSingle().Which.Should().Contain("Backup failed"));
        Label(bell).Should().Be("Notifications, 1 unread", "the run's end joins its queued entry: one story, one entry");

        var second = await _hub.CreateRunAsync(SampleOperations.Restore);
        await AddNotificationAsync(second, NotificationKinds.Queued, RunOutcome.Pending, "Restore queued");
        await _hub.Feed.PushAsync(new RunChanged(second, _hub.Tenant.TenantId, _hub.Owner.UserId, 1));
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 2 unread"));
    }

    [Fact]
    public async Task Panel_ListsOneEntryPerRun_NewestFirst_MarksOneAndAllRead()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        await AddNotificationAsync(runId, NotificationKinds.Queued, RunOutcome.Pending, "Backup queued");
        var restore = await _hub.CreateRunAsync(SampleOperations.Restore);
        await AddNotificationAsync(restore, NotificationKinds.Queued, RunOutcome.Pending, "Restore queued");
        await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Succeeded, "Backup succeeded");
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 2 unread"));

        bell.Find("[data-testid='notification-bell']").Click();
        bell.WaitForAssertion(() => bell.FindAll("[data-notification]").Should().HaveCount(2, "one entry per run"));
        var entries = bell.FindAll("[data-notification]");
        entries[0].TextContent.Should().Contain("Backup succeeded").And.Contain($"#{runId}").And.NotContain("Backup queued");
        entries[0].QuerySelector("[data-testid='notification-story']")!.TextContent.Should().Contain("queued just now").And.Contain("ended just now");
        entries[1].TextContent.Should().Contain("Restore queued").And.Contain($"#{restore}");

        bell.FindAll("[data-testid='mark-read']")[0].Click();
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 1 unread"));
        bell.Find("[data-testid='mark-all-read']").Click();
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 0 unread"));
    }

    [Fact]
    public void ClosedPanel_HasNoFocusStops_AndEscapeClosesAnOpenOne()
    {
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        bell.FindAll("[data-testid='mark-all-read']").Should().BeEmpty("a closed panel offers nothing to tab to");
        bell.FindAll("button[aria-label='Close notifications']").Should().BeEmpty();

        bell.Find("[data-testid='notification-bell']").Click();
        bell.WaitForAssertion(() => bell.Find("[data-testid='mark-all-read']"));
        bell.Find(".hub-notifications-body").KeyDown(new Microsoft.AspNetCore.Components.Web.KeyboardEventArgs { Key = "Escape" });
        bell.WaitForAssertion(() => bell.FindAll("[data-testid='mark-all-read']").Should().BeEmpty());
        bell.Find("[data-testid='notification-bell']").GetAttribute("aria-expanded").Should().Be("false");
    }

    [Fact]
    public async Task OtherUsersNotifications_AreNeverShown()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        await using (var db = await _hub.DbAsync())
        {
            var other = new HubUser { DisplayName = "Someone Else" };
            db.Users.Add(other);
            await db.SaveChangesAsync();
            db.Notifications.Add(new UserNotification
            {
                UserId = other.Id, TenantId = _hub.Tenant.TenantId, RunId = runId, Kind = NotificationKinds.Completed,
                Outcome = RunOutcome.Failed, Title = "Not yours", Body = "", CreatedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        bell.Find("[data-testid='notification-bell']").Click();

        bell.WaitForAssertion(() => bell.Find("[data-testid='no-notifications']"));
        Label(bell).Should().Be("Notifications, 0 unread");
    }

    [Fact]
    public async Task Toast_NamesTheRunItsTargetAndTenant_AndViewRunIsARealLink()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup, target: "Nightly <b>policies</b>");
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Failed, "Backup failed");

        await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 3));

        bell.WaitForAssertion(() => _hub.ToastTexts().Should().ContainSingle());
        _hub.ToastTexts().Single().Should().Contain($"Backup failed #{runId} · Nightly <b>policies</b> · Contoso Ltd",
            "the run's number, what it works on (as text, never markup) and where");
        var toast = _hub.Toasts.Find(".mud-snackbar");
        toast.QuerySelector("b").Should().BeNull("a target is text, never markup");
        toast.QuerySelector("a[data-testid='toast-view-run']")!.GetAttribute("href").Should().Be($"/admin/t/contoso/operations/{runId}");
    }

    [Fact]
    public async Task Toasts_PastThree_CollapseIntoOne_WithShowAndDismissAll()
    {
        var snackbars = _hub.Toasts;
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));
        var snackbar = _hub.Bunit.Services.GetRequiredService<ISnackbar>();
        for (var i = 1; i <= 5; i++)
        {
            var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
            await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Failed, $"Backup {i} failed");
            await _hub.Feed.PushAsync(new RunChanged(runId, _hub.Tenant.TenantId, _hub.Owner.UserId, 3));
            var expected = Math.Min(i, NotificationCenter.MaxRunToasts) + (i > NotificationCenter.MaxRunToasts ? 1 : 0);
            bell.WaitForAssertion(() => snackbar.ShownSnackbars.Should().HaveCount(expected));
        }

        snackbars.WaitForAssertion(() => snackbars.Find("[data-testid='toast-overflow']").TextContent.Should().Contain("2 more runs finished"));
        snackbars.Find("[data-testid='toast-dismiss-all']").Click();

        bell.WaitForAssertion(() => snackbar.ShownSnackbars.Should().BeEmpty());
    }

    [Fact]
    public async Task BellEntry_NamesTheRun_AndViewRunIsARealLink()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Succeeded, "Backup succeeded");
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));

        bell.Find("[data-testid='notification-bell']").Click();

        bell.WaitForAssertion(() => bell.Find("[data-notification]").TextContent.Should().Contain($"Backup succeeded #{runId}"));
        var link = bell.Find("[data-testid='notification-view-run']");
        link.TagName.Should().Be("A");
        link.GetAttribute("href").Should().Be($"/admin/t/contoso/operations/{runId}");
    }

    private static string Label(IRenderedComponent<NotificationCenter> bell) =>
        bell.Find("[data-testid='notification-bell']").GetAttribute("aria-label")!;

    private async Task AddNotificationAsync(long runId, string kind, RunOutcome outcome, string title)
    {
        await using var db = await _hub.DbAsync();
        db.Notifications.Add(new UserNotification
        {
            UserId = _hub.Owner.UserId, TenantId = _hub.Tenant.TenantId, RunId = runId, Kind = kind, Outcome = outcome,
            Title = title, Body = "", CreatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
    }
}
