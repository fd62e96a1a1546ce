using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OperationsHub.Core.Data;
using OperationsHub.IntegrationTests.Infrastructure;

namespace OperationsHub.IntegrationTests.Drills;

/// <summary>
/// Drill 2d: a bounded, seeded, reproducible fuzz of the pages' query strings and route values and of the API's
/// bodies, as a signed-in operator of one tenant. No answer may be a 5xx, and the database may change only by the runs
/// the API said it accepted (202), all in the caller's own tenant. Set OPSHUB_FUZZ_SEED to replay a failing seed;
/// the seed and the failing request are in the failure message. Runs on both providers: PostgreSQL refuses some
/// strings SQLite stores (a NUL in text), so what is safe on one is not proven safe on the other.
/// </summary>
public abstract class FuzzDrillTests(TestProvider provider) : IAsyncLifetime
{
    private const int RequestsPerSeed = 450;

    /// <summary>Several seeds by default, so each CI run covers more ground than one stream would.</summary>
    private static readonly int[] DefaultSeeds = [20261126, 1, 2, 3];
    private readonly HubAppFactory _app = new(provider);

    private static readonly string[] Tenants = ["alpha", "beta", "ALPHA", "", "nope", "..", "%2e%2e", "alpha%00", "a/b", "😀", new string('t', 300)];

    private static readonly string[] Keys = ["status", "outcome", "type", "q", "page", "size", "sort", "mine", "range", "returnUrl", "x", "status[]", ""];

    private static readonly string[] Words =
    [
        "queued", "running", "completed", "succeeded", "failed", "partially_succeeded", "cancelled", "inventory_sync",
        "restore", "backup", "oldest", "newest", "true", "false", "24h", "7d", "30d", "1h", "all", "0", "1", "-1", "25",
        "100", "2147483648", "99999999999999999999", "1e9", "NaN", "' OR 1=1 --", "\"; DROP TABLE operation_runs; --",
        "<script>alert(1)</script>", "%", "_", "%%", "\\", "\0", "é", "日本", "😀", "  ", ",", ",,,", "#1", "#99999999999",
        "DEV-00001", "finance", "../../etc/passwd", "{{7*7}}", "${jndi:ldap://x}", new string('a', 2000),
    ];

    private Random _random = null!;
    private int _seed;

    public async ValueTask InitializeAsync() => await _app.InitializeWorldAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    public static TheoryData<int> Seeds() =>
        int.TryParse(Environment.GetEnvironmentVariable("OPSHUB_FUZZ_SEED"), CultureInfo.InvariantCulture, out var replay)
            ? new TheoryData<int>(replay)
            : new TheoryData<int>(DefaultSeeds);

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task SeededFuzz_OfPagesRoutesAndApiBodies_NeverAnswers5xx_AndWritesOnlyWhatItAccepted(int seed)
    {
        _seed = seed;
        _random = new Random(_seed);
        // Pages read the test sign-in header; the API reads only the bearer token (of the same person).
        using var client = _app.CreateClientFor(_app.World.AlphaOperator);
        client.DefaultRequestHeaders.Authorization = new("Bearer", _app.ApiTokenFor(_app.World.AlphaOperator));
        // Webhooks are an Owner's: their requests go with the owner's token, so the fuzz reaches their validation.
        using var owner = _app.CreateApiClientFor(_app.World.AlphaOwner);
        var dbFactory = _app.Services.GetRequiredService<IDbContextFactory<HubDbContext>>();
        var before = await SnapshotAsync(dbFactory);
        var accepted = 0;
        var statuses = new Dictionary<int, int>();

        for (var i = 0; i < RequestsPerSeed; i++)
        {
            using var request = (i % 4) switch
            {
                0 => new HttpRequestMessage(HttpMethod.Get, PageWithQuery()),
                1 => new HttpRequestMessage(HttpMethod.Get, RouteValues()),
                2 => ApiStart(),
                _ => ApiOther(),
            };
            var described = $"{request.Method} {request.RequestUri}";
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            var webhooks = request.RequestUri!.OriginalString.Contains("/webhooks", StringComparison.Ordinal);
            using var response = await (webhooks ? owner : client).SendAsync(request, TestContext.Current.CancellationToken);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            status.Should().BeLessThan(500, $"seed {_seed}, request #{i}: {described} {Shorten(body)}");
            if (response.StatusCode == HttpStatusCode.Accepted && !webhooks)
            {
                accepted++;
            }
        }

        var after = await SnapshotAsync(dbFactory);
        after.Runs.Should().Be(before.Runs + accepted, $"seed {_seed}: only accepted starts create runs");
        after.AlphaRuns.Should().Be(before.AlphaRuns + accepted, $"seed {_seed}: every accepted run is in the caller's tenant");
        after.OtherRuns.Should().Be(before.OtherRuns, $"seed {_seed}: no other tenant's data changed");
        after.Memberships.Should().Be(before.Memberships);
        after.Users.Should().Be(before.Users);
        statuses.Keys.Should().Contain([200, 400, 422], "the fuzz reached the pages, the API's body parsing and its validation");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"seed {_seed}: {RequestsPerSeed} requests, {accepted} runs accepted; statuses: "
            + string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{p.Key} x{p.Value}")));
    }

