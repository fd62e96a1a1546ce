using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests;

/// <summary>The start-surface API: every status code, problem details, dedupe, and tenant/run swapping.</summary>
public abstract class RunsApiTests(TestProvider provider) : IAsyncLifetime
{
    private readonly HubAppFactory _app = new(provider);

    private TestWorld World => _app.World;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Post_NewWork_Is202WithLocation_AndTheSameWorkAgainIs200PointingAtIt()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);
        var body = new { type = "restore", identityInputs = new { backup_id = World.AlphaBackupIds[0] }, target = "Baseline" };

        using var first = await client.PostAsJsonAsync("/api/t/alpha/operations", body, TestContext.Current.CancellationToken);
        using var second = await client.PostAsJsonAsync("/api/t/alpha/operations", body, TestContext.Current.CancellationToken);

        first.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var created = await Json(first);
        var id = created.GetProperty("id").GetInt64();
        first.Headers.Location!.ToString().Should().Be($"/admin/t/alpha/operations/{id}");
        created.GetProperty("status").GetString().Should().Be("Queued");
        created.GetProperty("deduped").GetBoolean().Should().BeFalse();
        created.GetProperty("links").GetProperty("self").GetString().Should().Be($"/api/t/alpha/operations/{id}");

        second.StatusCode.Should().Be(HttpStatusCode.OK);
        var deduped = await Json(second);
        deduped.GetProperty("id").GetInt64().Should().Be(id);
        deduped.GetProperty("deduped").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task Post_DedupedToARunningRun_AnswersOneConsistentMomentOfIt()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOperator);
        var body = new { type = "backup", target = "Nightly" };
        using var first = await client.PostAsJsonAsync("/api/t/alpha/operations", body, TestContext.Current.CancellationToken);
        var id = (await Json(first)).GetProperty("id").GetInt64();
        var startedAt = DateTime.UtcNow.AddSeconds(-30);
        var dbFactory = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<OperationsHub.Core.Data.HubDbContext>>(_app.Services);
        await using (var db = await dbFactory.CreateDbContextAsync(TestContext.Current.CancellationToken))
        {
            // As the worker leaves it: claimed, started, part-way through.
            var run = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleAsync(db.Runs, r => r.Id == id, TestContext.Current.CancellationToken);
            run.Status = OperationsHub.Core.Domain.RunStatus.Running;
            run.StartedAt = startedAt;
            run.TotalCount = 100;
            run.ProcessedCount = 40;
            run.Version++;
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        using var second = await client.PostAsJsonAsync("/api/t/alpha/operations", body, TestContext.Current.CancellationToken);

        second.StatusCode.Should().Be(HttpStatusCode.OK);
        var deduped = await Json(second);
        deduped.GetProperty("id").GetInt64().Should().Be(id);
        deduped.GetProperty("status").GetString().Should().Be("Running");
        deduped.GetProperty("startedAt").GetDateTime().Should().BeCloseTo(startedAt, TimeSpan.FromMilliseconds(1));
        deduped.GetProperty("processed").GetInt32().Should().Be(40);
        deduped.GetProperty("total").GetInt32().Should().Be(100);
    }

    [Fact]
    public async Task Get_Run_ReturnsItsStatus()
    {
        using var client = _app.CreateApiClientFor(World.AlphaReadonly);

        using var response = await client.GetAsync($"/api/t/alpha/operations/{World.AlphaRunId}", TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var run = await Json(response);
        run.GetProperty("id").GetInt64().Should().Be(World.AlphaRunId);
        run.GetProperty("status").GetString().Should().Be("Completed");
        run.GetProperty("outcome").GetString().Should().Be("Succeeded");
    }

    public static TheoryData<string, string, string, HttpStatusCode> AccessTable => new()
    {
        // who, method, path, expected
        { "anonymous", "POST", "/api/t/alpha/operations", HttpStatusCode.Unauthorized },
        { "anonymous", "GET", "/api/t/alpha/operations/{alphaRun}", HttpStatusCode.Unauthorized },
        { "alphaReadonly", "POST", "/api/t/alpha/operations", HttpStatusCode.Forbidden },
        { "alphaOwner", "POST", "/api/t/beta/operations", HttpStatusCode.Forbidden },
        { "alphaOwner", "GET", "/api/t/beta/operations/{betaRun}", HttpStatusCode.Forbidden },
        { "alphaOwner", "GET", "/api/t/alpha/operations/{betaRun}", HttpStatusCode.Forbidden },
        { "betaOwner", "GET", "/api/t/alpha/operations/{alphaRun}", HttpStatusCode.Forbidden },
        // A token of alpha on beta is refused even when its creator is also a member of beta: a token has one tenant.
        { "bothTenants", "GET", "/api/t/beta/operations/{betaRun}", HttpStatusCode.Forbidden },
        // A token whose creator has no role in its tenant has none either: refused as a credential.
        { "outsider", "POST", "/api/t/alpha/operations", HttpStatusCode.Unauthorized },
        { "alphaOwner", "POST", "/api/t/gamma/operations", HttpStatusCode.NotFound },
        { "alphaOwner", "GET", "/api/t/alpha/operations/987654321", HttpStatusCode.NotFound },
        { "alphaOwner", "GET", "/api/t/alpha/operations/abc", HttpStatusCode.NotFound },
        { "alphaOwner", "GET", "/api/t/alpha/operations/-1", HttpStatusCode.NotFound },
        { "betaOwner", "GET", "/api/t/beta/operations/{betaRun}", HttpStatusCode.OK },
    };

    [Theory]
    [MemberData(nameof(AccessTable))]
    public async Task Access_IsCheckedLikeThePages_ButAnswersWithStatusesNeverRedirects(
        string who, string method, string path, HttpStatusCode expected)
    {
        using var client = _app.CreateApiClientFor(User(who));
        var url = path.Replace("{alphaRun}", $"{World.AlphaRunId}", StringComparison.Ordinal)
            .Replace("{betaRun}", $"{World.BetaRunId}", StringComparison.Ordinal);

        using var response = method == "POST"
            ? await client.PostAsJsonAsync(url, new { type = "policy_sync" }, TestContext.Current.CancellationToken)
            : await client.GetAsync(url, TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(expected);
        response.Headers.Location.Should().BeNull("an API never redirects");
        if (expected == HttpStatusCode.Unauthorized)
        {
            response.Headers.WwwAuthenticate.Should().ContainSingle("a 401 says how to authenticate").Which.Scheme.Should().Be("Bearer");
        }

        if (expected is HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized)
        {
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            (await Json(response)).GetProperty("status").GetInt32().Should().Be((int)expected);
        }
    }

    [Theory]
    [InlineData("{\"type\":\"no_such_type\"}", "type")]
    [InlineData("{\"type\":\"\"}", "type")]
    [InlineData("{}", "type")]
    [InlineData("{\"type\":\"restore\"}", "identityInputs")]
    [InlineData("{\"type\":\"backup\",\"inputs\":{\"k0\":null}}", "inputs")] // found by the fuzz drill: was a 500
    [InlineData("{\"type\":\"restore\",\"identityInputs\":{\"backup_id\":\"b1\",\"extra\":null}}", "inputs")]
    public async Task Post_InvalidRequest_IsAValidationProblem(string json, string field)
    {
        using var client = _app.CreateApiClientFor(World.AlphaOwner);

        using var response = await client.PostAsync("/api/t/alpha/operations",
            new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await Json(response)).GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue();
    }

    [Theory]
    [InlineData("{\"type\":")]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"type\": 42}")]
    public async Task Post_MalformedJson_IsA400Problem(string json)
    {
        using var client = _app.CreateApiClientFor(World.AlphaOwner);

        using var response = await client.PostAsync("/api/t/alpha/operations",
            new StringContent(json, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Post_OversizedBody_Is413_AndWrongContentType_Is415()
    {
        using var client = _app.CreateApiClientFor(World.AlphaOwner);
        var huge = "{\"type\":\"policy_sync\",\"target\":\"" + new string('x', 100_000) + "\"}";

        using var tooBig = await client.PostAsync("/api/t/alpha/operations",
            new StringContent(huge, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        using var form = await client.PostAsync("/api/t/alpha/operations",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["type"] = "policy_sync" }), TestContext.Current.CancellationToken);

        tooBig.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        form.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
    }

    private TestUser? User(string who) => who switch
    {
        "anonymous" => null,
        "alphaOwner" => World.AlphaOwner,
        "alphaReadonly" => World.AlphaReadonly,
        "betaOwner" => World.BetaOwner,
        "outsider" => World.Outsider,
        "bothTenants" => World.BothTenants,
        _ => throw new ArgumentOutOfRangeException(nameof(who)),
    };

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;
}

public sealed class RunsApiTestsOnSqlite() : RunsApiTests(TestProvider.Sqlite);

public sealed class RunsApiTestsOnPostgreSql() : RunsApiTests(TestProvider.PostgreSql);
