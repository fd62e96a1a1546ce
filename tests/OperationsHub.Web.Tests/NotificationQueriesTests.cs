using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Samples;
using OperationsHub.Web.Features.Notifications;
using OperationsHub.Web.Tests.Infrastructure;

namespace OperationsHub.Web.Tests;

/// <summary>The bell's reads on each provider's real database: one entry per run, its read state and its count.</summary>
public abstract class NotificationQueriesTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubComponentContext _hub = new(provider);

    public async ValueTask InitializeAsync() => await _hub.InitializeAsync();

    public async ValueTask DisposeAsync() => await _hub.DisposeAsync();

    private NotificationQueries Queries => _hub.Bunit.Services.GetRequiredService<NotificationQueries>();

    [Fact]
    public async Task ARunsQueuedAndEndedNotifications_ReadAsOneEntry_WithOneReadState()
    {
        var t = DateTime.UtcNow.AddMinutes(-10);
        var backup = await _hub.CreateRunAsync(SampleOperations.Backup);
        var restore = await _hub.CreateRunAsync(SampleOperations.Restore);
        var queued = await AddAsync(backup, NotificationKinds.Queued, "Backup queued", t);
        await AddAsync(restore, NotificationKinds.Queued, "Restore queued", t.AddMinutes(1));
        var ended = await AddAsync(backup, NotificationKinds.Completed, "Backup failed", t.AddMinutes(2));
        var owner = _hub.Owner.UserId;

        var entries = await Queries.GetNewestAsync(owner, 10, default);
        entries.Select(e => (e.RunId, e.Title)).Should().Equal((backup, "Backup failed"), (restore, "Restore queued"));
        entries[0].QueuedAt.Should().BeCloseTo(t, TimeSpan.FromSeconds(1));
        entries[1].QueuedAt.Should().BeNull("a run still queued has only its queued entry");
        (await Queries.CountUnreadAsync(owner, default)).Should().Be(2);

        // Reading the queued notification alone (as the bell did before the run ended) leaves the entry unread: its end is news.
        (await Queries.MarkReadAsync(owner, queued, default)).Should().BeTrue();
        (await Queries.GetNewestAsync(owner, 10, default))[0].ReadAt.Should().BeNull();
        (await Queries.CountUnreadAsync(owner, default)).Should().Be(2, "the backup's end is still unread");

        (await Queries.MarkReadAsync(owner, ended, default)).Should().BeTrue();
        (await Queries.GetNewestAsync(owner, 10, default))[0].ReadAt.Should().NotBeNull();
        (await Queries.CountUnreadAsync(owner, default)).Should().Be(1);
        (await Queries.GetNewestAsync(owner, 1, default)).Should().ContainSingle("take counts entries, not notifications");
    }

    [Fact]
    public async Task MarkRead_WithSomeoneElsesNotificationId_ChangesNothing()
    {
        var run = await _hub.CreateRunAsync(SampleOperations.Backup);
        var mine = await AddAsync(run, NotificationKinds.Queued, "Backup queued", DateTime.UtcNow);

        (await Queries.MarkReadAsync(_hub.Owner.UserId + 1000, mine, default)).Should().BeFalse();
        (await Queries.CountUnreadAsync(_hub.Owner.UserId, default)).Should().Be(1);
    }

    private async Task<long> AddAsync(long runId, string kind, string title, DateTime at)
    {
        await using var db = await _hub.DbAsync();
        var row = new UserNotification
        {
            UserId = _hub.Owner.UserId, TenantId = _hub.Tenant.TenantId, RunId = runId, Kind = kind,
            Outcome = kind == NotificationKinds.Completed ? RunOutcome.Failed : RunOutcome.Pending, Title = title, Body = "", CreatedAt = at,
        };
        db.Notifications.Add(row);
        await db.SaveChangesAsync();
        return row.Id;
    }
}

public sealed class NotificationQueriesTestsOnSqlite() : NotificationQueriesTests(TestProvider.Sqlite);

public sealed class NotificationQueriesTestsOnPostgreSql() : NotificationQueriesTests(TestProvider.PostgreSql);