    private string PageWithQuery()
    {
        var path = Pick(["/admin/t/alpha/operations", "/admin/t/alpha", "/admin/t/alpha/operations/1", "/", "/account/login"]);
        var parts = Enumerable.Range(0, _random.Next(0, 6))
            .Select(_ => $"{Escape(Pick(Keys))}={Escape(Value())}");
        return $"{path}?{string.Join('&', parts)}";
    }

    private string RouteValues() => _random.Next(4) switch
    {
        0 => $"/admin/t/{Escape(Pick(Tenants))}/operations",
        1 => $"/admin/t/{Escape(Pick(Tenants))}/operations/{Escape(Value())}",
        2 => $"/admin/t/{Escape(Pick(Tenants))}",
        _ => $"/api/t/{Escape(Pick(Tenants))}/operations/{Escape(Value())}",
    };

    private HttpRequestMessage ApiStart()
    {
        var tenant = _random.Next(4) == 0 ? Escape(Pick(Tenants)) : "alpha";
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/t/{tenant}/operations");
        var body = _random.Next(6) switch
        {
            0 => Value(), // not JSON at all, or a bare JSON scalar
            1 => "{" + new string('[', _random.Next(1, 200)),
            2 => $"{{\"type\": {Json()}, \"identityInputs\": {Json()}, \"inputs\": {Json()}, \"target\": {Json()}}}",
            3 => $"{{\"type\": \"{Pick(["inventory_sync", "restore", "backup", "policy_sync", "directory_sync", "noop", "INVENTORY_SYNC"])}\", "
                 + $"\"identityInputs\": {{\"backup_id\": {JsonString()}}}, \"inputs\": {{\"items\": {JsonString()}, \"{Escape(Value())}\": \"1\"}}, \"target\": {JsonString()}}}",
            4 => $"[{Json()}, {Json()}]",
            _ => $"{{\"type\": \"backup\", \"inputs\": {{{string.Join(',', Enumerable.Range(0, _random.Next(0, 40)).Select(k => $"\"k{k}\": {Json()}"))}}}}}",
        };
        var mediaType = _random.Next(8) == 0 ? "text/plain" : "application/json";
        request.Content = new StringContent(body, Encoding.UTF8, mediaType);
        return request;
    }

    private static readonly string[] HookUrls =
    [
        "https://hooks.example.com/x", "http://127.0.0.1:1/x", "https://169.254.169.254/latest", "http://[::1]:1/", "https://user:pw@example.com/",
        "ftp://example.com/", "https://[fe80::1%25eth0]/", "https://0.0.0.0/", "https://" + new string('a', 3000), "javascript:alert(1)", "",
    ];

    private static readonly string[] ListKeys = ["status", "outcome", "type", "q", "cursor", "limit", "mine", "range", "sort", "x", ""];

    /// <summary>The API beyond starts: the list with any query, one run, the types, cancel, retry, bulk and webhooks with any body.</summary>
    private HttpRequestMessage ApiOther()
    {
        var tenant = _random.Next(4) == 0 ? Escape(Pick(Tenants)) : "alpha";
        var run = _random.Next(3) == 0 ? Escape(Value()) : _random.Next(1, 40).ToString(CultureInfo.InvariantCulture);
        var hook = _random.Next(3) == 0 ? Escape(Value()) : _random.Next(1, 6).ToString(CultureInfo.InvariantCulture);
        string Body() => _random.Next(6) switch
        {
            0 => Value(),
            1 => $"{{\"reason\": {JsonString()}, \"failedItemsOnly\": {Json()}}}",
            2 => $"{{\"action\": {JsonString()}, \"ids\": {Json()}, \"filter\": {JsonString()}, \"expectedCount\": {Json()}}}",
            3 => $"{{\"action\": \"{Pick(["cancel", "retry", "delete"])}\", \"filter\": \"{Escape(Pick(ListKeys))}={Escape(Value())}\", \"expectedCount\": {_random.Next(0, 5)}}}",
            4 => $"{{\"name\": {JsonString()}, \"url\": {(_random.Next(2) == 0 ? JsonString() : System.Text.Json.JsonSerializer.Serialize(Pick(HookUrls)))},"
                + $" \"events\": {(_random.Next(2) == 0 ? Json() : "[\"run.completed\"]")}, \"types\": {Json()}, \"outcomes\": {Json()}}}",
            _ => "{}",
        };
        HttpRequestMessage Post(string path)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path);
            request.Content = new StringContent(Body(), Encoding.UTF8, _random.Next(8) == 0 ? "text/plain" : "application/json");
            return request;
        }

        switch (_random.Next(13))
        {
            case 6:
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/webhooks");
            case 7:
            case 8:
                return Post($"/api/t/{tenant}/webhooks");
            case 9:
                return new HttpRequestMessage(_random.Next(3) == 0 ? HttpMethod.Delete : HttpMethod.Get, $"/api/t/{tenant}/webhooks/{hook}");
            case 10:
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/webhooks/{hook}/deliveries?limit={Escape(_random.Next(2) == 0 ? Value() : _random.Next(-5, 300).ToString(CultureInfo.InvariantCulture))}");
            case 11:
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/webhooks/{hook}/deliveries/{run}");
            case 12:
                return Post($"/api/t/{tenant}/webhooks/{hook}/deliveries/{run}/resend");
            case 0:
                var query = string.Join('&', Enumerable.Range(0, _random.Next(0, 5)).Select(_ => $"{Escape(Pick(ListKeys))}={Escape(Value())}"));
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/operations?{query}");
            case 1:
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/operation-types");
            case 2:
                return Post($"/api/t/{tenant}/operations/{run}/cancel");
            case 3:
                return Post($"/api/t/{tenant}/operations/{run}/retry");
            case 4:
                return Post($"/api/t/{tenant}/operations/bulk");
            default:
                return new HttpRequestMessage(HttpMethod.Get, $"/api/t/{tenant}/operations/{run}");
        }
    }

    private string Json() => _random.Next(8) switch
    {
        0 => "null",
        1 => "true",
        2 => _random.Next(int.MinValue, int.MaxValue).ToString(CultureInfo.InvariantCulture),
        3 => "1e400",
        4 => "{\"a\": [1, {\"b\": null}]}",
        5 => "[]",
        _ => System.Text.Json.JsonSerializer.Serialize(Value()),
    };

    /// <summary>Mostly a JSON string (what the API expects), sometimes anything.</summary>
    private string JsonString() => _random.Next(4) == 0 ? Json() : System.Text.Json.JsonSerializer.Serialize(Value());

    private string Value() => _random.Next(5) switch
    {
        0 => string.Join(',', Enumerable.Range(0, _random.Next(1, 4)).Select(_ => Pick(Words))),
        1 => new string(Enumerable.Range(0, _random.Next(0, 40)).Select(_ => (char)_random.Next(0x20, 0x2FF)).ToArray()),
        _ => Pick(Words),
    };

    private string Pick(string[] choices) => choices[_random.Next(choices.Length)];

    private static string Escape(string value) => Uri.EscapeDataString(value.Replace("\0", "", StringComparison.Ordinal));

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private async Task<Snapshot> SnapshotAsync(IDbContextFactory<HubDbContext> factory)
    {
        await using var db = await factory.CreateDbContextAsync();
        return new Snapshot(
            await db.Runs.CountAsync(),
            await db.Runs.CountAsync(r => r.TenantId == _app.World.AlphaTenantId),
            await db.Runs.CountAsync(r => r.TenantId != _app.World.AlphaTenantId),
            await db.Memberships.CountAsync(),
            await db.Users.CountAsync());
    }

    private sealed record Snapshot(int Runs, int AlphaRuns, int OtherRuns, int Memberships, int Users);
}

public sealed class FuzzDrillTestsOnSqlite() : FuzzDrillTests(TestProvider.Sqlite);

public sealed class FuzzDrillTestsOnPostgreSql() : FuzzDrillTests(TestProvider.PostgreSql);
