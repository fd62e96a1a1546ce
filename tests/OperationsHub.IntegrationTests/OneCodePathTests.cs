using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Runs;
using OperationsHub.IntegrationTests.Infrastructure;
using OperationsHub.Web.Features.Auth;
using OperationsHub.Web.Features.Operations;

namespace OperationsHub.IntegrationTests;

/// <summary>A start from a dashboard button, from the HTTP API and from the demo seed leaves the same trail.</summary>
public sealed class OneCodePathTests : IAsyncLifetime
{
    private readonly HubAppFactory _app = new();

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task ButtonApiAndDemo_ProduceTheSameRowsEventsAndNotifications()
    {
        var user = _app.World.AlphaOwner;
        var principal = await _app.SignInAsync(user);

        // The dashboard button calls RunCommands.
        var button = await _app.Services.GetRequiredService<RunCommands>().StartAsync(
            principal, TestWorld.Alpha, new StartRunInput("restore", new Dictionary<string, string> { ["backup_id"] = _app.World.AlphaBackupIds[0] }), default);
        // Another app calls the HTTP API, with an API token of the same person.
        using var client = _app.CreateApiClientFor(user);
        using var api = await client.PostAsJsonAsync("/api/t/alpha/operations",
            new { type = "restore", identityInputs = new { backup_id = _app.World.AlphaBackupIds[1] } }, TestContext.Current.CancellationToken);
        api.StatusCode.Should().Be(HttpStatusCode.Accepted);
        // The demo seed calls the run service itself.
        var demo = await _app.Services.GetRequiredService<OperationRunService>().StartAsync(new StartRunRequest
        {
            TenantId = _app.World.AlphaTenantId,
            Type = "restore",
            IdentityInputs = new Dictionary<string, string> { ["backup_id"] = _app.World.AlphaBackupIds[2] },
            Initiator = new RunInitiator(user.Id, user.Name),
        });

        var ids = new[] { button.Value!.Run.Id, long.Parse(api.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture), demo.Run.Id };
        await using var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(TestContext.Current.CancellationToken);
        var trails = new List<string>();
        foreach (var id in ids)
        {
            var run = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == id, TestContext.Current.CancellationToken);
            var events = await db.RunEvents.AsNoTracking().Where(e => e.RunId == id).Select(e => e.Kind + ":" + e.Message).ToListAsync(TestContext.Current.CancellationToken);
            var notifications = await db.Notifications.AsNoTracking().Where(n => n.RunId == id)
                .Select(n => $"{n.UserId}:{n.Kind}:{n.Title}:{n.Outcome}").ToListAsync(TestContext.Current.CancellationToken);
            trails.Add($"{run.TenantId}|{run.Type}|{run.Status}|{run.Outcome}|{run.InitiatorUserId}|{run.InitiatorName}|{run.Version}|" +
                string.Join(",", events) + "|" + string.Join(",", notifications));
        }

        // The API's run names the token as its initiator (and notifies the token's creator); the rest is the same.
        trails[1].Should().Contain($"|{user.Id}|{HubAppFactory.ApiInitiator(user)}|").And.Contain($"created:Queued by {HubAppFactory.ApiInitiator(user)}.");
        trails[1] = trails[1].Replace(HubAppFactory.ApiInitiator(user), user.Name, StringComparison.Ordinal);
        trails.Distinct().Should().ContainSingle("all three start surfaces go through OperationRunService.StartAsync");
        trails[0].Should().Contain("created:Queued by Ada Owner.").And.Contain($"{user.Id}:queued:Restore queued:Pending");
    }
}
