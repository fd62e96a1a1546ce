using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Runs;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>
/// Cancel, retry, bulk and the log download over HTTP: every status code and role, with problem details for every
/// refusal. The worker is off here, so runs stay where the test puts them.
/// </summary>
public abstract class OperatorActionsApiTests(TestProvider provider) : IAsyncLifetime
{
    private readonly SmallCapFactory _app = new(provider);

    private TestWorld World => _app.World;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Cancel_EveryStatusCode()
    {
        var queued = await StartAsync(World.AlphaOwner, "policy_sync", "Nightly");
        using var anonymous = _app.CreateApiClientFor(null);
        using var readonlyMember = _app.CreateApiClientFor(World.AlphaReadonly);
        using var betaOwner = _app.CreateApiClientFor(World.BetaOwner);
        using var operatorClient = _app.CreateApiClientFor(World.AlphaOperator);

        (await PostAsync(anonymous, $"/api/t/alpha/operations/{queued}/cancel", new { })).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        await ProblemAsync(await PostAsync(readonlyMember, $"/api/t/alpha/operations/{queued}/cancel", new { }), HttpStatusCode.Forbidden, "cannot cancel runs");
        await ProblemAsync(await PostAsync(betaOwner, $"/api/t/alpha/operations/{queued}/cancel", new { }), HttpStatusCode.Forbidden);
        await ProblemAsync(await PostAsync(operatorClient, "/api/t/alpha/operations/99999999/cancel", new { }), HttpStatusCode.NotFound);
        await ProblemAsync(await PostAsync(operatorClient, "/api/t/alpha/operations/not-a-number/cancel", new { }), HttpStatusCode.NotFound);
        await ProblemAsync(await operatorClient.PostAsync($"/api/t/alpha/operations/{queued}/cancel",
            new StringContent("reason=x", Encoding.UTF8, "application/x-www-form-urlencoded"), Ct), HttpStatusCode.UnsupportedMediaType);
        (await PostAsync(operatorClient, $"/api/t/alpha/operations/{queued}/cancel", new { reason = new string('x', 501) }))
            .StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await RunAsync(queued)).Status.Should().Be(RunStatus.Queued, "nothing refused changed the run");

