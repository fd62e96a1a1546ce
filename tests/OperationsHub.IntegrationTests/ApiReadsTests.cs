using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>What a script watches runs with: the list (filters, keyset cursor), one run in full, the operation types.</summary>
public abstract class ApiReadsTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubAppFactory _app = new(provider);

    private TestWorld World => _app.World;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task TheList_PagesNewestFirstByCursor_WithTheGridsFilters_NeverSkippingOrRepeating_AndOnlyItsTenant()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);
        var started = new List<long>();
        for (var i = 0; i < 7; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/t/alpha/operations", new { type = "restore", identityInputs = new { backup_id = World.AlphaBackupIds[i] } }, Ct);
            response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync(Ct));
            started.Add((await Json(response)).GetProperty("id").GetInt64());
        }

        var distinct = started.Distinct().ToList();
        distinct.Should().HaveCount(7, "a restore of each backup is work of its own");
        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var page = await client.GetAsync($"/api/t/alpha/operations?status=queued&limit=3{(cursor is null ? "" : $"&cursor={cursor}")}", Ct);
            page.StatusCode.Should().Be(HttpStatusCode.OK);
            var body = await Json(page);
            var items = body.GetProperty("items").EnumerateArray().ToList();
            items.Should().HaveCountLessThanOrEqualTo(3);
            items.Should().OnlyContain(r => r.GetProperty("status").GetString() == "Queued");
            seen.AddRange(items.Select(r => r.GetProperty("id").GetInt64()));
            cursor = body.GetProperty("nextCursor").ValueKind == JsonValueKind.Null ? null : body.GetProperty("nextCursor").GetString();
            if (cursor is not null)
            {
                body.GetProperty("links").GetProperty("next").GetString().Should().Contain($"cursor={cursor}").And.Contain("status=queued");
            }

            pages++;
        }
        while (cursor is not null && pages < 10);

        seen.Should().BeInDescendingOrder().And.OnlyHaveUniqueItems();
        seen.Should().BeEquivalentTo(distinct, "every queued run of alpha, each once, newest first");
        pages.Should().Be((distinct.Count + 2) / 3);

        // The whole list, unfiltered, holds alpha's seeded run too; never beta's.
        using var all = await client.GetAsync("/api/t/alpha/operations?limit=100", Ct);
        var ids = (await Json(all)).GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).ToList();
        ids.Should().Contain(World.AlphaRunId).And.NotContain(World.BetaRunId);

        // Text search (here the initiator, the token of Otto Operator) and the type filter are the grid's.
        using var searched = await client.GetAsync("/api/t/alpha/operations?q=Otto&limit=100", Ct);
        (await Json(searched)).GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetInt64())
            .Should().BeEquivalentTo(distinct);
        using var typed = await client.GetAsync("/api/t/alpha/operations?type=inventory_sync", Ct);
        (await Json(typed)).GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).Should().Equal(World.AlphaRunId);
    }

    [Theory]
    [InlineData("status=bogus", "status")]
    [InlineData("outcome=maybe", "outcome")]
    [InlineData("type=no_such_type", "type")]
    [InlineData("type=bulk_action", "type")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("cursor=abc", "cursor")]
    [InlineData("range=1y", "range")]
    [InlineData("mine=yes", "mine")]
    [InlineData("page=2", "page")]
    public async Task TheList_RefusesWhatItDoesNotUnderstand_As422NamingTheParameter(string query, string field)
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);

        using var response = await client.GetAsync($"/api/t/alpha/operations?{query}", Ct);

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await Json(response)).GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue();
    }

    [Fact]
    public async Task OneRun_CarriesItsCountsFailuresAndTimeline()
    {
        await using (var db = await _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>().CreateDbContextAsync(Ct))
        {
            var run = await db.Runs.SingleAsync(r => r.Id == World.AlphaRunId, Ct);
            run.TotalCount = 3;
            run.ProcessedCount = 3;
            run.SucceededCount = 2;
            run.FailedCount = 1;
            run.FailureTotal = 1;
            run.Outcome = RunOutcome.PartiallySucceeded;
            run.FailuresJson = "[{\"Code\":\"device_unreachable\",\"Message\":\"Device D-2 did not answer.\",\"Item\":\"D-2\"}]";
            db.RunEvents.Add(new OperationRunEvent { RunId = run.Id, Kind = "completed", Message = "Completed with 1 failure.", At = DateTime.UtcNow });
            await db.SaveChangesAsync(Ct);
        }

        using var client = _app.CreateApiClientFor(World.AlphaReadonly);
        using var response = await client.GetAsync($"/api/t/alpha/operations/{World.AlphaRunId}", Ct);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var body = await Json(response);
        body.GetProperty("id").GetInt64().Should().Be(World.AlphaRunId);
        body.GetProperty("outcome").GetString().Should().Be("PartiallySucceeded");
        (body.GetProperty("succeeded").GetInt32(), body.GetProperty("failed").GetInt32(), body.GetProperty("total").GetInt32()).Should().Be((2, 1, 3));
        body.GetProperty("failureTotal").GetInt32().Should().Be(1);
        var failure = body.GetProperty("failures").EnumerateArray().Single();
        (failure.GetProperty("code").GetString(), failure.GetProperty("item").GetString()).Should().Be(("device_unreachable", "D-2"));
        body.GetProperty("timeline").EnumerateArray().Select(e => e.GetProperty("message").GetString()).Should().Contain("Completed with 1 failure.");
        body.GetProperty("links").GetProperty("page").GetString().Should().Be($"/admin/t/alpha/operations/{World.AlphaRunId}");
    }

    [Fact]
    public async Task TheOperationTypes_AreTheStartableOnes_WithTheirIdentityInputs()
    {
        using var client = _app.CreateApiClientFor(World.AlphaReadonly);

        using var response = await client.GetAsync("/api/t/alpha/operation-types", Ct);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var types = (await Json(response)).EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!);
        types.Should().ContainKeys("inventory_sync", "policy_sync", "backup", "restore", "directory_sync");
        types.Should().NotContainKey("bulk_action", "the engine's own type is not started by callers");
        types["restore"].GetProperty("identityInputs").EnumerateArray().Select(i => i.GetString()).Should().Equal("backup_id");
        types["inventory_sync"].GetProperty("retriesFailedItems").GetBoolean().Should().BeTrue();
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
}

public sealed class ApiReadsTestsOnSqlite() : ApiReadsTests(TestProvider.Sqlite);

public sealed class ApiReadsTestsOnPostgreSql() : ApiReadsTests(TestProvider.PostgreSql);
