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

        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 2 unread"));
        var snackbar = _hub.Bunit.Services.GetRequiredService<ISnackbar>();
        snackbar.ShownSnackbars.Should().ContainSingle().Which.Message!.Should().Contain("Backup failed");
    }

    [Fact]
    public async Task Panel_ListsNewestFirst_MarksOneAndAllRead()
    {
        var runId = await _hub.CreateRunAsync(SampleOperations.Backup);
        await AddNotificationAsync(runId, NotificationKinds.Queued, RunOutcome.Pending, "Backup queued");
        await AddNotificationAsync(runId, NotificationKinds.Completed, RunOutcome.Succeeded, "Backup succeeded");
        var bell = _hub.Bunit.Render<NotificationCenter>(p => p.Add(c => c.UserId, _hub.Owner.UserId));

        bell.Find("[data-testid='notification-bell']").Click();
        bell.WaitForAssertion(() => bell.FindAll("[data-notification]").Should().HaveCount(2));
        bell.FindAll("[data-notification]")[0].TextContent.Should().Contain("Backup succeeded");

        bell.FindAll("[data-testid='mark-read']")[0].Click();
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 1 unread"));
        bell.Find("[data-testid='mark-all-read']").Click();
        bell.WaitForAssertion(() => Label(bell).Should().Be("Notifications, 0 unread"));
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