        // An operator cancels a run someone else started, and says why.
        using var cancelled = await PostAsync(operatorClient, $"/api/t/alpha/operations/{queued}/cancel", new { reason = "Wrong tenant" });
        cancelled.StatusCode.Should().Be(HttpStatusCode.OK);
        (await Json(cancelled)).GetProperty("outcome").GetString().Should().Be("Cancelled");
        (await LastEventAsync(queued)).Should().Be($"Cancelled by {HubAppFactory.ApiInitiator(World.AlphaOperator)} before it started. Reason: Wrong tenant");
        await ProblemAsync(await PostAsync(operatorClient, $"/api/t/alpha/operations/{queued}/cancel", new { }), HttpStatusCode.Conflict, "already finished");
    }

    [Fact]
    public async Task Retry_EveryStatusCode_AndTheRetryIsLinked()
    {
        var failed = await StartAsync(World.AlphaOwner, "backup", "Weekly");
        using var operatorClient = _app.CreateApiClientFor(World.AlphaOperator);
        using var readonlyMember = _app.CreateApiClientFor(World.AlphaReadonly);

        await ProblemAsync(await PostAsync(operatorClient, $"/api/t/alpha/operations/{failed}/retry", new { }), HttpStatusCode.Conflict, "only a completed run");
        await CompleteAsync(failed, RunOutcome.Failed);
        await ProblemAsync(await PostAsync(readonlyMember, $"/api/t/alpha/operations/{failed}/retry", new { }), HttpStatusCode.Forbidden, "cannot retry");
        await ProblemAsync(await PostAsync(operatorClient, "/api/t/alpha/operations/99999999/retry", new { }), HttpStatusCode.NotFound);
        await ProblemAsync(await PostAsync(operatorClient, $"/api/t/alpha/operations/{failed}/retry", new { failedItemsOnly = true }),
            HttpStatusCode.Conflict, "only be retried as a whole");

        using var retried = await PostAsync(operatorClient, $"/api/t/alpha/operations/{failed}/retry", new { });
        retried.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var retry = await Json(retried);
        var retryId = retry.GetProperty("id").GetInt64();
        retry.GetProperty("retryOf").GetInt64().Should().Be(failed);
        retried.Headers.Location!.ToString().Should().Be($"/admin/t/alpha/operations/{retryId}");
        (await LastEventAsync(failed)).Should().Be($"Retried as #{retryId} by {HubAppFactory.ApiInitiator(World.AlphaOperator)}.");

        // The retry is queued: asking again is the same work, deduped to it.
        using var again = await PostAsync(operatorClient, $"/api/t/alpha/operations/{failed}/retry", new { });
        again.StatusCode.Should().Be(HttpStatusCode.OK);
        (await Json(again)).GetProperty("id").GetInt64().Should().Be(retryId);
        (await Json(again)).GetProperty("deduped").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task Bulk_EveryStatusCode_CountFirst_CapAndMismatch()
    {
        var runs = new List<long>();
        foreach (var target in new[] { "A", "B", "C" })
        {
            runs.Add(await StartAsync(World.AlphaOwner, "restore", target, World.AlphaBackupIds[runs.Count]));
        }

        using var manager = _app.CreateApiClientFor(World.BothTenants);
        using var operatorClient = _app.CreateApiClientFor(World.AlphaOperator);
        using var anonymous = _app.CreateApiClientFor(null);
        var byIds = new { action = "cancel", ids = runs, expectedCount = 3, reason = "Maintenance window" };

        (await PostAsync(anonymous, "/api/t/alpha/operations/bulk", byIds)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        await ProblemAsync(await PostAsync(operatorClient, "/api/t/alpha/operations/bulk", byIds), HttpStatusCode.Forbidden, "Manager or Owner");
        await ValidationAsync(await PostAsync(manager, "/api/t/alpha/operations/bulk", new { action = "delete", ids = runs, expectedCount = 3 }), "action");
        await ValidationAsync(await PostAsync(manager, "/api/t/alpha/operations/bulk", new { action = "cancel", ids = runs }), "expectedCount");
        await ValidationAsync(await PostAsync(manager, "/api/t/alpha/operations/bulk",
            new { action = "cancel", ids = runs, filter = "status=queued", expectedCount = 3 }), "selection");
        await ProblemAsync(await PostAsync(manager, "/api/t/alpha/operations/bulk", byIds with { expectedCount = 2 }),
            HttpStatusCode.Conflict, "now holds 3 runs, not 2");
        // Another tenant's run number in the list is not one of this tenant's runs: the count says so.
        await ProblemAsync(await PostAsync(manager, "/api/t/alpha/operations/bulk", new { action = "cancel", ids = new[] { runs[0], World.BetaRunId }, expectedCount = 2 }),
            HttpStatusCode.Conflict, "now holds 1 run, not 2");
        var fourth = await StartAsync(World.AlphaOwner, "restore", "D", World.AlphaBackupIds[3]);
        var overCap = await PostAsync(manager, "/api/t/alpha/operations/bulk", new { action = "cancel", filter = "status=queued", expectedCount = 4 });
        await ValidationAsync(overCap, "selection");
        (await overCap.Content.ReadAsStringAsync(Ct)).Should().Contain("at most 3");
        foreach (var id in runs.Append(fourth))
        {
            (await RunAsync(id)).Status.Should().Be(RunStatus.Queued, "nothing refused touched a run");
        }

        using var started = await PostAsync(manager, "/api/t/alpha/operations/bulk", byIds);
        started.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var bulk = await Json(started);
        bulk.GetProperty("type").GetString().Should().Be(BulkActions.Type);
        var bulkRun = await RunAsync(bulk.GetProperty("id").GetInt64());
        bulkRun.InitiatorUserId.Should().Be(World.BothTenants.Id);
        RunJson.DeserializeContext(bulkRun.ContextJson).Items.Should().Equal(runs.Select(r => r.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var twice = await PostAsync(manager, "/api/t/alpha/operations/bulk", byIds);
        twice.StatusCode.Should().Be(HttpStatusCode.OK, "the same action on the same runs is the same bulk run");
    }

    [Fact]
    public async Task Bulk_ByFilter_CoversExactlyTheRunsTheGridShows()
    {
        var restore = await StartAsync(World.AlphaOwner, "restore", "A", World.AlphaBackupIds[0]);
        await StartAsync(World.AlphaOwner, "policy_sync", "P");
        using var owner = _app.CreateApiClientFor(World.AlphaOwner);

        using var started = await PostAsync(owner, "/api/t/alpha/operations/bulk",
            new { action = "cancel", filter = "?status=queued&type=restore", expectedCount = 1 });

        started.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var bulkRun = await RunAsync((await Json(started)).GetProperty("id").GetInt64());
        RunJson.DeserializeContext(bulkRun.ContextJson).Items.Should().Equal(restore.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task LogDownload_IsThePlainTextLog_ForMembersOnly()
    {
        await using (var db = await DbAsync())
        {
            db.RunLogLines.AddRange(
                new RunLogLine { RunId = World.AlphaRunId, At = new DateTime(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc), Level = RunLogLevel.Information, Message = "Started reading." },
                new RunLogLine { RunId = World.AlphaRunId, At = new DateTime(2026, 12, 3, 10, 0, 1, DateTimeKind.Utc), Level = RunLogLevel.Warning, Message = "DEV-7 slow." });
            await db.SaveChangesAsync(Ct);
        }

        using var reader = _app.CreateClientFor(World.AlphaReadonly);
        using var betaOwner = _app.CreateClientFor(World.BetaOwner);
        using var anonymous = _app.CreateClientFor(null);
        var path = $"/admin/t/alpha/operations/{World.AlphaRunId}/log.txt";

        using var ok = await reader.GetAsync(path, Ct);
        ok.StatusCode.Should().Be(HttpStatusCode.OK);
        ok.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        ok.Content.Headers.ContentDisposition!.DispositionType.Should().Be("attachment");
        (await ok.Content.ReadAsStringAsync(Ct)).Should().Be(
            "2026-12-03T10:00:00.000Z  INFO   Started reading.\n2026-12-03T10:00:01.000Z  WARN   DEV-7 slow.\n".ReplaceLineEndings());
        (await betaOwner.GetAsync(path, Ct)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        using var signedOut = await anonymous.GetAsync(path, Ct);
        signedOut.StatusCode.Should().Be(HttpStatusCode.Redirect);
        signedOut.Headers.Location!.ToString().Should().Contain("/account/login");
        (await reader.GetAsync($"/admin/t/alpha/operations/99999999/log.txt", Ct)).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    private async Task<long> StartAsync(TestUser user, string type, string target, string? backupId = null)
    {
        using var client = _app.CreateApiClientFor(user);
        using var response = await PostAsync(client, "/api/t/alpha/operations", backupId is null
            ? new { type, target }
            : (object)new { type, target, identityInputs = new { backup_id = backupId } });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        return (await Json(response)).GetProperty("id").GetInt64();
    }

    private async Task CompleteAsync(long runId, RunOutcome outcome)
    {
        await using var db = await DbAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId, Ct);
        (run.Status, run.Outcome, run.StartedAt, run.CompletedAt) = (RunStatus.Completed, outcome, run.CreatedAt, run.CreatedAt.AddSeconds(3));
        await db.SaveChangesAsync(Ct);
    }

    private async Task<OperationRun> RunAsync(long runId)
    {
        await using var db = await DbAsync();
        return await db.Runs.AsNoTracking().SingleAsync(r => r.Id == runId, Ct);
    }

    private async Task<string> LastEventAsync(long runId)
    {
        await using var db = await DbAsync();
        return await db.RunEvents.Where(e => e.RunId == runId).OrderByDescending(e => e.Id).Select(e => e.Message).FirstAsync(Ct);
    }

    private Task<HubDbContext> DbAsync() => _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct);

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, object body) => client.PostAsJsonAsync(path, body, Ct);

    private static async Task ProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? detail = null)
    {
        using (response)
        {
            response.StatusCode.Should().Be(status);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            var problem = await Json(response);
            problem.GetProperty("status").GetInt32().Should().Be((int)status);
            if (detail is not null)
            {
                problem.GetProperty("detail").GetString().Should().Contain(detail);
            }
        }
    }

    private static async Task ValidationAsync(HttpResponseMessage response, string field)
    {
        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await Json(response)).GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue($"the refusal names {field}");
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    /// <summary>The hub with a bulk cap of 3, so the cap is reached with a handful of runs.</summary>
    private sealed class SmallCapFactory(TestProvider provider) : HubAppFactory(provider)
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["BulkActions:MaxRuns"] = "3" };
    }
}

public sealed class OperatorActionsApiTestsOnSqlite() : OperatorActionsApiTests(TestProvider.Sqlite);

public sealed class OperatorActionsApiTestsOnPostgreSql() : OperatorActionsApiTests(TestProvider.PostgreSql);
